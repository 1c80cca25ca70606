namespace Ppn.Rig.Scenarios; public class Placeholder { [Fact] public void Builds() { } }

namespace Ppn.Rig.Tests; public class Placeholder { [Fact] public void Builds() { } }

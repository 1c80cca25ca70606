namespace Ppn.Appliance.Tests; public class Placeholder { [Fact] public void Builds() { } }

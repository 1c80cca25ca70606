namespace Ppn.UefiVars.Tests; public class Placeholder { [Fact] public void Builds() { } }

namespace Ppn.Genesis.Tests; public class Placeholder { [Fact] public void Builds() { } }

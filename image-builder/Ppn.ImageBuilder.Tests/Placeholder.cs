namespace Ppn.ImageBuilder.Tests; public class Placeholder { [Fact] public void Builds() { } }

using System.Security.Cryptography;
using Ppn.ImageBuilder.Build;

namespace Ppn.ImageBuilder.Tests;

public sealed class ImageBuilderTests : IDisposable
{
    private static readonly string Kernel = Directory.GetDirectories("/lib/modules").Select(Path.GetFileName).Order(StringComparer.Ordinal).Last()!;
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-image-").FullName;

    public ImageBuilderTests()
    {
        // A stand-in appliance: any dynamically linked executable plus a shared object beside it.
        var appliance = Directory.CreateDirectory(Path.Combine(_dir, "bin")).FullName;
        File.Copy("/bin/true", Path.Combine(appliance, "ppn"));
        File.Copy("/usr/lib/x86_64-linux-gnu/libm.so.6", Path.Combine(appliance, "libsodium.so"));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private ImageInputs Inputs(string outName) => new(Path.Combine(_dir, "bin"), Kernel, Path.Combine(_dir, outName), SourceDateEpoch: 1700000000);

    [Fact]
    public void Two_builds_from_the_same_inputs_are_byte_identical()
    {
        var lines = new List<string>();
        var a = new NodeImageBuilder(lines.Add).Build(Inputs("a"));
        var b = new NodeImageBuilder(_ => { }).Build(Inputs("b"));
        Assert.Equal(a.Outputs, b.Outputs);
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "a", "SHA256SUMS")), File.ReadAllBytes(Path.Combine(_dir, "b", "SHA256SUMS")));
        Assert.Contains(lines, l => l.StartsWith("modules: ", StringComparison.Ordinal));
    }

    [Fact]
    public void The_image_holds_init_the_loader_modules_and_console()
    {
        new NodeImageBuilder(_ => { }).Build(Inputs("img"));
        var extract = Directory.CreateDirectory(Path.Combine(_dir, "x")).FullName;
        var cpio = Path.Combine(_dir, "img.cpio");
        using (var gz = new System.IO.Compression.GZipStream(File.OpenRead(Path.Combine(_dir, "img", "initramfs.cpio.gz")), System.IO.Compression.CompressionMode.Decompress))
        using (var file = File.Create(cpio))
        {
            gz.CopyTo(file);
        }
        var listing = CpioWriterTests.Run("cpio", $"-tv --quiet -F {cpio}", _dir);
        Assert.Contains("init -> usr/lib/ppn/ppn", listing);
        Assert.Contains(" dev/console", listing);
        Assert.Matches(@"crw-------\s+1 root\s+root\s+5,\s+1 .* dev/console", listing);
        Assert.Contains("lib64/ld-linux-x86-64.so.2", listing);
        Assert.Contains($"lib/modules/{Kernel}/kernel/fs/efivarfs/efivarfs.ko", listing);
        Assert.Contains($"lib/modules/{Kernel}/modules.dep", listing);
        Assert.Contains("etc/ppn/image.json", listing);
        var sums = File.ReadAllText(Path.Combine(_dir, "img", "SHA256SUMS"));
        var vmlinuz = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(_dir, "img", "vmlinuz"))));
        Assert.Contains($"{vmlinuz}  vmlinuz", sums);
    }

    [Fact]
    public void Missing_inputs_are_clear_errors()
    {
        var missingAppliance = Assert.Throws<FileNotFoundException>(() => new NodeImageBuilder(_ => { }).Build(Inputs("x") with { ApplianceDir = "/nonexistent" }));
        Assert.Contains("make publish", missingAppliance.Message);
        var missingKernel = Assert.Throws<FileNotFoundException>(() => new NodeImageBuilder(_ => { }).Build(Inputs("x") with { KernelVersion = "0.0-none" }));
        Assert.Contains("vmlinuz-0.0-none", missingKernel.Message);
        var missingModule = Assert.Throws<FileNotFoundException>(() => new NodeImageBuilder(_ => { }).Build(Inputs("x") with { ExtraModules = ["no_such_module"] }));
        Assert.Contains("no_such_module", missingModule.Message);
    }
}

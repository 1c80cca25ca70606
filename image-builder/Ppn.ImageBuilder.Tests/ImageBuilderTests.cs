using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ppn.Formats;
using Ppn.ImageBuilder.Build;
using Ppn.ImageBuilder.Disk;
using Ppn.ImageBuilder.Inspect;
using Ppn.ImageBuilder.Uki;

namespace Ppn.ImageBuilder.Tests;

/// <summary>Two full builds from the same inputs (a stand-in appliance, the host kernel and modules), shared by the tests.</summary>
public sealed class BuiltImages : IDisposable
{
    public static readonly string Kernel = Directory.GetDirectories("/lib/modules").Select(Path.GetFileName).Order(StringComparer.Ordinal).Last()!;
    public const long Epoch = 1700000000;
    public string Root { get; } = Directory.CreateTempSubdirectory("ppn-image-").FullName;
    public List<string> Progress { get; } = [];
    public ImageResult First { get; }
    public ImageResult Second { get; }
    public byte[] Config { get; }

    public BuiltImages()
    {
        // A stand-in appliance: a dynamically linked executable hardened as ppn is (the builder checks), plus a shared object beside it.
        var appliance = Directory.CreateDirectory(Path.Combine(Root, "bin")).FullName;
        ElfHardeningTests.CompileStandIn(Root, "ppn", ElfHardeningTests.Hardened);
        File.Move(Path.Combine(Root, "ppn"), Path.Combine(appliance, "ppn"));
        File.Copy("/usr/lib/x86_64-linux-gnu/libm.so.6", Path.Combine(appliance, "libsodium.so"));
        Assert.True(NodeConfig.TryParse(Encoding.UTF8.GetBytes(SampleConfig), out var config, out var errors), string.Join("\n", errors));
        Config = config.ToJson();
        First = new NodeImageBuilder(Progress.Add).Build(Inputs("a"));
        Second = new NodeImageBuilder(_ => { }).Build(Inputs("b"));
    }

    public const string SampleConfig = """
        { "format": 2,
          "authority": { "beaconSigningKeysEd25519": ["AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="],
                         "noiseStaticKeysX25519": ["ZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGCg4Q="] },
          "scanWindowSeconds": 30, "beaconPeriodSeconds": 5, "commandGroups": [7] }
        """;

    public ImageInputs Inputs(string outName) =>
        new(Path.Combine(Root, "bin"), Kernel, Path.Combine(Root, outName), SourceDateEpoch: Epoch) { NodeConfigJson = Config };

    public string Out(string name, string file = "") => Path.Combine(Root, name, file);

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public sealed class ImageBuilderTests(BuiltImages images) : IClassFixture<BuiltImages>
{
    private static readonly string[] Outputs = ["disk.img", "initramfs.cpio.gz", "initramfs.cpio.zst", "ppn.efi", "vmlinuz", "manifest.json"];

    [Fact]
    public void Two_builds_from_the_same_inputs_give_the_same_sha256_for_every_output()
    {
        Assert.Equal(Outputs, images.First.Outputs.Select(o => o.Name));
        Assert.Equal(images.First.Outputs, images.Second.Outputs);
        foreach (var name in Outputs.Append("SHA256SUMS"))
        {
            Assert.Equal(SHA256.HashData(File.ReadAllBytes(images.Out("a", name))), SHA256.HashData(File.ReadAllBytes(images.Out("b", name))));
        }
    }

    [Fact]
    public void Source_date_epoch_changes_the_timestamped_outputs_and_nothing_else_does()
    {
        var later = new NodeImageBuilder(_ => { }).Build(images.Inputs("later") with { SourceDateEpoch = BuiltImages.Epoch + 86400 });
        var first = images.First.Outputs.ToDictionary(o => o.Name, o => o.Sha256);
        var moved = later.Outputs.ToDictionary(o => o.Name, o => o.Sha256);
        Assert.NotEqual(first["initramfs.cpio.gz"], moved["initramfs.cpio.gz"]); // cpio mtimes
        Assert.NotEqual(first["disk.img"], moved["disk.img"]);                   // FAT entry times
        Assert.Equal(first["vmlinuz"], moved["vmlinuz"]);
    }

    [Fact]
    public void Progress_names_each_long_step_and_reports_sizes()
    {
        foreach (var step in new[] { "initramfs zstd: done in", "unified kernel image: done in", "EFI system partition: done in", "GPT disk image: done in", "disk.img: " })
        {
            Assert.Contains(images.Progress, l => l.StartsWith(step, StringComparison.Ordinal));
        }
        Assert.Contains(images.Progress, l => l.StartsWith("initramfs.cpio.zst: ", StringComparison.Ordinal) && l.Contains("MiB", StringComparison.Ordinal));
        Assert.Contains("appliance: ppn is PIE, full RELRO, non-executable stack, no text relocations", images.Progress);
    }

    [Fact]
    public void Compressed_initramfs_stays_under_16_MiB()
    {
        foreach (var name in new[] { "initramfs.cpio.gz", "initramfs.cpio.zst" })
        {
            Assert.InRange(new FileInfo(images.Out("a", name)).Length, 1, NodeImageBuilder.DefaultInitramfsBudget - 1);
        }
        // The shipped image, when `make image` has built it (make test does, before the tests run).
        var shipped = Path.Combine(Repository.Root, "out", "image");
        foreach (var name in new[] { "initramfs.cpio.gz", "initramfs.cpio.zst" })
        {
            var file = Path.Combine(shipped, name);
            if (File.Exists(file))
            {
                Assert.InRange(new FileInfo(file).Length, 1, 16L * 1024 * 1024 - 1);
            }
        }
    }

    [Fact]
    public void An_initramfs_over_budget_is_refused_naming_the_largest_files()
    {
        var error = Assert.Throws<ImageTooLargeException>(() => new NodeImageBuilder(_ => { }).Build(images.Inputs("tight") with { InitramfsBudget = 100_000 }));
        Assert.Contains("over the", error.Message);
        Assert.Contains(".ko", error.Message);
    }

    [Fact]
    public void The_uki_is_the_stub_plus_osrel_cmdline_linux_and_initrd_as_objdump_sees_it()
    {
        var uki = File.ReadAllBytes(images.Out("a", "ppn.efi"));
        Assert.True(PeFile.TryParse(uki, out var pe, out var error), error);
        var linux = pe!.Sections.Single(s => s.Name == ".linux");
        Assert.Equal(File.ReadAllBytes(images.Out("a", "vmlinuz")), PeFile.SectionData(uki, linux).ToArray());
        Assert.Equal(File.ReadAllBytes(images.Out("a", "initramfs.cpio.zst")), PeFile.SectionData(uki, pe.Sections.Single(s => s.Name == ".initrd")).ToArray());
        Assert.Equal(0u, linux.VirtualAddress % (2 * 1024 * 1024));
        var objdump = CpioWriterTests.Run("objdump", $"-h {images.Out("a", "ppn.efi")}", images.Root);
        Assert.Contains("file format pei-x86-64", objdump);
        foreach (var section in new[] { ".osrel", ".cmdline", ".linux", ".initrd", ".sdmagic" })
        {
            Assert.Contains($" {section} ", objdump);
        }
        // The PE checksum we wrote is the one the format defines (objdump -p recomputes nothing, so check ours against a fresh sum).
        int opt = pe.OptionalHeaderOffset;
        Assert.Equal(BitConverter.ToUInt32(uki, opt + 64), PeFile.Checksum(uki, opt + 64));
    }

    [Fact]
    public void The_disk_has_a_valid_gpt_whose_esp_boots_the_uki_from_the_removable_media_path()
    {
        using var disk = File.OpenRead(images.Out("a", "disk.img"));
        Assert.True(GptDisk.TryRead(disk, out var partitions, out var error), error);
        var esp = Assert.Single(partitions);
        Assert.Equal(GptDisk.EfiSystemPartition, esp.Type);
        Assert.Equal(2048ul, esp.FirstLba);
        var listing = CpioWriterTests.Run("mdir", $"-i {images.Out("a", "disk.img")}@@{esp.Offset} ::/EFI/BOOT", images.Root);
        Assert.Contains("BOOTX64  EFI", listing);
        Assert.Contains("PPN-ESP", listing);
        Assert.Equal(File.ReadAllBytes(images.Out("a", "ppn.efi")), EspImage.ReadBootFile(images.Out("a", "disk.img"), esp.Offset));
    }

    [Fact]
    public void A_corrupted_gpt_header_is_detected()
    {
        var copy = File.ReadAllBytes(images.Out("a", "disk.img"))[..(1024 * 1024)];
        copy[512 + 40] ^= 1; // FirstUsableLBA
        Assert.False(GptDisk.TryRead(new MemoryStream(copy), out _, out var error));
        Assert.Contains("CRC32", error);
    }

    [Fact]
    public void The_manifest_lists_every_file_kernel_modules_config_and_tools()
    {
        using var manifest = JsonDocument.Parse(File.ReadAllBytes(images.Out("a", "manifest.json")));
        var root = manifest.RootElement;
        Assert.Equal(BuiltImages.Kernel, root.GetProperty("kernelVersion").GetString());
        Assert.Equal(BuiltImages.Epoch, root.GetProperty("sourceDateEpoch").GetInt64());
        Assert.Contains(root.GetProperty("modules").EnumerateArray(), m => m.GetString() == "efivarfs");
        Assert.Equal(7, root.GetProperty("nodeConfig").GetProperty("commandGroups")[0].GetInt32());
        foreach (var tool in new[] { "zstd", "mtools", "dosfstools", "systemd-boot-efi", "efiStubSha256", "dotnet-sdk", "dotnet-runtime", "libc6", "linux-image" })
        {
            Assert.NotEqual("unknown", root.GetProperty("tools").GetProperty(tool).GetString());
        }
        var files = root.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("name").GetString()).ToList();
        Assert.Equal(Outputs[..^1], files);
        var sums = File.ReadAllText(images.Out("a", "SHA256SUMS"));
        Assert.Contains($"{Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(images.Out("a", "manifest.json"))))}  manifest.json", sums);
    }

    [Fact]
    public void Inspect_reads_the_node_configuration_back_out_of_the_disk_image()
    {
        var text = string.Join("\n", ImageInspector.Describe(images.Out("a")));
        Assert.Contains("GPT OK", text);
        Assert.Contains("authority beacon signing key (Ed25519): AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=", text);
        Assert.Contains("authority Noise static key (X25519):    ZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGCg4Q=", text);
        Assert.Contains("command groups:    7", text);
        Assert.Contains("kernel command line: console=tty0 console=ttyS0,115200 panic=-1", text);
        Assert.Contains("efivarfs", text);
    }

    [Fact]
    public void Inspect_and_verify_as_json_carry_the_same_facts_for_scripts()
    {
        var stdout = new StringWriter();
        Assert.Equal(0, ImageCli.Run(["inspect", images.Out("a"), "--json"], stdout, new StringWriter()));
        using var doc = JsonDocument.Parse(stdout.ToString());
        var root = doc.RootElement;
        Assert.Equal("disk", root.GetProperty("kind").GetString());
        Assert.Equal("ok", root.GetProperty("gpt").GetString());
        Assert.Equal(2048UL, root.GetProperty("esp").GetProperty("firstLba").GetUInt64());
        Assert.Equal("console=tty0 console=ttyS0,115200 panic=-1", root.GetProperty("kernelCommandLine").GetString()![..42]);
        Assert.Contains(root.GetProperty("modules").EnumerateArray(), m => m.GetString() == "efivarfs");
        var node = root.GetProperty("nodeConfiguration");
        Assert.True(node.GetProperty("valid").GetBoolean());
        Assert.Equal(7, node.GetProperty("document").GetProperty("commandGroups")[0].GetInt32());
        Assert.Equal("ZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGCg4Q=", node.GetProperty("document").GetProperty("authority").GetProperty("noiseStaticKeysX25519")[0].GetString());
        Assert.DoesNotContain("\\u002B", stdout.ToString()); // base64 keys stay greppable

        var verify = new StringWriter();
        Assert.Equal(0, ImageCli.Run(["verify", images.Out("a"), "--json"], verify, new StringWriter()));
        using var report = JsonDocument.Parse(verify.ToString());
        Assert.True(report.RootElement.GetProperty("ok").GetBoolean());
        Assert.Contains(report.RootElement.GetProperty("checks").EnumerateArray(), c => c.GetProperty("detail").GetString()!.Contains("GPT and backup header intact", StringComparison.Ordinal));
    }

    [Fact]
    public void Verify_passes_a_fresh_build_and_names_a_tampered_file()
    {
        Assert.True(ImageVerifier.Verify(images.Out("a"), out var report), string.Join("\n", report));
        var copy = Directory.CreateDirectory(Path.Combine(images.Root, "tampered")).FullName;
        foreach (var f in Directory.GetFiles(images.Out("a")))
        {
            File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        }
        var zst = Path.Combine(copy, "initramfs.cpio.zst");
        var bytes = File.ReadAllBytes(zst);
        bytes[^5] ^= 0x40;
        File.WriteAllBytes(zst, bytes);
        Assert.False(ImageVerifier.Verify(copy, out report));
        Assert.Contains(report, l => l.StartsWith("FAIL initramfs.cpio.zst", StringComparison.Ordinal));
    }

    [Fact]
    public void A_signed_uki_is_reproducible_verifies_with_its_certificate_and_strips_back_to_the_unsigned_bytes()
    {
        var keys = Directory.CreateDirectory(Path.Combine(images.Root, "keys")).FullName;
        CpioWriterTests.Run("openssl", "req -new -x509 -newkey rsa:2048 -nodes -keyout db.key -out db.crt -days 1 -subj /CN=ppn-test-db", keys);
        var signing = new SigningKey(Path.Combine(keys, "db.key"), Path.Combine(keys, "db.crt"));
        new NodeImageBuilder(_ => { }).Build(images.Inputs("signed") with { Signing = signing });
        new NodeImageBuilder(_ => { }).Build(images.Inputs("signed-again") with { Signing = signing });
        var signed = images.Out("signed", "ppn.efi");
        // Signed builds are reproducible too: same inputs, same key, same SOURCE_DATE_EPOCH → same bytes.
        Assert.Equal(File.ReadAllBytes(images.Out("signed", "SHA256SUMS")), File.ReadAllBytes(images.Out("signed-again", "SHA256SUMS")));
        CpioWriterTests.Run("sbverify", $"--cert {Path.Combine(keys, "db.crt")} {signed}", keys);
        Assert.Contains("signature: present", string.Join("\n", ImageInspector.Describe(signed)));
        var stripped = Path.Combine(keys, "stripped.efi");
        File.Copy(signed, stripped);
        CpioWriterTests.Run("sbattach", $"--remove {stripped}", keys);
        // Removing the signature gives back exactly the reproducible unsigned UKI, whose hash the manifest records.
        var unsigned = images.First.Outputs.Single(o => o.Name == "ppn.efi").Sha256;
        Assert.Equal(unsigned, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(stripped))));
        using var manifest = JsonDocument.Parse(File.ReadAllBytes(images.Out("signed", "manifest.json")));
        Assert.True(manifest.RootElement.GetProperty("secureBootSigned").GetBoolean());
        Assert.Equal(unsigned, manifest.RootElement.GetProperty("unsignedUkiSha256").GetString());
        Assert.True(ImageVerifier.Verify(images.Out("signed"), out var report), string.Join("\n", report));
    }

    [Fact]
    public void The_initramfs_holds_init_the_loader_modules_console_and_node_configuration()
    {
        var extract = Path.Combine(images.Root, "img.cpio");
        File.WriteAllBytes(extract, ImageInspector.Decompress(File.ReadAllBytes(images.Out("a", "initramfs.cpio.zst"))));
        var listing = CpioWriterTests.Run("cpio", $"-tv --quiet -F {extract}", images.Root);
        Assert.Contains("init -> usr/lib/ppn/ppn", listing);
        Assert.Matches(@"crw-------\s+1 root\s+root\s+5,\s+1 .* dev/console", listing);
        Assert.Contains("lib64/ld-linux-x86-64.so.2", listing);
        // One copy of the loader; its other name (PT_INTERP vs libc's DT_NEEDED) is a symlink to it.
        var loader = listing.Split('\n').Where(l => l.Contains("ld-linux-x86-64.so.2", StringComparison.Ordinal)).ToList();
        Assert.Single(loader, l => l.StartsWith('-'));
        Assert.Single(loader, l => l.StartsWith('l') && l.Contains("lib64/ld-linux-x86-64.so.2 -> ", StringComparison.Ordinal));
        Assert.Contains($"lib/modules/{BuiltImages.Kernel}/kernel/fs/efivarfs/efivarfs.ko", listing);
        Assert.Contains("etc/ppn/node.json", listing);
        using var gz = new System.IO.Compression.GZipStream(File.OpenRead(images.Out("a", "initramfs.cpio.gz")), System.IO.Compression.CompressionMode.Decompress);
        using var cpio = new MemoryStream();
        gz.CopyTo(cpio);
        Assert.Equal(File.ReadAllBytes(extract), cpio.ToArray()); // gzip and zstd carry the same archive
    }

    [Fact]
    public void Missing_inputs_are_clear_errors()
    {
        var missingAppliance = Assert.Throws<FileNotFoundException>(() => new NodeImageBuilder(_ => { }).Build(images.Inputs("x") with { ApplianceDir = "/nonexistent" }));
        Assert.Contains("make publish", missingAppliance.Message);
        var missingKernel = Assert.Throws<FileNotFoundException>(() => new NodeImageBuilder(_ => { }).Build(images.Inputs("x") with { KernelVersion = "0.0-none" }));
        Assert.Contains("vmlinuz-0.0-none", missingKernel.Message);
        var missingModule = Assert.Throws<FileNotFoundException>(() => new NodeImageBuilder(_ => { }).Build(images.Inputs("x") with { ExtraModules = ["no_such_module"] }));
        Assert.Contains("no_such_module", missingModule.Message);
        var missingStub = Assert.Throws<FileNotFoundException>(() => new NodeImageBuilder(_ => { }).Build(images.Inputs("x") with { StubPath = "/nonexistent.stub" }));
        Assert.Contains("systemd-boot-efi", missingStub.Message);
    }

}

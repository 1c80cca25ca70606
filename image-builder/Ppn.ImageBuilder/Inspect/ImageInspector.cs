using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ppn.Formats;
using Ppn.ImageBuilder.Build;
using Ppn.ImageBuilder.Cpio;
using Ppn.ImageBuilder.Disk;
using Ppn.ImageBuilder.Uki;

namespace Ppn.ImageBuilder.Inspect;

/// <summary>
/// What an image holds, read from the image itself (not from the build inputs): from a GPT disk the ESP's
/// BOOTX64.EFI, from the UKI its sections, from the .initrd the node configuration and modules.
/// </summary>
public static class ImageInspector
{
    /// <summary>File.ReadAllBytes stops at 2 GiB; a real UKI is tens of MiB.</summary>
    private const long MaxUkiBytes = 1L << 30;

    /// <summary>Human-readable lines about <paramref name="path"/> (an output directory, disk.img, or a UKI).</summary>
    public static IReadOnlyList<string> Describe(string path) => Inspect(path).Lines;

    /// <summary>What <paramref name="path"/> holds, as lines for people and as one JSON object for scripts (`inspect --json`).</summary>
    public static ImageReport Inspect(string path)
    {
        var lines = new List<string>();
        var json = new JsonObject { ["image"] = path };
        byte[] uki;
        if (Directory.Exists(path))
        {
            var manifest = Path.Combine(path, Manifest.FileName);
            if (File.Exists(manifest))
            {
                if (!Manifest.TryRead(File.ReadAllBytes(manifest), out var facts, out var error))
                {
                    throw new FormatException($"{manifest}: {error}; rebuild the image with ppn-image build");
                }
                lines.Add($"manifest: {manifest}");
                lines.Add($"  builder: {facts!.Builder}");
                lines.Add($"  kernelVersion: {facts.KernelVersion}");
                lines.Add($"  sourceDateEpoch: {facts.SourceDateEpoch}");
                lines.Add($"  secureBootSigned: {(facts.SecureBootSigned ? "True" : "False")}");
                var summary = new JsonObject
                {
                    ["path"] = manifest,
                    ["builder"] = facts.Builder,
                    ["kernelVersion"] = facts.KernelVersion,
                    ["sourceDateEpoch"] = facts.SourceDateEpoch,
                    ["secureBootSigned"] = facts.SecureBootSigned,
                };
                json["manifest"] = summary;
            }
            var disk = Path.Combine(path, NodeImageBuilder.DiskImage);
            if (!File.Exists(disk))
            {
                throw new FileNotFoundException($"no {NodeImageBuilder.DiskImage} in {path}; build the image with ppn-image build");
            }
            path = disk;
        }
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} does not exist");
        }
        using (var f = File.OpenRead(path))
        {
            if (f.Length < 2)
            {
                throw new FormatException($"{path} is {(f.Length == 0 ? "empty" : "1 byte")}: neither a UKI nor a GPT disk image");
            }
            Span<byte> magic = stackalloc byte[2];
            f.ReadExactly(magic);
            if (magic.SequenceEqual("MZ"u8))
            {
                if (f.Length > MaxUkiBytes)
                {
                    throw new FormatException($"{path} is {NodeImageBuilder.Size(f.Length)}: larger than any UKI this tool builds ({NodeImageBuilder.Size(MaxUkiBytes)})");
                }
                uki = File.ReadAllBytes(path);
                lines.Add($"unified kernel image: {path}");
                json["kind"] = "uki";
                json["bytes"] = f.Length;
            }
            else
            {
                if (!GptDisk.TryRead(f, out var partitions, out var error))
                {
                    throw new FormatException($"{path}: neither a UKI nor a GPT disk image ({error})");
                }
                lines.Add($"disk image: {path} ({NodeImageBuilder.Size(f.Length)}), GPT OK");
                var esp = partitions.FirstOrDefault(p => p.Type == GptDisk.EfiSystemPartition)
                    ?? throw new FormatException($"{path}: no EFI system partition");
                lines.Add($"  ESP: LBA {esp.FirstLba}-{esp.LastLba} ({NodeImageBuilder.Size(esp.Length)}) \"{esp.Name}\"");
                uki = EspImage.ReadBootFile(path, esp.Offset);
                lines.Add($"  \\EFI\\BOOT\\BOOTX64.EFI: {NodeImageBuilder.Size(uki.LongLength)}");
                json["kind"] = "disk";
                json["bytes"] = f.Length;
                json["gpt"] = "ok";
                json["esp"] = new JsonObject
                {
                    ["firstLba"] = esp.FirstLba,
                    ["lastLba"] = esp.LastLba,
                    ["bytes"] = esp.Length,
                    ["name"] = esp.Name,
                    ["bootFileBytes"] = uki.LongLength,
                };
            }
        }
        lines.AddRange(DescribeUki(uki, json));
        return new ImageReport(lines, json);
    }

    public static IReadOnlyList<string> DescribeUki(byte[] uki) => DescribeUki(uki, new JsonObject());

    private static IReadOnlyList<string> DescribeUki(byte[] uki, JsonObject json)
    {
        var lines = new List<string>();
        if (!PeFile.TryParse(uki, out var pe, out var error))
        {
            throw new FormatException($"boot file is not a PE image ({error})");
        }
        lines.Add(pe!.CertificateTableSize > 0 ? $"secure boot signature: present ({pe.CertificateTableSize} bytes; check with sbverify --cert)" : "secure boot signature: none");
        json["secureBootSignatureBytes"] = pe.CertificateTableSize;
        var sections = new JsonArray();
        foreach (var s in pe.Sections.Where(s => s.Name is ".osrel" or ".cmdline" or ".linux" or ".initrd"))
        {
            lines.Add($"section {s.Name,-8} {NodeImageBuilder.Size(s.VirtualSize)} at RVA 0x{s.VirtualAddress:x}");
            sections.Add((JsonNode)new JsonObject { ["name"] = s.Name, ["bytes"] = s.VirtualSize, ["rva"] = s.VirtualAddress });
        }
        json["sections"] = sections;
        if (Section(uki, pe, ".osrel") is { } osrel)
        {
            var pretty = Encoding.UTF8.GetString(osrel).Split('\n').FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal));
            lines.Add($"os-release: {pretty?["PRETTY_NAME=".Length..].Trim('"') ?? "(no PRETTY_NAME)"}");
            json["osRelease"] = pretty?["PRETTY_NAME=".Length..].Trim('"');
        }
        if (Section(uki, pe, ".cmdline") is { } cmdline)
        {
            lines.Add($"kernel command line: {Encoding.ASCII.GetString(cmdline).TrimEnd('\0', '\n')}");
            json["kernelCommandLine"] = Encoding.ASCII.GetString(cmdline).TrimEnd('\0', '\n');
        }
        var initrd = Section(uki, pe, ".initrd") ?? throw new FormatException("the UKI has no .initrd section");
        var cpio = Decompress(initrd);
        if (!CpioReader.TryRead(cpio, out var entries, out var cpioError))
        {
            throw new FormatException($"the UKI's initramfs is not a newc archive ({cpioError})");
        }
        lines.Add($"initramfs: {NodeImageBuilder.Size(initrd.LongLength)} compressed, {NodeImageBuilder.Size(cpio.LongLength)} unpacked, {entries.Count} entries");
        var modules = entries.Where(e => e.Path.EndsWith(".ko", StringComparison.Ordinal)).Select(e => Path.GetFileNameWithoutExtension(e.Path)).ToList();
        lines.Add($"modules ({modules.Count}): {string.Join(' ', modules)}");
        json["initramfs"] = new JsonObject { ["compressedBytes"] = initrd.LongLength, ["unpackedBytes"] = cpio.LongLength, ["entries"] = entries.Count };
        json["modules"] = new JsonArray([.. modules.Select(m => (JsonNode?)m)]);
        var node = entries.FirstOrDefault(e => e.Path == NodeConfig.ImagePath.TrimStart('/'));
        if (node.Data is null)
        {
            lines.Add("node configuration: none (unconfigured image)");
            json["nodeConfiguration"] = null;
        }
        else if (NodeConfig.TryParse(node.Data, out var config, out var errors))
        {
            lines.Add($"node configuration ({NodeConfig.ImagePath}, format {NodeConfig.CurrentFormat}):");
            lines.AddRange(config.Describe().Select(l => "  " + l));
            json["nodeConfiguration"] = new JsonObject { ["valid"] = true, ["document"] = JsonNode.Parse(config.ToJson()) };
        }
        else
        {
            lines.Add($"node configuration ({NodeConfig.ImagePath}) is INVALID:");
            lines.AddRange(errors.Select(e => "  " + e));
            json["nodeConfiguration"] = new JsonObject { ["valid"] = false, ["errors"] = new JsonArray([.. errors.Select(e => (JsonNode?)e.ToString())]) };
        }
        return lines;
    }

    private static byte[]? Section(byte[] image, PeFile pe, string name) =>
        pe.Sections.FirstOrDefault(s => s.Name == name) is { Name: not null } s && s.RawOffset + (long)Math.Min(s.VirtualSize, s.RawSize) <= image.Length
            ? PeFile.SectionData(image, s).ToArray()
            : null;

    public static byte[] Decompress(byte[] data)
    {
        if (data.AsSpan().StartsWith((ReadOnlySpan<byte>)[0x28, 0xB5, 0x2F, 0xFD]))
        {
            return HostTool.Run("zstd", ["-d", "-c", "-q"], stdin: data);
        }
        if (data.AsSpan().StartsWith((ReadOnlySpan<byte>)[0x1F, 0x8B]))
        {
            using var gz = new GZipStream(new MemoryStream(data), CompressionMode.Decompress);
            using var output = new MemoryStream();
            gz.CopyTo(output);
            return output.ToArray();
        }
        return data; // an uncompressed cpio
    }
}

/// <summary>What `ppn-image inspect` found: the lines it prints, and the same as one JSON object (`--json`).</summary>
public sealed record ImageReport(IReadOnlyList<string> Lines, JsonObject Json);

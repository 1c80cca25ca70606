using System.Security.Cryptography;
using Ppn.ImageBuilder.Build;
using Ppn.ImageBuilder.Disk;

namespace Ppn.ImageBuilder.Inspect;

/// <summary>
/// Checks a built image directory against its manifest: every listed file present with its size and sha256,
/// SHA256SUMS agreeing, the disk's GPT intact and its ESP booting exactly the listed ppn.efi.
/// </summary>
public static class ImageVerifier
{
    public static bool Verify(string path, out IReadOnlyList<string> report)
    {
        var lines = new List<string>();
        report = lines;
        var dir = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!;
        var manifestPath = Path.Combine(dir, Manifest.FileName);
        if (!File.Exists(manifestPath))
        {
            lines.Add($"FAIL no {Manifest.FileName} in {dir}: verify needs the build's output directory (or a file in it)");
            return false;
        }
        if (!Manifest.TryRead(File.ReadAllBytes(manifestPath), out var manifest, out var error))
        {
            lines.Add($"FAIL {manifestPath}: {error}");
            return false;
        }
        bool ok = true;
        foreach (var f in manifest!.Files)
        {
            var file = Path.Combine(dir, f.Name);
            if (!File.Exists(file))
            {
                lines.Add($"FAIL {f.Name}: missing");
                ok = false;
                continue;
            }
            var actual = NodeImageBuilder.Describe(file);
            if (actual.Size != f.Size || actual.Sha256 != f.Sha256)
            {
                lines.Add($"FAIL {f.Name}: sha256 {actual.Sha256} ({actual.Size} bytes), manifest says {f.Sha256} ({f.Size} bytes)");
                ok = false;
            }
            else
            {
                lines.Add($"ok   {f.Name} {f.Sha256}");
            }
        }
        var sums = Path.Combine(dir, NodeImageBuilder.Sums);
        if (File.Exists(sums))
        {
            var manifestHash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(manifestPath)));
            var listed = File.ReadAllLines(sums).Select(l => l.Split("  ", 2)).Where(p => p.Length == 2).ToDictionary(p => p[1], p => p[0], StringComparer.Ordinal);
            if (!listed.TryGetValue(Manifest.FileName, out var expected) || expected != manifestHash)
            {
                lines.Add($"FAIL {Manifest.FileName}: its sha256 {manifestHash} is not the one in {NodeImageBuilder.Sums}");
                ok = false;
            }
        }
        var disk = Path.Combine(dir, NodeImageBuilder.DiskImage);
        var uki = Path.Combine(dir, NodeImageBuilder.Uki);
        if (ok && File.Exists(disk) && File.Exists(uki))
        {
            using var stream = File.OpenRead(disk);
            if (!GptDisk.TryRead(stream, out var partitions, out var gptError))
            {
                lines.Add($"FAIL {NodeImageBuilder.DiskImage}: {gptError}");
                return false;
            }
            var esp = partitions.FirstOrDefault(p => p.Type == GptDisk.EfiSystemPartition);
            if (esp is null)
            {
                lines.Add($"FAIL {NodeImageBuilder.DiskImage}: no EFI system partition");
                return false;
            }
            var boot = EspImage.ReadBootFile(disk, esp.Offset);
            if (!boot.AsSpan().SequenceEqual(File.ReadAllBytes(uki)))
            {
                lines.Add($"FAIL {NodeImageBuilder.DiskImage}: \\EFI\\BOOT\\BOOTX64.EFI is not {NodeImageBuilder.Uki}");
                return false;
            }
            lines.Add($"ok   {NodeImageBuilder.DiskImage}: GPT and backup header intact, ESP boots {NodeImageBuilder.Uki}");
        }
        return ok;
    }
}

using System.IO.Compression;
using Ppn.ImageBuilder.Cpio;

namespace Ppn.Rig.Emulation;

/// <summary>
/// Per-scenario files on top of the built image, without rebuilding it: the kernel unpacks an initramfs that is
/// several (compressed) cpio archives one after another, later members replacing earlier ones
/// (Documentation/driver-api/early-userspace/buffer-format.rst). The rig appends one gzip'd archive with, say,
/// /etc/ppn/node.json pinning the rig's own authority keys.
/// </summary>
public static class InitramfsOverlay
{
    /// <param name="files">Absolute guest paths ("/etc/ppn/node.json") and their contents; parent directories are made.</param>
    public static BootSource WithFiles(this BootSource boot, string workDirectory, string name, IReadOnlyDictionary<string, byte[]> files)
    {
        if (boot.Initramfs is null)
        {
            throw new InvalidOperationException("only a kernel + initramfs boot takes an overlay (a disk or UKI boot carries its own initramfs)");
        }
        var entries = new List<CpioEntry>();
        var dirs = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var path in files.Keys)
        {
            var parts = path.TrimStart('/').Split('/');
            for (int i = 1; i < parts.Length; i++) dirs.Add(string.Join('/', parts[..i]));
        }
        entries.AddRange(dirs.Select(d => CpioEntry.Dir(d)));
        entries.AddRange(files.Select(f => CpioEntry.File(f.Key.TrimStart('/'), f.Value, 0x180 /* 0600: may hold a relay key */)));

        var output = Path.Combine(workDirectory, $"{name}.initramfs");
        using (var file = File.Create(output))
        {
            using (var original = File.OpenRead(boot.Initramfs)) original.CopyTo(file);
            using var gzip = new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true);
            CpioWriter.Write(gzip, entries, mtime: 0);
        }
        return boot with { Initramfs = output };
    }
}

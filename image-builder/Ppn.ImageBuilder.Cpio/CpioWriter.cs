using System.Text;

namespace Ppn.ImageBuilder.Cpio;

public enum CpioEntryKind
{
    Directory,
    File,
    Symlink,
    CharDevice,
}

/// <summary>One archive member. Paths are relative ("usr/lib/ppn/ppn"), without a leading slash.</summary>
public sealed record CpioEntry(string Path, CpioEntryKind Kind, uint Mode, byte[]? Data = null, string? LinkTarget = null, uint DevMajor = 0, uint DevMinor = 0)
{
    public static CpioEntry Dir(string path, uint mode = 0x1ED /* 0755 */) => new(path, CpioEntryKind.Directory, mode);
    public static CpioEntry File(string path, byte[] data, uint mode) => new(path, CpioEntryKind.File, mode, data);
    public static CpioEntry Link(string path, string target) => new(path, CpioEntryKind.Symlink, 0x1FF /* 0777 */, LinkTarget: target);
    public static CpioEntry Device(string path, uint major, uint minor, uint mode) => new(path, CpioEntryKind.CharDevice, mode, DevMajor: major, DevMinor: minor);
}

/// <summary>
/// The "newc" (SVR4 without CRC) cpio format the kernel unpacks as initramfs
/// (Documentation/driver-api/early-userspace/buffer-format.rst): a 110-byte ASCII header of "070701" and
/// thirteen 8-digit hex fields, the NUL-terminated name, padding to 4 bytes, the data, padding to 4 bytes;
/// the archive ends with the entry "TRAILER!!!". Deterministic: the caller's order, inode numbers by
/// position, one fixed mtime, uid/gid 0.
/// </summary>
public static class CpioWriter
{
    private const uint S_IFDIR = 0x4000, S_IFREG = 0x8000, S_IFLNK = 0xA000, S_IFCHR = 0x2000;
    public const string Trailer = "TRAILER!!!";

    public static void Write(Stream output, IEnumerable<CpioEntry> entries, uint mtime)
    {
        uint inode = 1;
        foreach (var entry in entries)
        {
            if (entry.Path.StartsWith('/') || entry.Path.Length == 0)
            {
                throw new ArgumentException($"cpio entry path '{entry.Path}' must be relative and non-empty");
            }
            var (type, data) = entry.Kind switch
            {
                CpioEntryKind.Directory => (S_IFDIR, Array.Empty<byte>()),
                CpioEntryKind.File => (S_IFREG, entry.Data ?? []),
                CpioEntryKind.Symlink => (S_IFLNK, Encoding.UTF8.GetBytes(entry.LinkTarget ?? throw new ArgumentException($"symlink {entry.Path} has no target"))),
                CpioEntryKind.CharDevice => (S_IFCHR, Array.Empty<byte>()),
                _ => throw new ArgumentOutOfRangeException(nameof(entries)),
            };
            WriteEntry(output, entry.Path, inode++, type | (entry.Mode & 0xFFF), entry.Kind == CpioEntryKind.Directory ? 2u : 1u, mtime, data, entry.DevMajor, entry.DevMinor);
        }
        WriteEntry(output, Trailer, 0, 0, 1, 0, [], 0, 0);
    }

    private static void WriteEntry(Stream output, string name, uint inode, uint mode, uint nlink, uint mtime, byte[] data, uint rdevMajor, uint rdevMinor)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var header = new StringBuilder(110);
        header.Append("070701");
        foreach (var field in new uint[] { inode, mode, 0, 0, nlink, mtime, (uint)data.Length, 0, 0, rdevMajor, rdevMinor, (uint)nameBytes.Length + 1, 0 })
        {
            header.Append(field.ToString("x8"));
        }
        var headerBytes = Encoding.ASCII.GetBytes(header.ToString());
        output.Write(headerBytes);
        output.Write(nameBytes);
        output.WriteByte(0);
        Pad(output, headerBytes.Length + nameBytes.Length + 1);
        output.Write(data);
        Pad(output, data.Length);
    }

    private static void Pad(Stream output, long length)
    {
        for (long i = length; i % 4 != 0; i++)
        {
            output.WriteByte(0);
        }
    }
}

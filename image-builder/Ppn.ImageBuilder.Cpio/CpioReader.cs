using System.Globalization;
using System.Text;

namespace Ppn.ImageBuilder.Cpio;

/// <summary>Reads a newc cpio archive (the format <see cref="CpioWriter"/> writes) far enough to list it and fetch files.</summary>
public static class CpioReader
{
    /// <summary>Every member's path and data (empty for non-files); stops at the trailer. False on a malformed archive, never throws.</summary>
    public static bool TryRead(ReadOnlySpan<byte> archive, out List<(string Path, uint Mode, byte[] Data)> entries, out string error)
    {
        entries = [];
        int at = 0;
        while (true)
        {
            if (at + 110 > archive.Length || !archive.Slice(at, 6).SequenceEqual("070701"u8))
            {
                error = $"no newc header at offset {at}";
                return false;
            }
            if (!Field(archive, at, 1, out var mode) || !Field(archive, at, 6, out var size) || !Field(archive, at, 11, out var nameSize)
                || nameSize == 0 || at + 110L + nameSize > archive.Length)
            {
                error = $"bad header fields at offset {at}";
                return false;
            }
            var name = Encoding.UTF8.GetString(archive.Slice(at + 110, (int)nameSize - 1));
            long data = Align4(at + 110L + nameSize);
            if (data + size > archive.Length)
            {
                error = $"{name}: data runs past the end of the archive";
                return false;
            }
            if (name == CpioWriter.Trailer)
            {
                error = "";
                return true;
            }
            entries.Add((name, mode, archive.Slice((int)data, (int)size).ToArray()));
            at = (int)Align4(data + size);
        }
    }

    private static bool Field(ReadOnlySpan<byte> archive, int header, int index, out uint value) =>
        uint.TryParse(archive.Slice(header + 6 + index * 8, 8), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);

    private static long Align4(long n) => (n + 3) & ~3L;
}

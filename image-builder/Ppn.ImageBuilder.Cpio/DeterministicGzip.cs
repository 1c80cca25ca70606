using System.IO.Compression;

namespace Ppn.ImageBuilder.Cpio;

/// <summary>
/// gzip (RFC 1952) whose bytes depend only on the input and the deflate implementation, never on the build host or
/// the clock: .NET's GZipStream writes MTIME 0, no name, XFL 2 (SmallestSize) and OS 3 (Unix); CpioWriterTests pins
/// those header bytes and a golden archive, so a runtime that changed them would fail the build, not the image.
/// </summary>
public static class DeterministicGzip
{
    public static byte[] Compress(ReadOnlySpan<byte> data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write(data);
        }
        return output.ToArray();
    }

    /// <summary>CRC-32 as gzip and GPT define it (RFC 1952 §8, UEFI 2.10 §5.3.2: reflected polynomial 0xEDB88320).</summary>
    public static uint Crc32(ReadOnlySpan<byte> data) => System.IO.Hashing.Crc32.HashToUInt32(data);
}

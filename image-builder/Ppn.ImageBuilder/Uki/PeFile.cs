using System.Buffers.Binary;
using System.Text;

namespace Ppn.ImageBuilder.Uki;

/// <summary>One PE/COFF section header (PE format §"Section Table"): name, where it lives in memory and in the file.</summary>
public readonly record struct PeSection(string Name, uint VirtualSize, uint VirtualAddress, uint RawSize, uint RawOffset, uint Characteristics);

/// <summary>
/// The parts of a PE32+ image a UKI needs: the section table and the alignment fields of the optional header.
/// Offsets from the PE format specification (Microsoft, "PE Format": COFF file header, optional header PE32+).
/// </summary>
public sealed class PeFile
{
    public const int SectionHeaderSize = 40;
    private const ushort Pe32Plus = 0x20B;

    public int CoffOffset { get; private init; }
    public int OptionalHeaderOffset => CoffOffset + 20;
    public int SectionTableOffset { get; private init; }
    public uint SectionAlignment { get; private init; }
    public uint FileAlignment { get; private init; }
    public uint SizeOfHeaders { get; private init; }
    public uint SizeOfImage { get; private init; }
    public uint CertificateTableSize { get; private init; }
    public IReadOnlyList<PeSection> Sections { get; private init; } = [];

    public static bool TryParse(ReadOnlySpan<byte> image, out PeFile? pe, out string error)
    {
        pe = null;
        if (image.Length < 0x40 || image[0] != 'M' || image[1] != 'Z')
        {
            error = "no MZ header: not a PE file";
            return false;
        }
        int coff = BinaryPrimitives.ReadInt32LittleEndian(image[0x3C..]) + 4;
        if (coff < 4 || coff + 20 > image.Length || !image.Slice(coff - 4, 4).SequenceEqual("PE\0\0"u8))
        {
            error = "no PE signature at e_lfanew";
            return false;
        }
        int sections = BinaryPrimitives.ReadUInt16LittleEndian(image[(coff + 2)..]);
        int optionalSize = BinaryPrimitives.ReadUInt16LittleEndian(image[(coff + 16)..]);
        int opt = coff + 20;
        if (optionalSize < 112 + 8 * 5 || opt + optionalSize > image.Length || BinaryPrimitives.ReadUInt16LittleEndian(image[opt..]) != Pe32Plus)
        {
            error = "not a PE32+ image (x86-64 EFI stubs are PE32+)";
            return false;
        }
        int table = opt + optionalSize;
        if ((long)table + (long)sections * SectionHeaderSize > image.Length)
        {
            error = "section table runs past the end of the file";
            return false;
        }
        var list = new List<PeSection>(sections);
        for (int i = 0; i < sections; i++)
        {
            var h = image.Slice(table + i * SectionHeaderSize, SectionHeaderSize);
            var name = Encoding.ASCII.GetString(h[..8]).TrimEnd('\0');
            list.Add(new PeSection(name,
                BinaryPrimitives.ReadUInt32LittleEndian(h[8..]), BinaryPrimitives.ReadUInt32LittleEndian(h[12..]),
                BinaryPrimitives.ReadUInt32LittleEndian(h[16..]), BinaryPrimitives.ReadUInt32LittleEndian(h[20..]),
                BinaryPrimitives.ReadUInt32LittleEndian(h[36..])));
        }
        pe = new PeFile
        {
            CoffOffset = coff,
            SectionTableOffset = table,
            SectionAlignment = BinaryPrimitives.ReadUInt32LittleEndian(image[(opt + 32)..]),
            FileAlignment = BinaryPrimitives.ReadUInt32LittleEndian(image[(opt + 36)..]),
            SizeOfImage = BinaryPrimitives.ReadUInt32LittleEndian(image[(opt + 56)..]),
            SizeOfHeaders = BinaryPrimitives.ReadUInt32LittleEndian(image[(opt + 60)..]),
            CertificateTableSize = BinaryPrimitives.ReadUInt32LittleEndian(image[(opt + 112 + 4 * 8 + 4)..]),
            Sections = list,
        };
        error = "";
        return true;
    }

    /// <summary>The bytes of a section as stored (VirtualSize of them: raw data is padded to FileAlignment).</summary>
    public static ReadOnlySpan<byte> SectionData(ReadOnlySpan<byte> image, PeSection s) =>
        image.Slice((int)s.RawOffset, (int)Math.Min(s.VirtualSize, s.RawSize));

    /// <summary>The PE checksum (the algorithm of imagehlp's CheckSumMappedFile): 16-bit one's-complement style sum, skipping the field, plus the length.</summary>
    public static uint Checksum(ReadOnlySpan<byte> image, int checksumOffset)
    {
        ulong sum = 0;
        int i = 0;
        for (; i + 1 < image.Length; i += 2)
        {
            if (i == checksumOffset || i == checksumOffset + 2)
            {
                continue;
            }
            sum += BinaryPrimitives.ReadUInt16LittleEndian(image[i..]);
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        if (i < image.Length)
        {
            sum += image[i];
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (uint)(sum + (ulong)image.Length);
    }
}

using System.Buffers.Binary;
using System.Text;

namespace Ppn.ImageBuilder.Uki;

/// <summary>
/// Builds a Unified Kernel Image: the systemd-boot EFI stub with <c>.osrel .cmdline .linux .initrd</c> sections
/// appended (systemd's "Unified Kernel Image" spec; the stub finds them by name at run time). We write the
/// sections ourselves instead of calling objcopy because objcopy stamps the current time into the COFF header,
/// and a UKI must be bit-for-bit reproducible. The stub's COFF symbol table (trailing debug data) is dropped.
/// </summary>
public static class UkiWriter
{
    public const string DefaultStub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
    private const uint InitializedReadOnlyData = 0x40000040; // IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ

    /// <summary>The kernel is placed on a 2 MiB boundary of the image (its preferred alignment), the others on SectionAlignment.</summary>
    private const uint KernelAlignment = 2 * 1024 * 1024;

    public static byte[] Build(ReadOnlySpan<byte> stub, IReadOnlyList<(string Name, byte[] Data)> sections)
    {
        if (!PeFile.TryParse(stub, out var pe, out var error))
        {
            throw new FormatException($"EFI stub: {error}");
        }
        if (pe!.CertificateTableSize != 0)
        {
            throw new FormatException("the EFI stub is signed; give the unsigned stub (signing happens after the sections are added)");
        }
        foreach (var (name, _) in sections)
        {
            if (Encoding.ASCII.GetByteCount(name) > 8 || pe.Sections.Any(s => s.Name == name))
            {
                throw new ArgumentException($"section {name}: longer than 8 bytes or already in the stub");
            }
        }
        int tableEnd = pe.SectionTableOffset + (pe.Sections.Count + sections.Count) * PeFile.SectionHeaderSize;
        uint firstRaw = pe.Sections.Where(s => s.RawSize > 0).Select(s => s.RawOffset).DefaultIfEmpty(pe.SizeOfHeaders).Min();
        if (tableEnd > firstRaw)
        {
            throw new FormatException($"the EFI stub has no room for {sections.Count} more section headers (headers end at {firstRaw:x})");
        }

        uint rawEnd = pe.Sections.Select(s => s.RawOffset + s.RawSize).DefaultIfEmpty(pe.SizeOfHeaders).Max();
        uint vaEnd = Math.Max(pe.SizeOfImage, pe.Sections.Select(s => s.VirtualAddress + s.VirtualSize).Max());
        var placed = new List<(string Name, byte[] Data, uint Va, uint Raw, uint RawSize)>();
        uint raw = Align(rawEnd, pe.FileAlignment), va = Align(vaEnd, pe.SectionAlignment);
        foreach (var (name, data) in sections)
        {
            if (name == ".linux")
            {
                va = Align(va, KernelAlignment);
            }
            uint rawSize = Align((uint)data.Length, pe.FileAlignment);
            placed.Add((name, data, va, raw, rawSize));
            raw += rawSize;
            va = Align(va + (uint)data.Length, pe.SectionAlignment);
        }

        var image = new byte[raw];
        stub[..(int)rawEnd].CopyTo(image);
        var header = image.AsSpan();
        int coff = pe.CoffOffset, opt = pe.OptionalHeaderOffset;
        BinaryPrimitives.WriteUInt16LittleEndian(header[(coff + 2)..], (ushort)(pe.Sections.Count + sections.Count));
        BinaryPrimitives.WriteUInt32LittleEndian(header[(coff + 8)..], 0);  // PointerToSymbolTable: symbols dropped
        BinaryPrimitives.WriteUInt32LittleEndian(header[(coff + 12)..], 0); // NumberOfSymbols
        uint initialized = BinaryPrimitives.ReadUInt32LittleEndian(header[(opt + 8)..]);
        BinaryPrimitives.WriteUInt32LittleEndian(header[(opt + 8)..], initialized + (uint)placed.Sum(p => p.RawSize));
        BinaryPrimitives.WriteUInt32LittleEndian(header[(opt + 56)..], va); // SizeOfImage
        int entry = pe.SectionTableOffset + pe.Sections.Count * PeFile.SectionHeaderSize;
        foreach (var p in placed)
        {
            var h = header.Slice(entry, PeFile.SectionHeaderSize);
            h.Clear();
            Encoding.ASCII.GetBytes(p.Name, h[..8]);
            BinaryPrimitives.WriteUInt32LittleEndian(h[8..], (uint)p.Data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(h[12..], p.Va);
            BinaryPrimitives.WriteUInt32LittleEndian(h[16..], p.RawSize);
            BinaryPrimitives.WriteUInt32LittleEndian(h[20..], p.Raw);
            BinaryPrimitives.WriteUInt32LittleEndian(h[36..], InitializedReadOnlyData);
            p.Data.CopyTo(image.AsSpan((int)p.Raw));
            entry += PeFile.SectionHeaderSize;
        }
        int checksumOffset = opt + 64;
        BinaryPrimitives.WriteUInt32LittleEndian(header[checksumOffset..], PeFile.Checksum(image, checksumOffset));
        return image;
    }

    /// <summary>The os-release text in .osrel: what boot menus show (systemd-boot reads PRETTY_NAME and VERSION_ID).</summary>
    public static byte[] OsRelease(string version, string kernelVersion) => Encoding.UTF8.GetBytes(
        $"NAME=\"PPN node\"\nID=ppn\nPRETTY_NAME=\"PPN node {version} ({kernelVersion})\"\nVERSION_ID={version}\nBUILD_ID={kernelVersion}\n");

    private static uint Align(uint value, uint alignment) => alignment <= 1 ? value : (value + alignment - 1) / alignment * alignment;
}

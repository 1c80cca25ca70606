using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Ppn.ImageBuilder.Cpio;

namespace Ppn.ImageBuilder.Disk;

/// <summary>A partition as the GPT describes it (UEFI 2.10 §5.3.3), LBAs inclusive.</summary>
public sealed record GptPartition(Guid Type, Guid Unique, ulong FirstLba, ulong LastLba, string Name)
{
    public long Offset => (long)FirstLba * GptDisk.SectorSize;
    public long Length => (long)(LastLba - FirstLba + 1) * GptDisk.SectorSize;
}

/// <summary>
/// A raw GPT disk with one partition (UEFI 2.10 §5: protective MBR in LBA 0, primary header in LBA 1, 128
/// entries of 128 bytes from LBA 2, backup entries and header at the end). GUIDs come from a hash of the
/// content, not from a random source, so the same ESP gives the same disk.
/// </summary>
public static class GptDisk
{
    public const int SectorSize = 512;
    public const int EntryCount = 128, EntrySize = 128;
    public const long AlignmentSectors = 2048; // 1 MiB, what partitioning tools use
    private const int EntrySectors = EntryCount * EntrySize / SectorSize; // 32
    public static readonly Guid EfiSystemPartition = new("C12A7328-F81F-11D2-BA4B-00A0C93EC93B");

    /// <summary>Writes the disk image to <paramref name="output"/>: the partition's bytes at LBA 2048.</summary>
    public static void Write(Stream output, ReadOnlySpan<byte> partition, Guid type, string name)
    {
        if (partition.Length % SectorSize != 0)
        {
            throw new ArgumentException("the partition image is not a whole number of sectors");
        }
        long partSectors = partition.Length / SectorSize;
        long total = AlignmentSectors + partSectors + AlignmentSectors; // tail: backup entries + header, MiB-aligned
        ulong first = (ulong)AlignmentSectors, last = (ulong)(AlignmentSectors + partSectors - 1);
        var seed = SHA256.HashData(partition);
        var diskGuid = DerivedGuid(seed, "disk");
        var partGuid = DerivedGuid(seed, "partition");

        var entries = new byte[EntryCount * EntrySize];
        type.TryWriteBytes(entries.AsSpan(0, 16));
        partGuid.TryWriteBytes(entries.AsSpan(16, 16));
        BinaryPrimitives.WriteUInt64LittleEndian(entries.AsSpan(32), first);
        BinaryPrimitives.WriteUInt64LittleEndian(entries.AsSpan(40), last);
        Encoding.Unicode.GetBytes(name.AsSpan(0, Math.Min(name.Length, 36)), entries.AsSpan(56, 72));
        uint entriesCrc = DeterministicGzip.Crc32(entries);

        var mbr = new byte[SectorSize];
        var pe = mbr.AsSpan(446, 16);
        pe[1] = 0x00; pe[2] = 0x02; pe[3] = 0x00;         // CHS of LBA 1
        pe[4] = 0xEE;                                      // GPT protective
        pe[5] = 0xFF; pe[6] = 0xFF; pe[7] = 0xFF;
        BinaryPrimitives.WriteUInt32LittleEndian(pe[8..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(pe[12..], (uint)Math.Min(total - 1, uint.MaxValue));
        mbr[510] = 0x55; mbr[511] = 0xAA;

        var primary = Header(1, (ulong)total - 1, 2, total, diskGuid, entriesCrc);
        var backup = Header((ulong)total - 1, 1, (ulong)(total - 1 - EntrySectors), total, diskGuid, entriesCrc);

        output.SetLength(0);
        output.Write(mbr);
        output.Write(primary);
        output.Write(entries);
        output.Write(new byte[(AlignmentSectors - 2 - EntrySectors) * SectorSize]);
        output.Write(partition);
        output.Write(new byte[(AlignmentSectors - 1 - EntrySectors) * SectorSize]);
        output.Write(entries);
        output.Write(backup);
    }

    private static byte[] Header(ulong myLba, ulong alternateLba, ulong entriesLba, long total, Guid disk, uint entriesCrc)
    {
        var h = new byte[SectorSize];
        var s = h.AsSpan();
        "EFI PART"u8.CopyTo(s);
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], 0x00010000);
        BinaryPrimitives.WriteUInt32LittleEndian(s[12..], 92);
        BinaryPrimitives.WriteUInt64LittleEndian(s[24..], myLba);
        BinaryPrimitives.WriteUInt64LittleEndian(s[32..], alternateLba);
        BinaryPrimitives.WriteUInt64LittleEndian(s[40..], 2 + EntrySectors);                 // FirstUsableLBA
        BinaryPrimitives.WriteUInt64LittleEndian(s[48..], (ulong)(total - 2 - EntrySectors)); // LastUsableLBA
        disk.TryWriteBytes(s[56..72]);
        BinaryPrimitives.WriteUInt64LittleEndian(s[72..], entriesLba);
        BinaryPrimitives.WriteUInt32LittleEndian(s[80..], EntryCount);
        BinaryPrimitives.WriteUInt32LittleEndian(s[84..], EntrySize);
        BinaryPrimitives.WriteUInt32LittleEndian(s[88..], entriesCrc);
        BinaryPrimitives.WriteUInt32LittleEndian(s[16..], DeterministicGzip.Crc32(s[..92]));
        return h;
    }

    /// <summary>A version-4-shaped GUID from a hash: unique per content, identical across builds of that content.</summary>
    private static Guid DerivedGuid(byte[] seed, string purpose)
    {
        var bytes = SHA256.HashData([.. seed, .. Encoding.ASCII.GetBytes(purpose)]).AsSpan(0, 16).ToArray();
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes);
    }

    /// <summary>
    /// Reads and checks the GPT: protective MBR; primary header (signature, size, CRC32, its own LBA, the entry
    /// array this tool writes, that array's CRC32); the backup header at the primary's AlternateLBA (signature,
    /// CRC32, pointing back at LBA 1) and the backup entry array's CRC32; every used entry inside the usable
    /// LBAs. Every field is hostile input (a crafted AlternateLBA of 2^64-1 with a valid CRC): all arithmetic is
    /// bounded by the disk's length first, so this never throws on a bad disk, only on a failing stream.
    /// </summary>
    public static bool TryRead(Stream disk, out IReadOnlyList<GptPartition> partitions, out string error)
    {
        partitions = [];
        var head = new byte[SectorSize * (2 + EntrySectors)];
        disk.Position = 0;
        if (disk.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) < head.Length)
        {
            error = "too small to hold a GPT";
            return false;
        }
        if (head[510] != 0x55 || head[511] != 0xAA || head[446 + 4] != 0xEE)
        {
            error = "no protective MBR (LBA 0)";
            return false;
        }
        ulong sectors = (ulong)disk.Length / SectorSize;
        var h = head.AsSpan(SectorSize, SectorSize);
        if (!CheckHeader(h, "GPT header in LBA 1", 1, out error))
        {
            return false;
        }
        if (BinaryPrimitives.ReadUInt64LittleEndian(h[72..]) != 2 || BinaryPrimitives.ReadUInt32LittleEndian(h[80..]) != EntryCount
            || BinaryPrimitives.ReadUInt32LittleEndian(h[84..]) != EntrySize)
        {
            error = "GPT entry array is not the 128x128 array at LBA 2 this tool writes";
            return false;
        }
        var entries = head.AsSpan(2 * SectorSize, EntryCount * EntrySize);
        if (DeterministicGzip.Crc32(entries) != BinaryPrimitives.ReadUInt32LittleEndian(h[88..]))
        {
            error = "GPT partition entry array CRC32 mismatch";
            return false;
        }
        ulong firstUsable = BinaryPrimitives.ReadUInt64LittleEndian(h[40..]);
        ulong lastUsable = BinaryPrimitives.ReadUInt64LittleEndian(h[48..]);
        ulong alternate = BinaryPrimitives.ReadUInt64LittleEndian(h[32..]);
        if (alternate <= 1 || alternate >= sectors)
        {
            error = $"the backup GPT header's LBA {alternate} is not on this disk of {sectors} sectors (truncated image?)";
            return false;
        }
        if (firstUsable < 2 + EntrySectors || lastUsable < firstUsable || lastUsable >= alternate)
        {
            error = $"GPT usable LBAs {firstUsable}-{lastUsable} do not fit between the primary and backup structures";
            return false;
        }

        var backup = new byte[SectorSize];
        disk.Position = (long)alternate * SectorSize; // alternate < sectors = Length / 512: no overflow
        if (disk.ReadAtLeast(backup, SectorSize, throwOnEndOfStream: false) < SectorSize)
        {
            error = $"no backup GPT header at LBA {alternate} (truncated image?)";
            return false;
        }
        if (!CheckHeader(backup, $"backup GPT header at LBA {alternate}", alternate, out error))
        {
            return false;
        }
        var b = backup.AsSpan();
        ulong backupEntries = BinaryPrimitives.ReadUInt64LittleEndian(b[72..]);
        if (BinaryPrimitives.ReadUInt64LittleEndian(b[32..]) != 1 || BinaryPrimitives.ReadUInt32LittleEndian(b[80..]) != EntryCount
            || BinaryPrimitives.ReadUInt32LittleEndian(b[84..]) != EntrySize
            || backupEntries <= lastUsable || backupEntries > alternate - EntrySectors)
        {
            error = $"backup GPT header at LBA {alternate} does not point back at LBA 1 with its 128x128 entry array between the partitions and itself";
            return false;
        }
        var backupArray = new byte[EntryCount * EntrySize];
        disk.Position = (long)backupEntries * SectorSize;
        if (disk.ReadAtLeast(backupArray, backupArray.Length, throwOnEndOfStream: false) < backupArray.Length
            || DeterministicGzip.Crc32(backupArray) != BinaryPrimitives.ReadUInt32LittleEndian(b[88..]))
        {
            error = $"backup GPT partition entry array (LBA {backupEntries}) CRC32 mismatch";
            return false;
        }

        var list = new List<GptPartition>();
        for (int i = 0; i < EntryCount; i++)
        {
            var e = entries.Slice(i * EntrySize, EntrySize);
            var type = new Guid(e[..16]);
            if (type == Guid.Empty)
            {
                continue;
            }
            ulong first = BinaryPrimitives.ReadUInt64LittleEndian(e[32..]), last = BinaryPrimitives.ReadUInt64LittleEndian(e[40..]);
            if (first < firstUsable || last < first || last > lastUsable)
            {
                error = $"GPT entry {i + 1} spans LBA {first}-{last}, outside the usable LBAs {firstUsable}-{lastUsable}";
                return false;
            }
            var name = Encoding.Unicode.GetString(e.Slice(56, 72)).TrimEnd('\0');
            list.Add(new GptPartition(type, new Guid(e.Slice(16, 16)), first, last, name));
        }
        partitions = list;
        error = "";
        return true;
    }

    /// <summary>Signature, HeaderSize (92..512, UEFI 2.10 §5.3.2), CRC32 over HeaderSize bytes, and MyLBA.</summary>
    private static bool CheckHeader(ReadOnlySpan<byte> header, string what, ulong myLba, out string error)
    {
        if (!header[..8].SequenceEqual("EFI PART"u8))
        {
            error = $"no signature in the {what}";
            return false;
        }
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        if (size is < 92 or > SectorSize)
        {
            error = $"the {what} has a header size of {size} (92 to {SectorSize})";
            return false;
        }
        var copy = header[..(int)size].ToArray();
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(copy.AsSpan(16));
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(16), 0);
        if (DeterministicGzip.Crc32(copy) != stored)
        {
            error = $"the {what} fails its CRC32";
            return false;
        }
        if (BinaryPrimitives.ReadUInt64LittleEndian(header[24..]) != myLba)
        {
            error = $"the {what} says it is at LBA {BinaryPrimitives.ReadUInt64LittleEndian(header[24..])}";
            return false;
        }
        error = "";
        return true;
    }
}

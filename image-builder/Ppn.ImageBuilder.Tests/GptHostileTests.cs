using System.Buffers.Binary;
using Ppn.ImageBuilder.Cpio;
using Ppn.ImageBuilder.Disk;

namespace Ppn.ImageBuilder.Tests;

/// <summary>Crafted and mutated GPTs: every header field is hostile input; TryRead answers, it never throws.</summary>
public sealed class GptHostileTests
{
    private const int Sector = GptDisk.SectorSize;

    /// <summary>A small valid disk: a 64 KiB partition, primary and backup structures.</summary>
    internal static byte[] SmallDisk()
    {
        using var disk = new MemoryStream();
        GptDisk.Write(disk, new byte[64 * 1024], GptDisk.EfiSystemPartition, "EFI System");
        return disk.ToArray();
    }

    /// <summary>Sets a header field and recomputes the header's CRC, as an attacker who read the spec would.</summary>
    internal static void SetWithValidCrc(byte[] disk, long headerLba, int offset, ulong value)
    {
        var h = disk.AsSpan((int)(headerLba * Sector), Sector);
        BinaryPrimitives.WriteUInt64LittleEndian(h[offset..], value);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], DeterministicGzip.Crc32(h[..92]));
    }

    private static string Refusal(byte[] disk)
    {
        Assert.False(GptDisk.TryRead(new MemoryStream(disk), out _, out var error));
        return error;
    }

    [Fact]
    public void The_small_disk_reads_back()
    {
        Assert.True(GptDisk.TryRead(new MemoryStream(SmallDisk()), out var partitions, out var error), error);
        Assert.Equal(2048UL, Assert.Single(partitions).FirstLba);
    }

    [Theory]
    [InlineData(ulong.MaxValue)]
    [InlineData(ulong.MaxValue / 512)]
    [InlineData(1UL << 55)]
    [InlineData(0UL)]
    [InlineData(1UL)]
    public void An_alternate_lba_off_the_disk_with_a_valid_crc_is_refused_not_thrown(ulong alternate)
    {
        var disk = SmallDisk();
        SetWithValidCrc(disk, 1, 32, alternate);
        Assert.Contains("backup GPT header", Refusal(disk));
    }

    [Fact]
    public void A_backup_header_with_a_bad_crc_is_not_intact()
    {
        var disk = SmallDisk();
        disk[disk.Length - Sector + 60] ^= 0xFF; // inside the backup header's DiskGUID: signature still there
        Assert.Contains("backup GPT header", Refusal(disk));
        Assert.Contains("CRC32", Refusal(disk));
    }

    [Fact]
    public void A_backup_entry_array_with_a_bad_crc_is_not_intact()
    {
        var disk = SmallDisk();
        disk[disk.Length - Sector * 33 + 100] ^= 0x01; // inside the backup entry array (32 sectors before the backup header)
        Assert.Contains("backup GPT partition entry array", Refusal(disk));
    }

    [Theory]
    [InlineData(32, ulong.MaxValue)] // FirstLBA
    [InlineData(40, ulong.MaxValue)] // LastLBA
    [InlineData(40, 1UL)]            // LastLBA before FirstLBA
    public void A_partition_entry_outside_the_usable_lbas_is_refused(int field, ulong value)
    {
        var disk = SmallDisk();
        BinaryPrimitives.WriteUInt64LittleEndian(disk.AsSpan(2 * Sector + field), value);
        uint crc = DeterministicGzip.Crc32(disk.AsSpan(2 * Sector, 128 * 128));
        // Both headers carry the entry array CRC; rewrite both, and the backup array, so only the range is wrong.
        disk.AsSpan(2 * Sector, 128 * 128).CopyTo(disk.AsSpan(disk.Length - 33 * Sector));
        foreach (var lba in new long[] { 1, disk.Length / Sector - 1 })
        {
            var h = disk.AsSpan((int)(lba * Sector), Sector);
            BinaryPrimitives.WriteUInt32LittleEndian(h[88..], crc);
            SetWithValidCrc(disk, lba, 24, BinaryPrimitives.ReadUInt64LittleEndian(h[24..]));
        }
        Assert.Contains("outside the usable LBAs", Refusal(disk));
    }

    [Fact]
    public void A_header_size_beyond_the_sector_is_refused()
    {
        var disk = SmallDisk();
        var h = disk.AsSpan(Sector, Sector);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], uint.MaxValue);
        Assert.Contains("header size", Refusal(disk));
    }

    /// <summary>Fuzz-style: random fields of both headers set to random or extreme values, CRCs made valid.</summary>
    [Fact]
    public void Random_header_fields_with_valid_crcs_never_make_TryRead_throw()
    {
        var pristine = SmallDisk();
        long backupLba = pristine.Length / Sector - 1;
        var random = new Random(16);
        ulong[] extremes = [0, 1, 2, 33, 34, 2047, 2048, ulong.MaxValue, ulong.MaxValue / 512, ulong.MaxValue / 512 + 1, long.MaxValue, (ulong)backupLba, (ulong)backupLba + 1];
        int[] fields = [12, 24, 32, 40, 48, 72, 80, 84];
        var disk = new byte[pristine.Length];
        for (int i = 0; i < 400; i++)
        {
            pristine.CopyTo(disk, 0);
            for (int n = random.Next(1, 4); n > 0; n--)
            {
                long lba = random.Next(2) == 0 ? 1 : backupLba;
                ulong value = random.Next(2) == 0 ? extremes[random.Next(extremes.Length)] : (ulong)random.NextInt64();
                int field = fields[random.Next(fields.Length)];
                if (field is 12 or 80 or 84)
                {
                    // 32-bit fields: keep the neighbour intact
                    var h = disk.AsSpan((int)(lba * Sector), Sector);
                    BinaryPrimitives.WriteUInt32LittleEndian(h[field..], (uint)value);
                    SetWithValidCrc(disk, lba, 24, BinaryPrimitives.ReadUInt64LittleEndian(h[24..]));
                }
                else
                {
                    SetWithValidCrc(disk, lba, field, value);
                }
            }
            var stream = new MemoryStream(disk, writable: false);
            var ok = GptDisk.TryRead(stream, out var partitions, out var error);
            Assert.True(ok || error.Length > 0);
            foreach (var p in partitions)
            {
                Assert.InRange(p.Offset + p.Length, 0, disk.Length); // what inspect hands to mcopy stays on the disk
            }
        }
    }
}

using Ppn.ImageBuilder.Build;

namespace Ppn.ImageBuilder.Disk;

/// <summary>
/// The EFI system partition: FAT32 made by mkfs.vfat with a fixed volume id and label and --invariant (no
/// clock, no random serial), the UKI copied by mtools as \EFI\BOOT\BOOTX64.EFI (the removable-media path
/// firmware boots without any boot entry, UEFI 2.10 §3.5.1). File and directory times are SOURCE_DATE_EPOCH.
/// </summary>
public static class EspImage
{
    public const string BootPath = "::/EFI/BOOT/BOOTX64.EFI";
    public const string VolumeId = "50504e31"; // "PPN1"
    public const string Label = "PPN-ESP";
    private const long MiB = 1024 * 1024;
    private const long MinimumSize = 64 * MiB; // FAT32 needs 65525+ clusters: 32 MiB at 512-byte clusters; room to spare

    public static long SizeFor(long ukiLength) => Math.Max(MinimumSize, (ukiLength * 2 + 8 * MiB + MiB - 1) / MiB * MiB);

    /// <summary>Makes the ESP in <paramref name="workDir"/> and returns its bytes.</summary>
    public static byte[] Build(byte[] uki, string workDir, long sourceDateEpoch)
    {
        Directory.CreateDirectory(workDir);
        var image = Path.Combine(workDir, "esp.img");
        var bootFile = Path.Combine(workDir, "BOOTX64.EFI");
        File.Delete(image);
        using (var f = File.Create(image))
        {
            f.SetLength(SizeFor(uki.Length));
        }
        File.WriteAllBytes(bootFile, uki);
        File.SetLastWriteTimeUtc(bootFile, DateTime.UnixEpoch.AddSeconds(sourceDateEpoch));
        HostTool.Run("mkfs.vfat", ["--invariant", "-F", "32", "-S", "512", "-s", "1", "-i", VolumeId, "-n", Label, image], sourceDateEpoch);
        HostTool.Run("mmd", ["-i", image, "::/EFI", "::/EFI/BOOT"], sourceDateEpoch);
        HostTool.Run("mcopy", ["-i", image, "-m", bootFile, BootPath], sourceDateEpoch);
        var bytes = File.ReadAllBytes(image);
        File.Delete(image);
        File.Delete(bootFile);
        return bytes;
    }

    /// <summary>Copies \EFI\BOOT\BOOTX64.EFI out of a disk image's partition at <paramref name="offset"/>.</summary>
    public static byte[] ReadBootFile(string diskImage, long offset) =>
        HostTool.Run("mcopy", ["-i", $"{diskImage}@@{offset}", BootPath, "-"]);
}

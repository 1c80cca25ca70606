namespace Ppn.Rig.Emulation;

/// <summary>There is no node image where the rig looked; the message says where and how to make one.</summary>
public sealed class NodeImageMissingException(string message)
    : Model.RigInfrastructureException(Model.RigFault.ImageMissing, message);

/// <summary>
/// The node image <c>ppn-image</c> builds: a directory with <c>vmlinuz</c> and <c>initramfs.cpio.gz</c>.
/// Default <c>out/image/</c> under the repo root; <c>PPN_IMAGE_DIR</c> overrides.
/// </summary>
public sealed record NodeImage(string Directory, string Kernel, string Initramfs)
{
    public const string KernelFile = "vmlinuz";
    public const string InitramfsFile = "initramfs.cpio.gz";

    /// <summary>The kernel command line a node boots with: console on the first UART, and a panic ends the VM (-no-reboot).</summary>
    public const string CommandLine = "console=ttyS0 panic=-1";

    public static string DefaultDirectory =>
        Environment.GetEnvironmentVariable("PPN_IMAGE_DIR") is { Length: > 0 } dir
            ? dir
            : Path.Combine(RigEnvironment.RepoRoot, "out", "image");

    /// <summary>The image in <paramref name="directory"/> (or the default); throws <see cref="NodeImageMissingException"/>.</summary>
    public static NodeImage Locate(string? directory = null)
    {
        var dir = Path.GetFullPath(directory ?? DefaultDirectory);
        var kernel = Path.Combine(dir, KernelFile);
        var initramfs = Path.Combine(dir, InitramfsFile);
        if (!File.Exists(kernel) || !File.Exists(initramfs))
        {
            var missing = string.Join(" and ", new[] { kernel, initramfs }.Where(f => !File.Exists(f)).Select(Path.GetFileName));
            throw new NodeImageMissingException($"no node image at {dir} ({missing} missing); run `make image`");
        }
        return new NodeImage(dir, kernel, initramfs);
    }

    public const string DiskImageFile = "disk.img";
    public const string UkiFile = "ppn.efi";

    /// <summary>The GPT disk image of this build (boots with no -kernel); throws <see cref="NodeImageMissingException"/>.</summary>
    public BootSource ToDiskBootSource() => BootSource.FromDiskImage(Require(DiskImageFile));

    /// <summary>The UKI of this build on a FAT disk made in <paramref name="workDirectory"/>; throws <see cref="NodeImageMissingException"/>.</summary>
    public BootSource ToUkiBootSource(string workDirectory) => BootSource.FromUki(Require(UkiFile), workDirectory);

    private string Require(string file)
    {
        var path = Path.Combine(Directory, file);
        return File.Exists(path) ? path : throw new NodeImageMissingException($"no {file} in {Directory}; run `make image` (ppn-image build writes it)");
    }

    public BootSource ToBootSource(string? extraCommandLine = null) =>
        new(Kernel, Initramfs, extraCommandLine is null ? CommandLine : $"{CommandLine} {extraCommandLine}");
}

/// <summary>
/// What the node boots: a kernel QEMU loads directly (fw_cfg -kernel/-initrd; OVMF starts it), or, when
/// <see cref="Disk"/> is set, nothing but firmware and a disk: OVMF finds \EFI\BOOT\BOOTX64.EFI itself.
/// </summary>
public sealed record BootSource(string Kernel, string? Initramfs, string CommandLine)
{
    /// <summary>A raw disk image (GPT + ESP) or a directory presented as a FAT disk (QEMU vvfat); null for -kernel boots.</summary>
    public string? Disk { get; init; }

    /// <summary>Boots a raw disk image as the node's virtio disk; the node's writes go to a throwaway overlay (snapshot=on).</summary>
    public static BootSource FromDiskImage(string diskImage) => new("", null, "") { Disk = Path.GetFullPath(diskImage) };

    /// <summary>
    /// Boots a Unified Kernel Image the way firmware boots removable media: copied to
    /// <paramref name="workDirectory"/>/esp/EFI/BOOT/BOOTX64.EFI, presented as a read-only FAT disk.
    /// </summary>
    public static BootSource FromUki(string uki, string workDirectory)
    {
        var esp = Path.Combine(Path.GetFullPath(workDirectory), "esp");
        var boot = Directory.CreateDirectory(Path.Combine(esp, "EFI", "BOOT")).FullName;
        File.Copy(uki, Path.Combine(boot, "BOOTX64.EFI"), overwrite: true);
        return new("", null, "") { Disk = esp };
    }
}

namespace Ppn.Rig.Emulation;

/// <summary>There is no node image where the rig looked; the message says where and how to make one.</summary>
public sealed class NodeImageMissingException(string message) : Exception(message);

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

    public BootSource ToBootSource(string? extraCommandLine = null) =>
        new(Kernel, Initramfs, extraCommandLine is null ? CommandLine : $"{CommandLine} {extraCommandLine}");
}

/// <summary>What QEMU loads into the node directly (fw_cfg -kernel/-initrd; OVMF starts it).</summary>
public sealed record BootSource(string Kernel, string? Initramfs, string CommandLine);

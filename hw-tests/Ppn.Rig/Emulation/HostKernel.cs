namespace Ppn.Rig.Emulation;

/// <summary>
/// The build host's own kernel (/boot/vmlinuz-*, the newest by name): the stand-in image, the USB guest and the rig's
/// self-tests boot it instead of our image.
/// </summary>
internal static class HostKernel
{
    public const string Missing = "no /boot/vmlinuz-*; install linux-image-amd64 (scripts/install-deps.sh)";

    /// <summary>The newest kernel's path, or null when /boot holds none.</summary>
    public static string? Newest() =>
        Directory.GetFiles("/boot", "vmlinuz-*").OrderBy(f => f, StringComparer.Ordinal).LastOrDefault();

    /// <summary>The kernel's release, as /lib/modules names its modules.</summary>
    public static string Release(string kernel) => Path.GetFileName(kernel)["vmlinuz-".Length..];

    /// <summary>The host kernel with no initramfs: it prints its banner, then panics for lack of a root file system.</summary>
    public static BootSource Boot(string commandLine) =>
        new(Newest() ?? throw new InvalidOperationException(Missing), null, commandLine);
}

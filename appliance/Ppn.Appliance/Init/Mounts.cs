using Ppn.Linux;
using Ppn.Linux.Interop;

namespace Ppn.Appliance.Init;

public sealed record MountSpec(string Source, string Target, string FileSystem, nuint Flags, string? Data = null);

/// <summary>mount(2), behind an interface so the init sequence is testable without privileges.</summary>
public interface IMounter
{
    /// <summary>Mounts; returns false when something is already mounted there (EBUSY), throws otherwise.</summary>
    bool Mount(MountSpec spec);

    bool DirectoryExists(string path);
}

public sealed class SystemMounter : IMounter
{
    public bool Mount(MountSpec spec)
    {
        Directory.CreateDirectory(spec.Target);
        int rc = LibC.mount(spec.Source, spec.Target, spec.FileSystem, spec.Flags, spec.Data);
        if (rc == 0)
        {
            return true;
        }
        int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        if (errno == (int)Errno.EBUSY)
        {
            return false;
        }
        throw new SyscallException("mount", $"{spec.FileSystem} on {spec.Target}", errno, errno switch
        {
            (int)Errno.ENODEV => $"the kernel has no {spec.FileSystem} support (module not loaded?)",
            (int)Errno.EPERM => "mounting needs root (CAP_SYS_ADMIN)",
            _ => null,
        });
    }

    public bool DirectoryExists(string path) => Directory.Exists(path);
}

public static class StandardMounts
{
    private const nuint NoSuidNoDevNoExec = MountFlags.MS_NOSUID | MountFlags.MS_NODEV | MountFlags.MS_NOEXEC;

    /// <summary>What PID 1 mounts before anything else, in order.</summary>
    public static IReadOnlyList<MountSpec> Early { get; } =
    [
        new("proc", "/proc", "proc", NoSuidNoDevNoExec),
        new("sysfs", "/sys", "sysfs", NoSuidNoDevNoExec),
        new("devtmpfs", "/dev", "devtmpfs", MountFlags.MS_NOSUID, "mode=0755"),
        new("tmpfs", "/run", "tmpfs", MountFlags.MS_NOSUID | MountFlags.MS_NODEV, "mode=0755,size=16m"),
        new("tmpfs", "/tmp", "tmpfs", MountFlags.MS_NOSUID | MountFlags.MS_NODEV, "mode=1777,size=16m"),
    ];

    public const string EfivarfsPath = "/sys/firmware/efi/efivars";

    /// <summary>efivarfs needs its module first; only present when the node booted through UEFI.</summary>
    public static MountSpec Efivarfs { get; } = new("efivarfs", EfivarfsPath, "efivarfs", NoSuidNoDevNoExec);
}

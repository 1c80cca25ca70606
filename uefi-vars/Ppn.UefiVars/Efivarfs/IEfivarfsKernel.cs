using Ppn.Linux;

namespace Ppn.UefiVars.Efivarfs;

/// <summary>What statfs says about the store's root.</summary>
public enum MountState
{
    /// <summary>An efivarfs mount (or its emulation).</summary>
    Efivarfs,
    /// <summary>The directory does not exist: no /sys/firmware/efi, i.e. not booted via UEFI, or not mounted.</summary>
    Missing,
    /// <summary>The directory exists but is not efivarfs: the mount is missing (an empty sysfs directory).</summary>
    NotEfivarfs,
}

/// <summary>One directory entry of the store; efivarfs shows an uncommitted variable with Size 0.</summary>
public readonly record struct EfivarfsEntry(string FileName, long Size);

/// <summary>
/// The system calls <see cref="EfivarfsStore"/> makes, one-to-one, so that the same store logic runs over
/// the real kernel (<see cref="LinuxEfivarfsKernel"/>) and over an emulated one in tests. Every failure is
/// a <see cref="SyscallException"/> carrying the errno the kernel would return.
/// </summary>
public interface IEfivarfsKernel
{
    /// <summary>statfs(2) on the root.</summary>
    MountState Probe(string root);

    /// <summary>The root's regular files with their sizes (ENOENT when the root does not exist).</summary>
    IReadOnlyList<EfivarfsEntry> ReadDirectory(string root);

    /// <summary>open(2) with <see cref="OpenFlags"/>; EPERM when opening an immutable inode for writing.</summary>
    IEfivarfsFile Open(string path, int flags, uint mode);

    /// <summary>unlink(2); EPERM while the inode is immutable.</summary>
    void Unlink(string path);
}

/// <summary>An open efivarfs file (a file descriptor).</summary>
public interface IEfivarfsFile : IDisposable
{
    /// <summary>One read(2) at the current position; 0 at end of file.</summary>
    int Read(Span<byte> buffer);

    /// <summary>One write(2) of the whole record (4-byte attributes + data): efivarfs calls SetVariable once per write.</summary>
    void Write(ReadOnlySpan<byte> record);

    /// <summary>ioctl(FS_IOC_GETFLAGS).</summary>
    uint GetFlags();

    /// <summary>ioctl(FS_IOC_SETFLAGS); needs CAP_LINUX_IMMUTABLE.</summary>
    void SetFlags(uint flags);

    /// <summary>fchmod(2); EPERM while the inode is immutable.</summary>
    void Chmod(uint mode);
}

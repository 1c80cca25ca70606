using System.Runtime.InteropServices;

namespace Ppn.Linux.Interop;

/// <summary>Calls PID 1 needs: mounts, module loading, reboot, child reaping, interface flags.</summary>
public static unsafe partial class LibC
{
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mount(string source, string target, string fstype, nuint flags, string? data);

    /// <summary>finit_module(2) has no glibc wrapper in Debian 12's glibc 2.36: call it through syscall(2).</summary>
    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    public static partial long syscall3(long number, long a1, long a2, long a3);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int reboot(int cmd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial void sync();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int waitpid(int pid, int* status, int options);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int dup2(int oldfd, int newfd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setsid();
}

public static class SyscallNumbers
{
    /// <summary>arch/x86/entry/syscalls/syscall_64.tbl</summary>
    public const long FinitModuleX64 = 313;

    /// <summary>include/uapi/asm-generic/unistd.h (arm64)</summary>
    public const long FinitModuleArm64 = 273;

    public static long FinitModule => RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? FinitModuleArm64 : FinitModuleX64;
}

public static class MountFlags
{
    public const nuint MS_RDONLY = 1;
    public const nuint MS_NOSUID = 2;
    public const nuint MS_NODEV = 4;
    public const nuint MS_NOEXEC = 8;
}

/// <summary>reboot(2) commands (linux/reboot.h).</summary>
public static class RebootCommands
{
    public const int LINUX_REBOOT_CMD_RESTART = 0x01234567;
    public const int LINUX_REBOOT_CMD_POWER_OFF = 0x4321FEDC;
    public const int LINUX_REBOOT_CMD_CAD_OFF = 0;
}

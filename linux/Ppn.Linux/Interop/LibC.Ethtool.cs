using System.Runtime.InteropServices;

namespace Ppn.Linux.Interop;

/// <summary>Calls the NIC code needs beyond ioctl: entering a network namespace (tests and the rig run ethtool there).</summary>
public static unsafe partial class LibC
{
    /// <summary>setns(2): moves the calling thread into the namespace <paramref name="fd"/> refers to.</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setns(int fd, int nstype);
}

/// <summary>Namespace types for setns(2) (linux/sched.h).</summary>
public static class NamespaceTypes
{
    public const int CLONE_NEWNET = 0x40000000;
}

using System.Runtime.InteropServices;

namespace Ppn.Linux.Interop;

/// <summary>Network namespace calls (setns(2), if_nametoindex(3)); used by the test rig to act inside a netns.</summary>
public static unsafe partial class LibC
{
    /// <summary>sched.h: the namespace type argument of setns(2) for a network namespace.</summary>
    public const int CLONE_NEWNET = 0x40000000;

    /// <summary>Moves the calling thread into the namespace the fd refers to (e.g. /var/run/netns/NAME).</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setns(int fd, int nstype);

    /// <summary>Interface index in the calling thread's network namespace; 0 (errno set) when absent.</summary>
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint if_nametoindex(string ifname);
}

using System.Runtime.InteropServices;

namespace Ppn.Linux.Interop;

/// <summary>Network namespace calls (setns(2), if_nametoindex(3)); used by the test rig to act inside a netns.</summary>
public static unsafe partial class LibC
{
    /// <summary>Interface index in the calling thread's network namespace; 0 (errno set) when absent.</summary>
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint if_nametoindex(string ifname);
}

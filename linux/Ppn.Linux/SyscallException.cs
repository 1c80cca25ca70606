using System.Runtime.InteropServices;

namespace Ppn.Linux;

/// <summary>
/// A failed system call: which call, on which object, the errno, and (when the caller knows) what to do.
/// Layers above turn the errno into their own typed errors; this is the raw but readable form.
/// </summary>
public class SyscallException : IOException
{
    public SyscallException(string call, string? target, int errno, string? advice = null)
        : base(Format(call, target, errno, advice))
    {
        Call = call;
        Target = target;
        Errno = errno;
        Advice = advice;
        HResult = errno;
    }

    public string Call { get; }
    public string? Target { get; }
    public int Errno { get; }
    public string? Advice { get; }
    public bool Is(Errno errno) => Errno == (int)errno;

    private static string Format(string call, string? target, int errno, string? advice)
    {
        var what = target is null ? call : $"{call}({target})";
        var text = $"{what} failed: {Describe(errno)} ({ErrnoNames.Name(errno)})";
        return advice is null ? text : $"{text}; {advice}";
    }

    /// <summary>strerror text without touching errno state.</summary>
    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    /// <summary>Throws when a libc call returned a negative value, using the errno the call left behind.</summary>
    public static int ThrowIfFailed(int result, string call, string? target = null, string? advice = null)
    {
        if (result < 0)
        {
            throw new SyscallException(call, target, Marshal.GetLastPInvokeError(), advice);
        }
        return result;
    }

    public static long ThrowIfFailed(long result, string call, string? target = null, string? advice = null)
    {
        if (result < 0)
        {
            throw new SyscallException(call, target, Marshal.GetLastPInvokeError(), advice);
        }
        return result;
    }
}

namespace Ppn.Linux;

/// <summary>The errno values this code base reacts to by name (asm-generic/errno-base.h, errno.h).</summary>
public enum Errno
{
    EPERM = 1,
    ENOENT = 2,
    ESRCH = 3,
    EINTR = 4,
    EIO = 5,
    ENXIO = 6,
    E2BIG = 7,
    ENOEXEC = 8,
    EBADF = 9,
    ECHILD = 10,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    ENODEV = 19,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    ENFILE = 23,
    EMFILE = 24,
    ENOTTY = 25,
    EFBIG = 27,
    ENOSPC = 28,
    EROFS = 30,
    EPIPE = 32,
    ERANGE = 34,
    ENOSYS = 38,
    ENODATA = 61,
    ENOPKG = 65,
    EOPNOTSUPP = 95,
    EADDRINUSE = 98,
    EADDRNOTAVAIL = 99,
    ENETDOWN = 100,
    ENETUNREACH = 101,
    ECONNRESET = 104,
    ENOBUFS = 105,
    ETIMEDOUT = 110,
    ECONNREFUSED = 111,
    EHOSTUNREACH = 113,
    EALREADY = 114,
    EKEYREJECTED = 129,
}

public static class ErrnoNames
{
    /// <summary>"ENOSPC" for 28; "errno 4242" for values without a name here.</summary>
    public static string Name(int errno) =>
        Enum.IsDefined(typeof(Errno), errno) ? ((Errno)errno).ToString() : $"errno {errno}";
}

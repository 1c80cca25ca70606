using Ppn.Linux;

namespace Ppn.Nic.Ethtool;

/// <summary>What a failed ethtool request means for the caller.</summary>
public enum EthtoolErrorKind
{
    /// <summary>EOPNOTSUPP: the driver does not implement this request.</summary>
    NotSupported,
    /// <summary>EINVAL / ERANGE: the value is outside what the driver accepts.</summary>
    OutOfRange,
    /// <summary>EPERM / EACCES: setting needs root or CAP_NET_ADMIN.</summary>
    PermissionDenied,
    /// <summary>ENODEV / ENXIO: no interface by that name (in this network namespace).</summary>
    NoSuchInterface,
    /// <summary>EBUSY / EAGAIN: the device is resetting or down; try again later.</summary>
    Busy,
    Other,
}

/// <summary>A failed SIOCETHTOOL request: which ethtool command, which interface, the errno and what it means.</summary>
public sealed class EthtoolException : SyscallException
{
    public EthtoolException(string command, string iface, int errno)
        : base($"ioctl(SIOCETHTOOL, {command})", iface, errno, AdviceFor(Classify(errno), command))
    {
        Command = command;
        Interface = iface;
        Kind = Classify(errno);
    }

    public string Command { get; }
    public string Interface { get; }
    public EthtoolErrorKind Kind { get; }

    public static EthtoolErrorKind Classify(int errno) => (Ppn.Linux.Errno)errno switch
    {
        Ppn.Linux.Errno.EOPNOTSUPP => EthtoolErrorKind.NotSupported,
        Ppn.Linux.Errno.EINVAL or Ppn.Linux.Errno.ERANGE => EthtoolErrorKind.OutOfRange,
        Ppn.Linux.Errno.EPERM or Ppn.Linux.Errno.EACCES => EthtoolErrorKind.PermissionDenied,
        Ppn.Linux.Errno.ENODEV or Ppn.Linux.Errno.ENXIO => EthtoolErrorKind.NoSuchInterface,
        Ppn.Linux.Errno.EBUSY or Ppn.Linux.Errno.EAGAIN => EthtoolErrorKind.Busy,
        _ => EthtoolErrorKind.Other,
    };

    private static string AdviceFor(EthtoolErrorKind kind, string command) => kind switch
    {
        EthtoolErrorKind.NotSupported => $"the driver does not do that ({command})",
        EthtoolErrorKind.OutOfRange => "the value is out of the driver's range; check `ppn nic show` for the advertised maxima",
        EthtoolErrorKind.PermissionDenied => "needs root/CAP_NET_ADMIN",
        EthtoolErrorKind.NoSuchInterface => "no such interface; list them with `ppn nic show`",
        EthtoolErrorKind.Busy => "the device is busy (resetting or down); retry",
        _ => "unexpected driver error",
    };
}

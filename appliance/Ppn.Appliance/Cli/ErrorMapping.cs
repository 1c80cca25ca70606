using Ppn.Linux;
using Ppn.Nic.Ethtool;
using Ppn.UefiVars;

namespace Ppn.Appliance.Cli;

/// <summary>Turns the libraries' typed errors into exit codes; their messages already say what to do.</summary>
public static class ErrorMapping
{
    public static (int Code, string Message) Map(Exception e) => e switch
    {
        VariableStoreException v => (v.Kind switch
        {
            VariableErrorKind.NotFound => ExitCodes.NotFound,
            VariableErrorKind.AlreadyExists => ExitCodes.Conflict,
            VariableErrorKind.NvramFull => ExitCodes.NoSpace,
            VariableErrorKind.InvalidAttributes => ExitCodes.BadInput,
            VariableErrorKind.PermissionDenied => ExitCodes.PermissionDenied,
            VariableErrorKind.Unavailable => ExitCodes.Unavailable,
            VariableErrorKind.Corrupt => ExitCodes.Integrity,
            _ => ExitCodes.Failed,
        }, v.Message),
        // Before the generic syscall cases: EOPNOTSUPP from a driver is "this NIC cannot", not a failed attempt.
        EthtoolException n => (n.Kind switch
        {
            EthtoolErrorKind.NotSupported => ExitCodes.Unavailable,
            EthtoolErrorKind.PermissionDenied => ExitCodes.PermissionDenied,
            EthtoolErrorKind.NoSuchInterface => ExitCodes.NotFound,
            _ => ExitCodes.Failed,
        }, n.Message),
        // A generic netlink family that is not there is kernel support that is missing (no wireguard module),
        // "unavailable" in the table, not a missing object.
        Ppn.Linux.Netlink.NetlinkException n when n.Call == "netlink CTRL_CMD_GETFAMILY" && (n.Is(Errno.ENOENT) || n.Is(Errno.EOPNOTSUPP) || n.Is(Errno.ENOPKG))
            => (ExitCodes.Unavailable, n.Message),
        SyscallException s when s.Is(Errno.EPERM) || s.Is(Errno.EACCES) => (ExitCodes.PermissionDenied, s.Message),
        SyscallException s when s.Is(Errno.ENOENT) || s.Is(Errno.ENODEV) => (ExitCodes.NotFound, s.Message),
        SyscallException s => (ExitCodes.Failed, s.Message),
        FormatException f => (ExitCodes.BadInput, f.Message),
        ArgumentException a => (ExitCodes.BadInput, a.Message),
        // The runtime's own texts are bare resource keys in the trimmed binary (UseSystemResourceKeys): say it ourselves.
        UnauthorizedAccessException => (ExitCodes.PermissionDenied, "permission denied; run as root"),
        FileNotFoundException f => (ExitCodes.NotFound, f.FileName is null ? f.Message : FileErrors.Describe(f, f.FileName)), // FileName null: ours
        DirectoryNotFoundException => (ExitCodes.NotFound, "a directory it needs does not exist"),
        IOException io when io.GetType() == typeof(IOException) && io.HResult < 0 => (ExitCodes.Failed, io.Message), // ours
        IOException io => (ExitCodes.Failed, FileErrors.Describe(io, "a file")),
        _ => (ExitCodes.Internal, $"internal error: {e.GetType().Name}: {e.Message} (a bug; rerun with --verbose and report it)"),
    };
}

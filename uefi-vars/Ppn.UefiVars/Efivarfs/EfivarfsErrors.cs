using Ppn.Linux;

namespace Ppn.UefiVars.Efivarfs;

/// <summary>
/// errno from efivarfs → <see cref="VariableErrorKind"/> with a message that says what failed, on which
/// variable and store, and what to do. efivarfs turns EFI_STATUS into errno in efi_status_to_err()
/// (drivers/firmware/efi/efi.c): OUT_OF_RESOURCES → ENOSPC, INVALID_PARAMETER → EINVAL,
/// WRITE_PROTECTED → EROFS, SECURITY_VIOLATION → EACCES, DEVICE_ERROR → EIO, NOT_FOUND → ENOENT.
/// </summary>
public static class EfivarfsErrors
{
    public static VariableErrorKind KindOf(int errno) => (Errno)errno switch
    {
        Errno.ENOSPC => VariableErrorKind.NvramFull,
        Errno.EINVAL => VariableErrorKind.InvalidAttributes,
        Errno.EPERM or Errno.EACCES or Errno.EROFS => VariableErrorKind.PermissionDenied,
        Errno.ENOENT => VariableErrorKind.NotFound,
        Errno.EEXIST => VariableErrorKind.AlreadyExists,
        Errno.EOPNOTSUPP or Errno.ENOSYS or Errno.ENODEV => VariableErrorKind.Unavailable,
        _ => VariableErrorKind.Io,
    };

    /// <summary>
    /// The exception for a failed system call. <paramref name="action"/> is a gerund phrase ("writing",
    /// "deleting", "clearing the immutable flag of"); <paramref name="attributes"/> is set for writes.
    /// </summary>
    public static VariableStoreException From(
        SyscallException error, string action, VariableName name, string location, VariableAttributes? attributes = null)
    {
        int errno = error.Errno;
        var kind = KindOf(errno);
        var path = Path.Combine(location, name.FileName);
        var what = $"{action} UEFI variable {name.FileName} in {location} failed: {error.Call}: "
                   + $"{SyscallException.Describe(errno)} ({ErrnoNames.Name(errno)})";
        var advice = (Errno)errno switch
        {
            Errno.ENOSPC =>
                "the firmware's NVRAM is full; free NVRAM: delete unused variables (ls " + location + "), then retry",
            Errno.EINVAL =>
                $"the firmware refused the attributes {Describe(attributes)} or the name: from the OS only "
                + "non-volatile variables with NV,BS,RT (0x7) can be written, an existing variable keeps its "
                + "attributes (delete it first to change them), and the value must fit the firmware's maximum variable size",
            Errno.EPERM =>
                $"run as root (needs CAP_SYS_ADMIN and CAP_LINUX_IMMUTABLE); efivarfs marks variables immutable "
                + $"(lsattr {path}; chattr -i clears it), or the firmware write-protects this variable",
            Errno.EACCES =>
                "run as root; the firmware may also refuse with a security violation (an authenticated or locked variable)",
            Errno.EROFS =>
                $"efivarfs is mounted read-only or the variable is write-protected: mount -o remount,rw {location}",
            Errno.ENOENT => "the variable does not exist (any more)",
            Errno.EEXIST => "the variable already exists; replace it instead of creating it",
            Errno.EOPNOTSUPP or Errno.ENOSYS or Errno.ENODEV =>
                "the firmware offers no runtime variable services (kernel booted with efi=noruntime, or firmware without SetVariable at runtime)",
            Errno.EIO =>
                "the firmware reported a device error; retry once, then check the firmware's NVRAM (reset to defaults as last resort)",
            _ => "unexpected error from efivarfs; retry, then report it with this message",
        };
        return new VariableStoreException(kind, $"{what}; {advice}", error);
    }

    /// <summary>The exception when the root is not an efivarfs mount.</summary>
    public static VariableStoreException Unavailable(string location, MountState state, Exception? inner = null)
    {
        var why = state == MountState.Missing
            ? $"{location} does not exist"
            : $"{location} is not an efivarfs mount";
        return new VariableStoreException(
            VariableErrorKind.Unavailable,
            $"no UEFI variable store: {why}; mount -t efivarfs efivarfs {location} "
            + "(load efivarfs.ko first); was the node booted via UEFI (ls /sys/firmware/efi)?",
            inner);
    }

    private static string Describe(VariableAttributes? attributes) =>
        attributes is { } a ? $"{Values.VariableAttributeNames.Format(a)} (0x{(uint)a:x})" : "(none given)";
}

namespace Ppn.UefiVars;

public enum VariableErrorKind
{
    NotFound,
    AlreadyExists,
    /// <summary>ENOSPC: the firmware's NVRAM is full.</summary>
    NvramFull,
    /// <summary>EINVAL: attributes or name the firmware refuses.</summary>
    InvalidAttributes,
    /// <summary>EPERM/EACCES: not root, immutable inode we could not clear, or a read-only mount.</summary>
    PermissionDenied,
    /// <summary>No efivarfs: not booted through UEFI, or the efivarfs module/mount is missing.</summary>
    Unavailable,
    /// <summary>The stored bytes are not a variable (shorter than the 4-byte attribute prefix...).</summary>
    Corrupt,
    /// <summary>EIO and anything else the firmware reports.</summary>
    Io,
    /// <summary>The name cannot be a UEFI variable name in efivarfs (empty, non-ASCII, '/', too long).</summary>
    InvalidName,
    /// <summary>The value cannot be written: an empty value (SetVariable with DataSize 0 deletes).</summary>
    InvalidValue,
}

public sealed class VariableStoreException : IOException
{
    public VariableStoreException(VariableErrorKind kind, string message, Exception? inner = null)
        : base(message, inner) => Kind = kind;

    public VariableErrorKind Kind { get; }
}

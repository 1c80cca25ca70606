namespace Ppn.UefiVars;

/// <summary>How a write treats an existing variable.</summary>
public enum WriteMode
{
    /// <summary>Fails with <see cref="VariableErrorKind.AlreadyExists"/> when the variable exists.</summary>
    Create,
    /// <summary>Creates the variable or replaces its whole value.</summary>
    CreateOrReplace,
    /// <summary>Appends to the value (EFI_VARIABLE_APPEND_WRITE); creates it when absent.</summary>
    Append,
}

/// <summary>A variable's attributes and value. Values holding secrets must be zeroed by the caller.</summary>
public sealed record Variable(VariableName Name, VariableAttributes Attributes, byte[] Data);

/// <summary>
/// UEFI variable storage. The real implementation is efivarfs (<c>/sys/firmware/efi/efivars</c>); the
/// test twin is a temp directory with the same semantics (attribute prefix, immutable inodes, errors).
/// Every failure is a <see cref="VariableStoreException"/> whose <see cref="VariableErrorKind"/> says what
/// happened and whose message says where and what to do.
/// </summary>
public interface IVariableStore
{
    /// <summary>Where the store lives (a mount point or directory), for messages.</summary>
    string Location { get; }

    /// <summary>All variables, sorted by vendor GUID then name.</summary>
    IReadOnlyList<VariableName> List();

    /// <summary>The variable, or null when it does not exist.</summary>
    Variable? TryRead(VariableName name);

    /// <summary>Writes with the given attributes; see <see cref="WriteMode"/>.</summary>
    void Write(VariableName name, VariableAttributes attributes, ReadOnlySpan<byte> data, WriteMode mode);

    /// <summary>
    /// As <see cref="Write(VariableName, VariableAttributes, ReadOnlySpan{byte}, WriteMode)"/>; when
    /// <paramref name="secret"/> the variable's file is readable by root only (mode 0600). Stores without
    /// file permissions (in-memory fakes) have nothing to restrict and ignore the flag.
    /// </summary>
    void Write(VariableName name, VariableAttributes attributes, ReadOnlySpan<byte> data, WriteMode mode, bool secret)
        => Write(name, attributes, data, mode);

    /// <summary>Deletes the variable; <see cref="VariableErrorKind.NotFound"/> when it does not exist.</summary>
    void Delete(VariableName name);
}

using System.Buffers.Binary;
using System.Security.Cryptography;
using Ppn.Linux;

namespace Ppn.UefiVars.Efivarfs;

/// <summary>
/// Inode-level facts about a variable that only a file-backed store has; the self-test uses them when the
/// store offers them.
/// </summary>
public interface IVariableFileInspector
{
    /// <summary>Whether the variable's inode carries FS_IMMUTABLE_FL; null when it does not exist.</summary>
    bool? IsImmutable(VariableName name);

    /// <summary>The variable file's permission bits; null when it does not exist.</summary>
    UnixFileMode? GetFileMode(VariableName name);
}

/// <summary>
/// <see cref="IVariableStore"/> over efivarfs (fs/efivarfs). A file "Name-GUID" holds the 4-byte
/// little-endian attributes followed by the value; each write(2) is one SetVariable call, so a value is
/// stored whole or not at all. efivarfs marks every variable that is not a well-known EFI global one
/// immutable, so rewrites and deletes clear FS_IMMUTABLE_FL first and set it back afterwards, also when
/// the operation fails. See docs/uefi-vars.md.
/// </summary>
public sealed class EfivarfsStore : IVariableStore, IVariableFileInspector
{
    public const string DefaultRoot = "/sys/firmware/efi/efivars";

    /// <summary>Mode for variables holding secrets; efivarfs itself creates every variable 0644 at mount.</summary>
    public const UnixFileMode SecretMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public const UnixFileMode PublicMode = SecretMode | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>Bits efivarfs accepts in the attribute prefix (EFI_VARIABLE_MASK, include/linux/efi.h).</summary>
    public const VariableAttributes KernelAttributeMask = (VariableAttributes)0x7f;

    private const int MaxReadBytes = 4 * 1024 * 1024;

    private readonly IEfivarfsKernel kernel;
    private readonly Action<string>? diagnostics;

    public EfivarfsStore(string root = DefaultRoot, IEfivarfsKernel? kernel = null, Action<string>? diagnostics = null)
    {
        Location = Path.TrimEndingDirectorySeparator(root);
        this.kernel = kernel ?? LinuxEfivarfsKernel.Instance;
        this.diagnostics = diagnostics;
    }

    public string Location { get; }

    /// <summary>Throws <see cref="VariableErrorKind.Unavailable"/> unless the root is an efivarfs mount.</summary>
    public void EnsureAvailable()
    {
        MountState state;
        try
        {
            state = kernel.Probe(Location);
        }
        catch (SyscallException e)
        {
            throw EfivarfsErrors.Unavailable(Location, MountState.Missing, e);
        }
        if (state != MountState.Efivarfs)
        {
            throw EfivarfsErrors.Unavailable(Location, state);
        }
    }

    /// <summary>
    /// Committed variables (uncommitted, zero-length files are left out), sorted by the vendor GUID's text
    /// form then by name, ordinal. Files whose names are not "Name-GUID" are skipped.
    /// </summary>
    public IReadOnlyList<VariableName> List()
    {
        EnsureAvailable();
        IReadOnlyList<EfivarfsEntry> entries;
        try
        {
            entries = kernel.ReadDirectory(Location);
        }
        catch (SyscallException e)
        {
            throw e.Is(Errno.ENOENT)
                ? EfivarfsErrors.Unavailable(Location, MountState.Missing, e)
                : new VariableStoreException(EfivarfsErrors.KindOf(e.Errno), $"listing UEFI variables in {Location} failed: {e.Message}", e);
        }
        var names = new List<VariableName>(entries.Count);
        foreach (var entry in entries)
        {
            if (entry.Size > 0 && VariableName.TryParse(entry.FileName, out var name))
            {
                names.Add(name.Value);
            }
        }
        names.Sort(static (a, b) =>
        {
            int byVendor = string.CompareOrdinal(a.Vendor.ToString("D"), b.Vendor.ToString("D"));
            return byVendor != 0 ? byVendor : string.CompareOrdinal(a.Name, b.Name);
        });
        return names;
    }

    /// <summary>
    /// The variable, or null when it does not exist. A zero-length file is an uncommitted variable
    /// (created, never written: efivarfs returns EOF for it) and reads as null; 1..3 bytes cannot come
    /// from efivarfs and are <see cref="VariableErrorKind.Corrupt"/>.
    /// </summary>
    public Variable? TryRead(VariableName name)
    {
        var path = PathOf(name, requireValidName: false);
        int size = 4096;
        while (true)
        {
            var buffer = new byte[size];
            try
            {
                int n;
                using (var file = OpenOrNull(path, OpenFlags.O_RDONLY, name, "reading"))
                {
                    if (file is null) return null;
                    // One read with room to spare: efivarfs fetches the whole variable on every read(2), so
                    // reading in pieces could mix two versions of a value that changes in between.
                    n = file.Read(buffer);
                }
                if (n == buffer.Length)
                {
                    if (size >= MaxReadBytes)
                    {
                        throw new VariableStoreException(VariableErrorKind.Io,
                            $"UEFI variable {name.FileName} in {Location} is larger than {MaxReadBytes} bytes; refusing to read it");
                    }
                    size *= 4;
                    continue;
                }
                if (n == 0) return null;
                if (n < 4)
                {
                    throw new VariableStoreException(VariableErrorKind.Corrupt,
                        $"UEFI variable {name.FileName} in {Location} holds {n} bytes, fewer than its 4-byte attribute prefix; "
                        + "delete it and write it again");
                }
                var attributes = (VariableAttributes)BinaryPrimitives.ReadUInt32LittleEndian(buffer);
                return new Variable(name, attributes, buffer.AsSpan(4, n - 4).ToArray());
            }
            catch (SyscallException e)
            {
                throw Map(e, "reading", name);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(buffer);
            }
        }
    }

    public void Write(VariableName name, VariableAttributes attributes, ReadOnlySpan<byte> data, WriteMode mode) =>
        Write(name, attributes, data, mode, secret: false);

    /// <summary>
    /// Writes the variable. New variables are created 0600 when <paramref name="secret"/>, else 0644; an
    /// existing variable written as secret is narrowed to 0600 (efivarfs resets every file to 0644 at
    /// mount, so call this or <see cref="RestrictToOwner"/> again after each boot).
    /// </summary>
    public void Write(VariableName name, VariableAttributes attributes, ReadOnlySpan<byte> data, WriteMode mode, bool secret)
    {
        var path = PathOf(name, requireValidName: true);
        ValidateAttributes(name, attributes);
        if (data.IsEmpty)
        {
            if (mode == WriteMode.Append) return; // UEFI 2.10 §8.2: an append of 0 bytes changes nothing.
            throw new VariableStoreException(VariableErrorKind.InvalidValue,
                $"cannot write UEFI variable {name.FileName} in {Location} with an empty value: SetVariable with "
                + "DataSize 0 deletes the variable; use Delete to remove it");
        }
        var wireAttributes = mode == WriteMode.Append ? attributes | VariableAttributes.AppendWrite : attributes;
        var record = new byte[4 + data.Length];
        try
        {
            BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)wireAttributes);
            data.CopyTo(record.AsSpan(4));
            WriteRecord(name, path, record, attributes, mode, secret);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(record);
        }
    }

    public void Delete(VariableName name)
    {
        var path = PathOf(name, requireValidName: false);
        using var file = OpenOrNull(path, OpenFlags.O_RDONLY, name, "deleting");
        bool committed = file is not null && IsCommitted(file, name, "deleting");
        if (file is null || !committed)
        {
            if (file is not null) RemoveUncommitted(file, path, name);
            throw new VariableStoreException(VariableErrorKind.NotFound,
                $"cannot delete UEFI variable {name.FileName} in {Location}: it does not exist");
        }
        uint flags = ClearImmutable(file, name, "deleting");
        try
        {
            kernel.Unlink(path);
        }
        catch (SyscallException e)
        {
            RestoreFlags(file, flags, name);
            throw Map(e, "deleting", name);
        }
    }

    /// <summary>Narrows an existing variable's file to 0600 (efivarfs shows every variable 0644 after mount).</summary>
    public void RestrictToOwner(VariableName name)
    {
        var path = PathOf(name, requireValidName: false);
        using var file = OpenOrNull(path, OpenFlags.O_RDONLY, name, "restricting access to")
            ?? throw new VariableStoreException(VariableErrorKind.NotFound,
                $"cannot restrict access to UEFI variable {name.FileName} in {Location}: it does not exist");
        uint flags = ClearImmutable(file, name, "restricting access to");
        try
        {
            file.Chmod((uint)SecretMode);
        }
        catch (SyscallException e)
        {
            throw Map(e, "restricting access to", name);
        }
        finally
        {
            RestoreFlags(file, flags, name);
        }
    }

    public bool? IsImmutable(VariableName name)
    {
        using var file = OpenOrNull(PathOf(name, requireValidName: false), OpenFlags.O_RDONLY, name, "inspecting");
        if (file is null) return null;
        try
        {
            return (file.GetFlags() & InodeFlags.FS_IMMUTABLE_FL) != 0;
        }
        catch (SyscallException e)
        {
            throw Map(e, "inspecting", name);
        }
    }

    public UnixFileMode? GetFileMode(VariableName name)
    {
        var path = PathOf(name, requireValidName: false);
        if (OperatingSystem.IsWindows()) return null;
        try
        {
            return File.Exists(path) ? File.GetUnixFileMode(path) & (UnixFileMode)0x1ff : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private void WriteRecord(VariableName name, string path, byte[] record, VariableAttributes attributes, WriteMode mode, bool secret)
    {
        // Two rounds: a variable can appear between our existence check and O_CREAT|O_EXCL (another writer).
        for (int round = 0; ; round++)
        {
            using var existing = OpenOrNull(path, OpenFlags.O_RDONLY, name, "writing", attributes);
            if (existing is null)
            {
                IEfivarfsFile created;
                try
                {
                    created = kernel.Open(path, OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_EXCL,
                        (uint)(secret ? SecretMode : PublicMode));
                }
                catch (SyscallException e) when (e.Is(Errno.EEXIST) && round == 0)
                {
                    continue;
                }
                catch (SyscallException e)
                {
                    throw Map(e, "creating", name, attributes);
                }
                using (created)
                {
                    WriteNew(created, path, record, name, attributes);
                }
                return;
            }
            if (mode == WriteMode.Create && IsCommitted(existing, name, "creating"))
            {
                throw new VariableStoreException(VariableErrorKind.AlreadyExists,
                    $"cannot create UEFI variable {name.FileName} in {Location}: it already exists; "
                    + "write it with CreateOrReplace to replace its value, or delete it first");
            }
            Rewrite(existing, path, record, name, attributes, secret);
            return;
        }
    }

    private void WriteNew(IEfivarfsFile created, string path, byte[] record, VariableName name, VariableAttributes attributes)
    {
        try
        {
            created.Write(record);
        }
        catch (SyscallException e)
        {
            // The failed SetVariable stored nothing, but efivarfs keeps the empty (uncommitted) file until
            // unmount on kernels before 6.13; remove it so the name is free again.
            RemoveUncommitted(created, path, name);
            throw Map(e, "creating", name, attributes);
        }
    }

    private void Rewrite(IEfivarfsFile existing, string path, byte[] record, VariableName name, VariableAttributes attributes, bool secret)
    {
        uint flags = ClearImmutable(existing, name, "writing");
        try
        {
            using (var writer = kernel.Open(path, OpenFlags.O_WRONLY, 0))
            {
                writer.Write(record);
            }
            if (secret)
            {
                existing.Chmod((uint)SecretMode);
            }
        }
        catch (SyscallException e)
        {
            throw Map(e, "writing", name, attributes);
        }
        finally
        {
            RestoreFlags(existing, flags, name);
        }
    }

    /// <summary>Clears FS_IMMUTABLE_FL; returns the flags to restore (0 when nothing was cleared).</summary>
    private uint ClearImmutable(IEfivarfsFile file, VariableName name, string action)
    {
        uint flags;
        try
        {
            flags = file.GetFlags();
        }
        catch (SyscallException e) when (e.Is(Errno.ENOTTY) || e.Is(Errno.EOPNOTSUPP))
        {
            return 0; // A file system without inode flags cannot be immutable.
        }
        catch (SyscallException e)
        {
            throw Map(e, "reading the inode flags of", name);
        }
        if ((flags & InodeFlags.FS_IMMUTABLE_FL) == 0) return 0;
        try
        {
            file.SetFlags(flags & ~InodeFlags.FS_IMMUTABLE_FL);
        }
        catch (SyscallException e)
        {
            throw Map(e, $"clearing the immutable flag before {action}", name);
        }
        return flags;
    }

    private void RestoreFlags(IEfivarfsFile file, uint flags, VariableName name)
    {
        if ((flags & InodeFlags.FS_IMMUTABLE_FL) == 0) return;
        try
        {
            file.SetFlags(flags);
        }
        catch (SyscallException e)
        {
            // The value is already stored (or the operation already failed with its own error); a flag we
            // could not put back is a lost safety net, not lost data, so report it without failing.
            diagnostics?.Invoke($"could not set the immutable flag of {name.FileName} in {Location} back: {e.Message}");
        }
    }

    private void RemoveUncommitted(IEfivarfsFile file, string path, VariableName name)
    {
        try
        {
            uint flags = file.GetFlags();
            if ((flags & InodeFlags.FS_IMMUTABLE_FL) != 0)
            {
                file.SetFlags(flags & ~InodeFlags.FS_IMMUTABLE_FL);
            }
            kernel.Unlink(path);
        }
        catch (SyscallException e)
        {
            diagnostics?.Invoke($"could not remove the uncommitted file of {name.FileName} in {Location}: {e.Message}");
        }
    }

    private bool IsCommitted(IEfivarfsFile file, VariableName name, string action)
    {
        Span<byte> prefix = stackalloc byte[4];
        try
        {
            return file.Read(prefix) > 0;
        }
        catch (SyscallException e)
        {
            throw Map(e, action, name);
        }
    }

    private IEfivarfsFile? OpenOrNull(string path, int flags, VariableName name, string action, VariableAttributes? attributes = null)
    {
        try
        {
            return kernel.Open(path, flags, 0);
        }
        catch (SyscallException e) when (e.Is(Errno.ENOENT))
        {
            EnsureAvailable();
            return null;
        }
        catch (SyscallException e)
        {
            throw Map(e, action, name, attributes);
        }
    }

    private VariableStoreException Map(SyscallException e, string action, VariableName name, VariableAttributes? attributes = null)
    {
        if (e.Is(Errno.ENOENT) || e.Is(Errno.EACCES))
        {
            // ENOENT/EACCES on a missing mount (an empty sysfs directory) is not about this variable.
            MountState state;
            try
            {
                state = kernel.Probe(Location);
            }
            catch (SyscallException)
            {
                state = MountState.Missing;
            }
            if (state != MountState.Efivarfs) return EfivarfsErrors.Unavailable(Location, state, e);
        }
        return EfivarfsErrors.From(e, action, name, Location, attributes);
    }

    private string PathOf(VariableName name, bool requireValidName)
    {
        // Reads and deletes accept any name a listing returned; writes only names efivarfs stores faithfully.
        if (!VariableName.IsValidName(name.Name, out var reason)
            && (requireValidName || string.IsNullOrEmpty(name.Name) || name.Name.Contains('/') || name.Name.Contains('\0')))
        {
            throw new VariableStoreException(VariableErrorKind.InvalidName,
                $"UEFI variable name '{name.Name}' is not valid for {Location}: {reason}");
        }
        return Path.Combine(Location, name.FileName);
    }

    private void ValidateAttributes(VariableName name, VariableAttributes attributes)
    {
        if ((attributes & VariableAttributes.AppendWrite) != 0)
        {
            throw new VariableStoreException(VariableErrorKind.InvalidAttributes,
                $"cannot write UEFI variable {name.FileName} in {Location}: pass WriteMode.Append instead of the AppendWrite attribute");
        }
        if ((attributes & ~KernelAttributeMask) != 0)
        {
            throw new VariableStoreException(VariableErrorKind.InvalidAttributes,
                $"cannot write UEFI variable {name.FileName} in {Location}: attributes 0x{(uint)attributes:x} have bits "
                + $"outside EFI_VARIABLE_MASK (0x{(uint)KernelAttributeMask:x}); efivarfs refuses them");
        }
    }
}

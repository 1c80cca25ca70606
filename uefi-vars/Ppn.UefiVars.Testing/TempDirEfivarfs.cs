using Ppn.Linux;
using Ppn.UefiVars.Efivarfs;

namespace Ppn.UefiVars.Testing;

/// <summary>
/// The efivarfs test twin: the production <see cref="EfivarfsStore"/> code path running over an
/// <see cref="EmulatedEfivarfsKernel"/> in a fresh temp directory. Same file format (attribute prefix),
/// same immutable inodes, same errno → <see cref="VariableErrorKind"/> mapping as on a node; plus what a
/// test needs: an NVRAM size, <see cref="Reboot"/>, and fault injection for crash/rollback tests.
/// <code>
/// using var nvram = new TempDirEfivarfs(capacityBytes: 4096);
/// nvram.FailWrite(2, Errno.EIO);      // the second write(2) from now fails, nothing is stored
/// nvram.Reboot();                      // variables are immutable again, uncommitted files gone
/// </code>
/// </summary>
public sealed class TempDirEfivarfs : IVariableStore, IVariableFileInspector, IDisposable
{
    private readonly string directory;

    public TempDirEfivarfs(long capacityBytes = EmulatedEfivarfsKernel.DefaultCapacityBytes, Action<string>? diagnostics = null)
    {
        directory = Directory.CreateTempSubdirectory("ppn-efivarfs-").FullName;
        Root = Path.Combine(directory, "efivars");
        Directory.CreateDirectory(Root);
        Kernel = new EmulatedEfivarfsKernel(Root) { CapacityBytes = capacityBytes };
        Store = new EfivarfsStore(Root, Kernel, diagnostics);
    }

    /// <summary>The emulated mount point; its files are real and hold attributes + value.</summary>
    public string Root { get; }

    public EmulatedEfivarfsKernel Kernel { get; }

    /// <summary>The production store over the emulated kernel.</summary>
    public EfivarfsStore Store { get; }

    public string Location => Store.Location;

    public long CapacityBytes
    {
        get => Kernel.CapacityBytes;
        set => Kernel.CapacityBytes = value;
    }

    public long UsedBytes => Kernel.UsedBytes;

    /// <summary>Another store instance over the same NVRAM, as a second process (or the next boot) would open it.</summary>
    public EfivarfsStore OpenStore(Action<string>? diagnostics = null) => new(Root, Kernel, diagnostics);

    /// <summary>A reboot and fresh efivarfs mount: variables immutable and 0644 again, uncommitted files gone.</summary>
    public void Reboot() => Kernel.Mount();

    /// <summary>The <paramref name="nth"/> write(2) from now (1 = the next) fails with <paramref name="errno"/> and stores nothing.</summary>
    public void FailWrite(int nth, Errno errno) => Kernel.InjectFault(EfivarfsOperation.Write, nth, errno);

    public void InjectFault(EfivarfsOperation operation, int nth, Errno errno) => Kernel.InjectFault(operation, nth, errno);

    /// <summary>A variable as the firmware or an earlier boot left it (immutable, 0644), bypassing the store.</summary>
    public void Seed(VariableName name, VariableAttributes attributes, ReadOnlySpan<byte> data) =>
        Kernel.Seed(name, attributes, data);

    /// <summary>The file's bytes as efivarfs shows them (attribute prefix + value); null when absent.</summary>
    public byte[]? ReadRaw(VariableName name)
    {
        var path = Path.Combine(Root, name.FileName);
        return File.Exists(path) ? File.ReadAllBytes(path) : null;
    }

    public IReadOnlyList<VariableName> List() => Store.List();

    public Variable? TryRead(VariableName name) => Store.TryRead(name);

    public void Write(VariableName name, VariableAttributes attributes, ReadOnlySpan<byte> data, WriteMode mode) =>
        Store.Write(name, attributes, data, mode);

    public void Write(VariableName name, VariableAttributes attributes, ReadOnlySpan<byte> data, WriteMode mode, bool secret) =>
        Store.Write(name, attributes, data, mode, secret);

    public void Delete(VariableName name) => Store.Delete(name);

    public void RestrictToOwner(VariableName name) => Store.RestrictToOwner(name);

    public bool? IsImmutable(VariableName name) => Store.IsImmutable(name);

    public UnixFileMode? GetFileMode(VariableName name) => Store.GetFileMode(name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}

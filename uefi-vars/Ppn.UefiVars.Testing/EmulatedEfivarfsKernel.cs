using System.Buffers.Binary;
using Ppn.Linux;
using Ppn.UefiVars.Efivarfs;

namespace Ppn.UefiVars.Testing;

/// <summary>The system calls fault injection can target.</summary>
public enum EfivarfsOperation
{
    Open,
    Read,
    Write,
    Unlink,
    SetFlags,
}

/// <summary>
/// efivarfs and the firmware behind it, emulated over a directory of real files holding the efivarfs
/// format (4-byte little-endian attributes + value). Emulated, as fs/efivarfs and EDK2 behave:
/// <list type="bullet">
/// <item>variables are immutable after creation and after each mount unless well-known EFI globals
///   (efivar_variable_is_removable); opening one for writing, unlinking or chmod fails with EPERM</item>
/// <item>FS_IOC_SETFLAGS accepts only FS_IMMUTABLE_FL (EOPNOTSUPP) and needs CAP_LINUX_IMMUTABLE (EPERM)</item>
/// <item>a write shorter than 4 bytes or with bits outside EFI_VARIABLE_MASK fails with EINVAL</item>
/// <item>from the OS only NV|BS|RT variables can be set; auth and hardware-error bits are refused (EINVAL);
///   an existing variable keeps its attributes (EINVAL); over the maximum variable size is EINVAL</item>
/// <item>NVRAM capacity: a write that would exceed it fails with ENOSPC and changes nothing</item>
/// <item>a write of attributes only deletes the variable; an append of 0 bytes changes nothing</item>
/// <item>a freshly created file is uncommitted (0 bytes, reads as EOF) until its first successful write</item>
/// <item>every failing write leaves the stored value as it was (SetVariable is all or nothing)</item>
/// </list>
/// Thread-safe; one instance per directory.
/// </summary>
public sealed class EmulatedEfivarfsKernel : IEfivarfsKernel
{
    /// <summary>Bytes of NVRAM each variable costs besides name and value (EDK2's authenticated header is 60).</summary>
    public const int VariableHeaderBytes = 60;

    /// <summary>OVMF_VARS_4M.fd: a 256 KiB variable store.</summary>
    public const long DefaultCapacityBytes = 256 * 1024;

    /// <summary>OVMF's PcdMaxVariableSize for the 4M build (0x8400), header and name included.</summary>
    public const int DefaultMaxVariableSize = 0x8400;

    private const uint RequiredAttributes = (uint)VariableAttributes.NonVolatileBootRuntime;
    private const uint RefusedAttributes = (uint)(VariableAttributes.HardwareErrorRecord
        | VariableAttributes.AuthenticatedWriteAccess | VariableAttributes.TimeBasedAuthenticatedWriteAccess);

    private readonly Lock gate = new();
    private readonly Dictionary<string, uint> inodeFlags = new(StringComparer.Ordinal);
    private readonly List<Fault> faults = [];
    private readonly Dictionary<EfivarfsOperation, int> calls = [];

    public EmulatedEfivarfsKernel(string root)
    {
        Root = Path.TrimEndingDirectorySeparator(root);
        Mount();
    }

    public string Root { get; }

    /// <summary>NVRAM size; writes beyond it fail with ENOSPC.</summary>
    public long CapacityBytes { get; set; } = DefaultCapacityBytes;

    /// <summary>Largest variable (header + UCS-2 name + value) the firmware accepts; larger is EINVAL.</summary>
    public int MaxVariableSize { get; set; } = DefaultMaxVariableSize;

    /// <summary>False emulates a caller without CAP_LINUX_IMMUTABLE: FS_IOC_SETFLAGS fails with EPERM.</summary>
    public bool Privileged { get; set; } = true;

    /// <summary>True emulates a read-only mount: opening for writing, creating and unlinking fail with EROFS.</summary>
    public bool ReadOnlyMount { get; set; }

    /// <summary>NVRAM in use by committed variables.</summary>
    public long UsedBytes
    {
        get
        {
            lock (gate) return UsedBytesUnlocked();
        }
    }

    /// <summary>How many times each operation was called (also the failed calls).</summary>
    public int Calls(EfivarfsOperation operation)
    {
        lock (gate) return calls.GetValueOrDefault(operation);
    }

    /// <summary>The <paramref name="nth"/> call of <paramref name="operation"/> from now (1 = the next) fails with <paramref name="errno"/>.</summary>
    public void InjectFault(EfivarfsOperation operation, int nth, Errno errno)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nth, 1);
        lock (gate) faults.Add(new Fault(operation, calls.GetValueOrDefault(operation) + nth, errno));
    }

    public void ClearFaults()
    {
        lock (gate) faults.Clear();
    }

    /// <summary>
    /// What a reboot and a fresh efivarfs mount look like: uncommitted files are gone, every variable that
    /// is not a well-known EFI global is immutable again, every file is 0644.
    /// </summary>
    public void Mount()
    {
        lock (gate)
        {
            inodeFlags.Clear();
            if (!Directory.Exists(Root)) return;
            foreach (var file in Directory.EnumerateFiles(Root))
            {
                var name = Path.GetFileName(file);
                if (new FileInfo(file).Length == 0)
                {
                    File.Delete(file);
                    continue;
                }
                inodeFlags[name] = IsRemovable(name) ? 0 : InodeFlags.FS_IMMUTABLE_FL;
                SetMode(file, EfivarfsStore.PublicMode);
            }
        }
    }

    /// <summary>Stores a variable as firmware or an earlier boot would have left it (immutable, 0644).</summary>
    public void Seed(VariableName name, VariableAttributes attributes, ReadOnlySpan<byte> data)
    {
        var record = new byte[4 + data.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)attributes);
        data.CopyTo(record.AsSpan(4));
        lock (gate)
        {
            var path = Path.Combine(Root, name.FileName);
            File.WriteAllBytes(path, record);
            SetMode(path, EfivarfsStore.PublicMode);
            inodeFlags[name.FileName] = IsRemovable(name.FileName) ? 0 : InodeFlags.FS_IMMUTABLE_FL;
        }
    }

    public uint FlagsOf(string fileName)
    {
        lock (gate) return inodeFlags.GetValueOrDefault(fileName);
    }

    public MountState Probe(string root) => Directory.Exists(root) ? MountState.Efivarfs : MountState.Missing;

    public IReadOnlyList<EfivarfsEntry> ReadDirectory(string root)
    {
        lock (gate)
        {
            if (!Directory.Exists(root)) throw new SyscallException("opendir", root, (int)Errno.ENOENT);
            return Directory.EnumerateFiles(root)
                .Select(f => new EfivarfsEntry(Path.GetFileName(f), new FileInfo(f).Length))
                .ToList();
        }
    }

    public IEfivarfsFile Open(string path, int flags, uint mode)
    {
        lock (gate)
        {
            Count(EfivarfsOperation.Open, "open", path);
            var name = NameIn(path, "open");
            var full = Path.Combine(Root, name);
            bool exists = File.Exists(full);
            bool forWriting = (flags & 3) != OpenFlags.O_RDONLY;
            if ((flags & OpenFlags.O_CREAT) != 0 && !exists)
            {
                if (!IsValidFileName(name)) throw new SyscallException("open", path, (int)Errno.EINVAL);
                if (ReadOnlyMount) throw new SyscallException("open", path, (int)Errno.EROFS);
                File.WriteAllBytes(full, []);
                SetMode(full, (UnixFileMode)(mode & 0x1ff));
                // efivarfs_create: the new inode is immutable at once; the creating descriptor may still write.
                inodeFlags[name] = IsRemovable(name) ? 0 : InodeFlags.FS_IMMUTABLE_FL;
                return new EmulatedFile(this, name, path, forWriting);
            }
            if ((flags & (OpenFlags.O_CREAT | OpenFlags.O_EXCL)) == (OpenFlags.O_CREAT | OpenFlags.O_EXCL))
            {
                throw new SyscallException("open", path, (int)Errno.EEXIST);
            }
            if (!exists) throw new SyscallException("open", path, (int)Errno.ENOENT);
            if (forWriting && ReadOnlyMount) throw new SyscallException("open", path, (int)Errno.EROFS);
            if (forWriting && IsImmutable(name)) throw new SyscallException("open", path, (int)Errno.EPERM);
            return new EmulatedFile(this, name, path, forWriting);
        }
    }

    public void Unlink(string path)
    {
        lock (gate)
        {
            Count(EfivarfsOperation.Unlink, "unlink", path);
            var name = NameIn(path, "unlink");
            var full = Path.Combine(Root, name);
            if (!File.Exists(full)) throw new SyscallException("unlink", path, (int)Errno.ENOENT);
            if (ReadOnlyMount) throw new SyscallException("unlink", path, (int)Errno.EROFS);
            if (IsImmutable(name)) throw new SyscallException("unlink", path, (int)Errno.EPERM);
            File.Delete(full);
            inodeFlags.Remove(name);
        }
    }

    private int Read(EmulatedFile file, Span<byte> buffer)
    {
        lock (gate)
        {
            Count(EfivarfsOperation.Read, "read", file.Path);
            var full = Path.Combine(Root, file.Name);
            if (!File.Exists(full)) return 0; // a deleted variable reads as EOF, like efivar_entry_size → ENOENT
            var content = File.ReadAllBytes(full);
            if (file.Position >= content.Length) return 0;
            int n = Math.Min(buffer.Length, content.Length - file.Position);
            content.AsSpan(file.Position, n).CopyTo(buffer);
            file.Position += n;
            return n;
        }
    }

    private void Write(EmulatedFile file, ReadOnlySpan<byte> record)
    {
        lock (gate)
        {
            Count(EfivarfsOperation.Write, "write", file.Path);
            if (!file.ForWriting) throw new SyscallException("write", file.Path, (int)Errno.EBADF);
            if (record.Length < 4) throw new SyscallException("write", file.Path, (int)Errno.EINVAL);
            uint attributes = BinaryPrimitives.ReadUInt32LittleEndian(record);
            if ((attributes & ~(uint)EfivarfsStore.KernelAttributeMask) != 0)
            {
                throw new SyscallException("write", file.Path, (int)Errno.EINVAL);
            }
            var data = record[4..];
            bool append = (attributes & (uint)VariableAttributes.AppendWrite) != 0;
            uint stored = attributes & ~(uint)VariableAttributes.AppendWrite;
            var full = Path.Combine(Root, file.Name);
            var old = File.Exists(full) ? File.ReadAllBytes(full) : [];
            bool committed = old.Length >= 4;

            if (data.IsEmpty)
            {
                if (append) return;
                if (!committed) throw new SyscallException("write", file.Path, (int)Errno.EIO); // ENOENT → EIO in efivarfs_file_write
                File.Delete(full);
                inodeFlags.Remove(file.Name);
                return;
            }
            if ((stored & RequiredAttributes) != RequiredAttributes || (stored & RefusedAttributes) != 0)
            {
                throw new SyscallException("write", file.Path, (int)Errno.EINVAL);
            }
            if (committed && BinaryPrimitives.ReadUInt32LittleEndian(old) != stored)
            {
                throw new SyscallException("write", file.Path, (int)Errno.EINVAL);
            }
            long oldLength = committed ? old.Length - 4 : 0;
            long newLength = append ? oldLength + data.Length : data.Length;
            long usedByOthers = UsedBytesUnlocked() - (committed ? Cost(file.Name, oldLength) : 0);
            if (usedByOthers + Cost(file.Name, newLength) > CapacityBytes)
            {
                throw new SyscallException("write", file.Path, (int)Errno.ENOSPC);
            }
            if (Cost(file.Name, newLength) > MaxVariableSize)
            {
                throw new SyscallException("write", file.Path, (int)Errno.EINVAL);
            }
            var content = new byte[4 + newLength];
            BinaryPrimitives.WriteUInt32LittleEndian(content, stored);
            if (append && committed) old.AsSpan(4).CopyTo(content.AsSpan(4));
            data.CopyTo(content.AsSpan((int)(4 + newLength - data.Length)));
            // Write beside and rename: a reader of the directory never sees half a value.
            var temp = Path.Combine(Path.GetDirectoryName(Root)!, $".{Path.GetFileName(Root)}.{file.Name}.tmp");
            File.WriteAllBytes(temp, content);
            SetMode(temp, File.Exists(full) ? GetMode(full) : EfivarfsStore.PublicMode);
            File.Move(temp, full, overwrite: true);
            if (!inodeFlags.ContainsKey(file.Name)) inodeFlags[file.Name] = IsRemovable(file.Name) ? 0 : InodeFlags.FS_IMMUTABLE_FL;
        }
    }

    private uint GetFlags(EmulatedFile file)
    {
        lock (gate) return inodeFlags.GetValueOrDefault(file.Name);
    }

    private void SetFlags(EmulatedFile file, uint flags)
    {
        lock (gate)
        {
            Count(EfivarfsOperation.SetFlags, "ioctl(FS_IOC_SETFLAGS)", file.Path);
            if ((flags & ~InodeFlags.FS_IMMUTABLE_FL) != 0)
            {
                throw new SyscallException("ioctl(FS_IOC_SETFLAGS)", file.Path, (int)Errno.EOPNOTSUPP);
            }
            if (!Privileged) throw new SyscallException("ioctl(FS_IOC_SETFLAGS)", file.Path, (int)Errno.EPERM);
            if (ReadOnlyMount) throw new SyscallException("ioctl(FS_IOC_SETFLAGS)", file.Path, (int)Errno.EROFS);
            if (File.Exists(Path.Combine(Root, file.Name))) inodeFlags[file.Name] = flags;
        }
    }

    private void Chmod(EmulatedFile file, uint mode)
    {
        lock (gate)
        {
            var full = Path.Combine(Root, file.Name);
            if (!File.Exists(full)) throw new SyscallException("fchmod", file.Path, (int)Errno.ENOENT);
            if (IsImmutable(file.Name)) throw new SyscallException("fchmod", file.Path, (int)Errno.EPERM);
            SetMode(full, (UnixFileMode)(mode & 0x1ff));
        }
    }

    private long UsedBytesUnlocked()
    {
        long used = 0;
        foreach (var f in Directory.EnumerateFiles(Root))
        {
            var length = new FileInfo(f).Length;
            if (length >= 4) used += Cost(Path.GetFileName(f), length - 4);
        }
        return used;
    }

    private static long Cost(string fileName, long dataLength) =>
        VariableHeaderBytes + ((fileName.Length - 37 + 1) * 2L) + dataLength;

    private bool IsImmutable(string name) => (inodeFlags.GetValueOrDefault(name) & InodeFlags.FS_IMMUTABLE_FL) != 0;

    private void Count(EfivarfsOperation operation, string call, string path)
    {
        int n = calls.GetValueOrDefault(operation) + 1;
        calls[operation] = n;
        int index = faults.FindIndex(f => f.Operation == operation && f.AtCall == n);
        if (index >= 0)
        {
            var fault = faults[index];
            faults.RemoveAt(index);
            throw new SyscallException(call, path, (int)fault.Errno);
        }
    }

    private string NameIn(string path, string call)
    {
        var directory = Path.TrimEndingDirectorySeparator(Path.GetDirectoryName(path) ?? "");
        if (!Directory.Exists(Root) || directory != Root) throw new SyscallException(call, path, (int)Errno.ENOENT);
        return Path.GetFileName(path);
    }

    /// <summary>efivarfs_valid_name: something, '-', then a GUID in the last 36 characters.</summary>
    private static bool IsValidFileName(string name) =>
        name.Length >= 38 && name[^37] == '-' && Guid.TryParseExact(name[^36..], "D", out _);

    /// <summary>
    /// efivar_variable_is_removable: only the well-known EFI global variables the kernel validates
    /// (drivers/firmware/efi/vars.c variable_validate) are created without the immutable flag.
    /// </summary>
    private static bool IsRemovable(string fileName)
    {
        if (!VariableName.TryParse(fileName, out var parsed) || parsed.Value.Vendor != VariableName.EfiGlobal) return false;
        var name = parsed.Value.Name;
        bool NumberedAfter(string prefix) =>
            name.Length == prefix.Length + 4 && name.StartsWith(prefix, StringComparison.Ordinal)
            && name[prefix.Length..].All(char.IsAsciiHexDigit);
        return name is "BootOrder" or "BootNext" or "DriverOrder" or "SysPrepOrder" or "ConIn" or "ConOut" or "ErrOut"
                   or "ConInDev" or "ConOutDev" or "ErrOutDev" or "Lang" or "LangCodes" or "PlatformLang"
                   or "PlatformLangCodes" or "Timeout" or "OsIndications"
               || NumberedAfter("Boot") || NumberedAfter("Driver") || NumberedAfter("SysPrep") || NumberedAfter("Key");
    }

    // Linux only, like efivarfs; the guard keeps the platform analyzer quiet for callers.
    private static void SetMode(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, mode);
    }

    private static UnixFileMode GetMode(string path) =>
        OperatingSystem.IsWindows() ? EfivarfsStore.PublicMode : File.GetUnixFileMode(path);

    private sealed record Fault(EfivarfsOperation Operation, int AtCall, Errno Errno);

    private sealed class EmulatedFile(EmulatedEfivarfsKernel kernel, string name, string path, bool forWriting) : IEfivarfsFile
    {
        private bool disposed;

        public string Name { get; } = name;
        public string Path { get; } = path;
        public bool ForWriting { get; } = forWriting;
        public int Position { get; set; }

        public int Read(Span<byte> buffer) => kernel.Read(Live(), buffer);
        public void Write(ReadOnlySpan<byte> record) => kernel.Write(Live(), record);
        public uint GetFlags() => kernel.GetFlags(Live());
        public void SetFlags(uint flags) => kernel.SetFlags(Live(), flags);
        public void Chmod(uint mode) => kernel.Chmod(Live(), mode);
        public void Dispose() => disposed = true;

        private EmulatedFile Live() =>
            disposed ? throw new SyscallException("use of closed descriptor", Path, (int)Errno.EBADF) : this;
    }
}

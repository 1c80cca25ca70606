using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Ppn.Linux.Interop;

namespace Ppn.Linux;

/// <summary>What kind of inode a path names (S_IFMT, include/uapi/linux/stat.h).</summary>
public enum FileNodeKind
{
    Missing,
    Regular,
    Directory,
    BlockDevice,
    CharacterDevice,
    Fifo,
    Socket,
    Symlink,
}

/// <summary>
/// A path's inode as statx(2) sees it, following symlinks: its kind, size, and for a device its major:minor.
/// .NET's FileInfo cannot tell a block device from a regular file, which is what a flash target must know.
/// </summary>
public readonly record struct FileNode(FileNodeKind Kind, long Size, uint Major, uint Minor)
{
    public static unsafe FileNode Stat(string path)
    {
        byte* buffer = stackalloc byte[LibC.StatxSize];
        new Span<byte>(buffer, LibC.StatxSize).Clear();
        if (LibC.statx(LibC.AT_FDCWD, path, 0, LibC.STATX_TYPE | LibC.STATX_MODE | LibC.STATX_SIZE, buffer) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is (int)Errno.ENOENT or (int)Errno.ENOTDIR)
            {
                return new FileNode(FileNodeKind.Missing, 0, 0, 0);
            }
            throw new SyscallException("statx", path, errno);
        }
        var s = new ReadOnlySpan<byte>(buffer, LibC.StatxSize);
        int mode = BinaryPrimitives.ReadUInt16LittleEndian(s[LibC.StatxModeOffset..]) & 0xF000;
        var kind = mode switch
        {
            0x8000 => FileNodeKind.Regular,
            0x4000 => FileNodeKind.Directory,
            0x6000 => FileNodeKind.BlockDevice,
            0x2000 => FileNodeKind.CharacterDevice,
            0x1000 => FileNodeKind.Fifo,
            0xC000 => FileNodeKind.Socket,
            _ => FileNodeKind.Symlink,
        };
        return new FileNode(kind, BinaryPrimitives.ReadInt64LittleEndian(s[LibC.StatxSizeOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(s[LibC.StatxRdevMajorOffset..]), BinaryPrimitives.ReadUInt32LittleEndian(s[LibC.StatxRdevMinorOffset..]));
    }

    /// <summary>realpath(3): every symlink in every component resolved; null when the path does not exist.</summary>
    public static string? RealPath(string path)
    {
        var resolved = LibC.realpath(path, 0);
        if (resolved == 0)
        {
            return null;
        }
        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            LibC.free(resolved);
        }
    }

    public static string Describe(FileNodeKind kind) => kind switch
    {
        FileNodeKind.Regular => "a regular file",
        FileNodeKind.Directory => "a directory",
        FileNodeKind.BlockDevice => "a block device",
        FileNodeKind.CharacterDevice => "a character device",
        FileNodeKind.Fifo => "a FIFO",
        FileNodeKind.Socket => "a socket",
        FileNodeKind.Missing => "missing",
        _ => "a special file",
    };
}

/// <summary>
/// File-system failures in our own words, naming the path. The trimmed binaries are built with
/// UseSystemResourceKeys, so the runtime's texts are bare keys (`UnauthorizedAccess_IODenied_Path`): never show them.
/// </summary>
public static class FileErrors
{
    public static bool IsFileError(Exception e) => e is IOException or UnauthorizedAccessException;

    public static string Describe(Exception e, string path) => e switch
    {
        SyscallException s => s.Message,
        FileNotFoundException => $"{path}: no such file",
        DirectoryNotFoundException => $"{path}: no such file or directory",
        // .NET reports EISDIR as UnauthorizedAccessException too.
        UnauthorizedAccessException when Directory.Exists(path) => $"{path} is a directory, not a file",
        UnauthorizedAccessException => $"{path}: permission denied",
        PathTooLongException => $"{path}: the name is too long",
        EndOfStreamException => $"{path}: ends early (truncated?)",
        IOException io when io.HResult is > 0 and < 4096 => $"{path}: {SyscallException.Describe(io.HResult)} ({ErrnoNames.Name(io.HResult)})",
        _ => $"{path}: cannot be read or written",
    };
}

/// <summary>
/// The one rule for files holding private keys (authority credentials, --node-key, --authority-key): whoever
/// can read one can act as its owner, so a file group or others may read or write is refused, like ssh does.
/// </summary>
public static class PrivateFile
{
    public const UnixFileMode GroupOrOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

    /// <summary>Null when the path is a regular file with a private mode (or does not exist: reading it then says so); else why not and what to do.</summary>
    public static string? WhyNotPrivate(string path, string holds)
    {
        var node = FileNode.Stat(path);
        if (node.Kind == FileNodeKind.Missing)
        {
            return null;
        }
        if (node.Kind != FileNodeKind.Regular)
        {
            return $"{path} is {FileNode.Describe(node.Kind)}, not a file: give the file that holds the key";
        }
        UnixFileMode mode;
        try
        {
            mode = File.GetUnixFileMode(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        return (mode & GroupOrOthers) == 0
            ? null
            : $"{path} is readable or writable by group or others (mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')}): whoever can read it {holds}; chmod 600 {path}";
    }
}

using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Ppn.Linux;
using Ppn.Linux.Interop;

namespace Ppn.UefiVars.Efivarfs;

/// <summary>The real system calls on a mounted efivarfs.</summary>
public sealed class LinuxEfivarfsKernel : IEfivarfsKernel
{
    public static readonly LinuxEfivarfsKernel Instance = new();

    public unsafe MountState Probe(string root)
    {
        byte* buffer = stackalloc byte[LibC.StatfsBufferSize];
        if (LibC.statfs(root, buffer) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is (int)Errno.ENOENT or (int)Errno.ENOTDIR)
            {
                return MountState.Missing;
            }
            throw new SyscallException("statfs", root, errno);
        }
        // f_type is a long; the magic fits in its low 32 bits on every little-endian 64-bit target we ship.
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(buffer, 4));
        return type == InodeFlags.EFIVARFS_MAGIC ? MountState.Efivarfs : MountState.NotEfivarfs;
    }

    public IReadOnlyList<EfivarfsEntry> ReadDirectory(string root)
    {
        try
        {
            var entries = new List<EfivarfsEntry>();
            foreach (var info in new DirectoryInfo(root).EnumerateFiles())
            {
                entries.Add(new EfivarfsEntry(info.Name, info.Length));
            }
            return entries;
        }
        catch (DirectoryNotFoundException)
        {
            throw new SyscallException("opendir", root, (int)Errno.ENOENT);
        }
        catch (UnauthorizedAccessException)
        {
            throw new SyscallException("opendir", root, (int)Errno.EACCES);
        }
    }

    public IEfivarfsFile Open(string path, int flags, uint mode) => new File(SafeFd.Open(path, flags, mode), path);

    public void Unlink(string path) => SyscallException.ThrowIfFailed(LibC.unlink(path), "unlink", path);

    private sealed unsafe class File(SafeFd fd, string path) : IEfivarfsFile
    {
        public int Read(Span<byte> buffer)
        {
            fixed (byte* p = buffer)
            {
                while (true)
                {
                    nint n = LibC.read(fd.Fd, p, (nuint)buffer.Length);
                    if (n >= 0) return (int)n;
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != (int)Errno.EINTR) throw new SyscallException("read", path, errno);
                }
            }
        }

        public void Write(ReadOnlySpan<byte> record) => FileDescriptorIo.WriteOnce(fd, record, path);

        public uint GetFlags()
        {
            uint flags = 0;
            SyscallException.ThrowIfFailed(LibC.ioctl(fd.Fd, InodeFlags.FS_IOC_GETFLAGS, &flags), "ioctl(FS_IOC_GETFLAGS)", path);
            return flags;
        }

        public void SetFlags(uint flags) =>
            SyscallException.ThrowIfFailed(LibC.ioctl(fd.Fd, InodeFlags.FS_IOC_SETFLAGS, &flags), "ioctl(FS_IOC_SETFLAGS)", path);

        public void Chmod(uint mode) => SyscallException.ThrowIfFailed(LibC.fchmod(fd.Fd, mode), "fchmod", path);

        public void Dispose() => fd.Dispose();
    }
}

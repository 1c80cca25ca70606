using System.Runtime.InteropServices;

namespace Ppn.Linux.Interop;

/// <summary>Calls the UEFI variable store needs beyond open/read/write/ioctl/unlink (fs/efivarfs).</summary>
public static unsafe partial class LibC
{
    /// <summary>fchmod(2): efivarfs creates every variable 0644 at mount; secrets are narrowed to 0600.</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fchmod(int fd, uint mode);

    /// <summary>
    /// statfs(2) into a caller buffer of at least <see cref="StatfsBufferSize"/> bytes. Only f_type (the
    /// first field: a long on x86-64 and arm64, bits/statfs.h) is read, so the rest of the layout is opaque.
    /// </summary>
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statfs(string path, byte* buf);

    /// <summary>sizeof(struct statfs) is 120 on x86-64 and arm64; 256 leaves room for any libc.</summary>
    public const int StatfsBufferSize = 256;
}

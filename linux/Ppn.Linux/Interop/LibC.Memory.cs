using System.Runtime.InteropServices;

namespace Ppn.Linux.Interop;

/// <summary>Anonymous mappings for the CPU random-number stub (genesis/Entropy/CpuRngSource.cs).</summary>
public static unsafe partial class LibC
{
    public const int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    public const int MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int mprotect(void* addr, nuint length, int prot);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int munmap(void* addr, nuint length);
}

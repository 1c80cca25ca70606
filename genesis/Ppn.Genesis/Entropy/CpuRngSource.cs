using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Ppn.Linux.Interop;

namespace Ppn.Genesis.Entropy;

/// <summary>
/// The CPU's own generator: RDSEED (conditioned entropy, preferred) or RDRAND (DRBG output). .NET has no
/// intrinsic for either, so a 17-byte stub is placed in an anonymous page, the page is made read+execute
/// (never writable and executable at once), and called through an unmanaged function pointer:
///   rdseed/rdrand rax ; jc ok ; xor eax,eax ; ret ; ok: mov [rdi],rax ; mov eax,1 ; ret
/// Retries follow Intel's DRNG guide (RDRAND: 10 tries per word; RDSEED may underflow: more tries).
/// The output is mixed, never trusted alone (docs/genesis-identity.md); stuck output is a failure.
/// </summary>
public sealed unsafe class CpuRngSource : IEntropySource
{
    private readonly bool _seed;

    public CpuRngSource(bool preferSeed = true) => _seed = preferSeed && HasRdseed;

    public string Label => _seed ? "rdseed" : "rdrand";

    public static bool HasRdrand => X86Base.IsSupported && (X86Base.CpuId(1, 0).Ecx & (1 << 30)) != 0;

    public static bool HasRdseed => X86Base.IsSupported && X86Base.CpuId(0, 0).Eax >= 7 && (X86Base.CpuId(7, 0).Ebx & (1 << 18)) != 0;

    public EntropySources TryFill(Span<byte> destination, out string? problem)
    {
        if (!_seed && !HasRdrand)
        {
            problem = "the CPU has neither RDSEED nor RDRAND";
            return EntropySources.None;
        }
        const nuint PageSize = 4096;
        void* page = LibC.mmap(null, PageSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS, -1, 0);
        if (page == (void*)-1)
        {
            problem = $"mmap for the {Label} stub failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
            return EntropySources.None;
        }
        try
        {
            ReadOnlySpan<byte> stub =
            [
                0x48, 0x0F, 0xC7, (byte)(_seed ? 0xF8 : 0xF0), // rdseed rax / rdrand rax
                0x72, 0x03,                                      // jc +3
                0x31, 0xC0,                                      // xor eax, eax
                0xC3,                                            // ret
                0x48, 0x89, 0x07,                                // mov [rdi], rax
                0xB8, 0x01, 0x00, 0x00, 0x00,                    // mov eax, 1
                0xC3,                                            // ret
            ];
            stub.CopyTo(new Span<byte>(page, stub.Length));
            if (LibC.mprotect(page, PageSize, LibC.PROT_READ | LibC.PROT_EXEC) != 0)
            {
                problem = $"mprotect(PROT_EXEC) for the {Label} stub failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
                return EntropySources.None;
            }
            var next = (delegate* unmanaged<ulong*, int>)page;
            int triesPerWord = _seed ? 1000 : 10;
            ulong first = 0;
            bool allSame = true;
            for (int offset = 0; offset < destination.Length; offset += 8)
            {
                ulong word = 0;
                int tries = 0;
                while (next(&word) == 0)
                {
                    if (++tries >= triesPerWord)
                    {
                        destination.Clear();
                        problem = $"{Label} returned no data after {triesPerWord} tries";
                        return EntropySources.None;
                    }
                    if (_seed)
                    {
                        Thread.SpinWait(8); // RDSEED underflow: give the conditioner time (Intel DRNG guide §5.3.1)
                    }
                }
                if (offset == 0) first = word;
                else if (word != first) allSame = false;
                var bytes = new ReadOnlySpan<byte>(&word, 8);
                bytes[..Math.Min(8, destination.Length - offset)].CopyTo(destination[offset..]);
                word = 0;
            }
            if ((allSame && destination.Length > 8) || first == 0 || first == ulong.MaxValue)
            {
                destination.Clear();
                problem = $"{Label} output looks stuck (repeated, all-zero or all-one words): not used";
                return EntropySources.None;
            }
            problem = null;
            return _seed ? EntropySources.CpuRdseed : EntropySources.CpuRdrand;
        }
        finally
        {
            LibC.munmap(page, PageSize);
        }
    }
}

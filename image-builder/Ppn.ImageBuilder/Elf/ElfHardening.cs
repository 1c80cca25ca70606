namespace Ppn.ImageBuilder.Elf;

/// <summary>
/// How an ELF file is hardened against exploitation, read from its headers as checksec and Debian's
/// hardening-check read them: position-independent (ELF type ET_DYN, so ASLR places its code and data),
/// full RELRO (PT_GNU_RELRO plus BIND_NOW, so ld.so makes the GOT read-only before the program runs),
/// a non-executable stack (PT_GNU_STACK without PF_X) and no text relocations.
/// </summary>
public sealed record ElfHardening(bool PositionIndependent, bool Relro, bool BindNow, bool ExecutableStack, bool TextRelocations)
{
    /// <summary>What the node's PID 1 must have and this file lacks, one sentence each; empty when it has all of it.</summary>
    public IReadOnlyList<string> MissingForPid1()
    {
        var missing = new List<string>();
        if (!PositionIndependent)
        {
            missing.Add("not position-independent (ELF type EXEC): the kernel loads it at a fixed address, so ASLR does not cover its code and data");
        }
        if (!Relro || !BindNow)
        {
            missing.Add($"no full RELRO ({(Relro ? "PT_GNU_RELRO without BIND_NOW" : "no PT_GNU_RELRO")}): its GOT stays writable while it runs");
        }
        if (ExecutableStack)
        {
            missing.Add("an executable stack (PT_GNU_STACK has PF_X, or there is no PT_GNU_STACK)");
        }
        if (TextRelocations)
        {
            missing.Add("text relocations (DT_TEXTREL): ld.so writes into its code");
        }
        return missing;
    }

    /// <summary>One line for the build's progress, e.g. "PIE, full RELRO, non-executable stack".</summary>
    public string Summary() => string.Join(", ",
        PositionIndependent ? "PIE" : "not PIE",
        Relro && BindNow ? "full RELRO" : Relro ? "partial RELRO" : "no RELRO",
        ExecutableStack ? "executable stack" : "non-executable stack",
        TextRelocations ? "text relocations" : "no text relocations");
}

using System.Buffers.Binary;
using System.Text;

namespace Ppn.ImageBuilder.Elf;

/// <summary>
/// What a dynamic loader needs to know about an ELF64 little-endian file (elf(5)): its interpreter
/// (PT_INTERP), its DT_NEEDED libraries and its search path (DT_RUNPATH / DT_RPATH), and how it is hardened
/// (<see cref="ElfHardening"/>). Parsed with spans and bounds checks; a malformed file is a
/// <see cref="FormatException"/> naming the file, never a crash.
/// </summary>
public sealed record ElfDynamicInfo(string? Interpreter, IReadOnlyList<string> Needed, IReadOnlyList<string> RunPath, ElfHardening Hardening)
{
    private const ushort ET_DYN = 3;
    private const uint PT_DYNAMIC = 2, PT_INTERP = 3, PT_LOAD = 1, PT_GNU_STACK = 0x6474e551, PT_GNU_RELRO = 0x6474e552, PF_X = 1;
    private const long DT_NULL = 0, DT_NEEDED = 1, DT_STRTAB = 5, DT_STRSZ = 10, DT_RPATH = 15, DT_TEXTREL = 22, DT_BIND_NOW = 24,
        DT_RUNPATH = 29, DT_FLAGS = 30, DT_FLAGS_1 = 0x6ffffffb;
    private const ulong DF_TEXTREL = 0x4, DF_BIND_NOW = 0x8, DF_1_NOW = 0x1;

    public static ElfDynamicInfo Parse(ReadOnlySpan<byte> file, string source)
    {
        if (file.Length < 64 || !file[..4].SequenceEqual("\u007fELF"u8))
        {
            throw new FormatException($"{source}: not an ELF file");
        }
        if (file[4] != 2 || file[5] != 1)
        {
            throw new FormatException($"{source}: only ELF64 little-endian is supported (class {file[4]}, data {file[5]})");
        }
        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(file[32..]);
        ushort phentsize = BinaryPrimitives.ReadUInt16LittleEndian(file[54..]);
        ushort phnum = BinaryPrimitives.ReadUInt16LittleEndian(file[56..]);
        ushort type = BinaryPrimitives.ReadUInt16LittleEndian(file[16..]);
        if (phentsize < 56 || phoff > (ulong)file.Length || (ulong)phnum * phentsize > (ulong)file.Length - phoff)
        {
            throw new FormatException($"{source}: program header table out of bounds");
        }

        string? interpreter = null;
        ulong dynOffset = 0, dynSize = 0;
        bool relro = false, stackSeen = false, stackExecutable = false;
        var loads = new List<(ulong Vaddr, ulong Offset, ulong FileSize)>();
        for (int i = 0; i < phnum; i++)
        {
            var ph = file.Slice((int)(phoff + (ulong)(i * phentsize)), phentsize);
            uint segment = BinaryPrimitives.ReadUInt32LittleEndian(ph);
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(ph[4..]);
            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]);
            ulong vaddr = BinaryPrimitives.ReadUInt64LittleEndian(ph[16..]);
            ulong filesz = BinaryPrimitives.ReadUInt64LittleEndian(ph[32..]);
            switch (segment)
            {
                case PT_GNU_RELRO:
                    relro = true;
                    break;
                case PT_GNU_STACK:
                    stackSeen = true;
                    stackExecutable = (flags & PF_X) != 0;
                    break;
                case PT_INTERP:
                    interpreter = CString(Slice(file, offset, filesz, source), 0, source);
                    break;
                case PT_DYNAMIC:
                    dynOffset = offset;
                    dynSize = filesz;
                    break;
                case PT_LOAD:
                    loads.Add((vaddr, offset, filesz));
                    break;
            }
        }
        // No PT_GNU_STACK: the kernel gives the process an executable stack (READ_IMPLIES_EXEC on x86-64).
        bool executableStack = !stackSeen || stackExecutable;
        if (dynSize == 0)
        {
            // Statically linked: nothing to bind, so nothing lazily bound; no text relocations without a dynamic section.
            return new ElfDynamicInfo(interpreter, [], [], new ElfHardening(type == ET_DYN, relro, BindNow: true, executableStack, TextRelocations: false));
        }

        var dynamic = Slice(file, dynOffset, dynSize, source);
        ulong strtabAddr = 0, strsz = 0;
        var needed = new List<ulong>();
        ulong? runpath = null, rpath = null;
        bool bindNow = false, textRelocations = false;
        for (int at = 0; at + 16 <= dynamic.Length; at += 16)
        {
            long tag = BinaryPrimitives.ReadInt64LittleEndian(dynamic[at..]);
            ulong value = BinaryPrimitives.ReadUInt64LittleEndian(dynamic[(at + 8)..]);
            if (tag == DT_NULL) break;
            switch (tag)
            {
                case DT_NEEDED: needed.Add(value); break;
                case DT_STRTAB: strtabAddr = value; break;
                case DT_STRSZ: strsz = value; break;
                case DT_RUNPATH: runpath = value; break;
                case DT_RPATH: rpath = value; break;
                case DT_BIND_NOW: bindNow = true; break;
                case DT_TEXTREL: textRelocations = true; break;
                case DT_FLAGS:
                    bindNow |= (value & DF_BIND_NOW) != 0;
                    textRelocations |= (value & DF_TEXTREL) != 0;
                    break;
                case DT_FLAGS_1: bindNow |= (value & DF_1_NOW) != 0; break;
            }
        }
        // DT_STRTAB is a virtual address: map it to a file offset through the PT_LOAD segments.
        var load = loads.FirstOrDefault(l => strtabAddr >= l.Vaddr && strtabAddr < l.Vaddr + l.FileSize);
        if (load == default && needed.Count > 0)
        {
            throw new FormatException($"{source}: DT_STRTAB 0x{strtabAddr:x} is outside every PT_LOAD segment");
        }
        var strtab = Slice(file, strtabAddr - load.Vaddr + load.Offset, strsz, source);
        var path = runpath ?? rpath;
        var runPath = path is { } p
            ? CString(strtab, p, source).Split(':', StringSplitOptions.RemoveEmptyEntries)
            : [];
        var names = new List<string>(needed.Count);
        foreach (var offset in needed)
        {
            names.Add(CString(strtab, offset, source));
        }
        return new ElfDynamicInfo(interpreter, names, runPath, new ElfHardening(type == ET_DYN, relro, bindNow, executableStack, textRelocations));
    }

    private static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> file, ulong offset, ulong length, string source)
    {
        if (offset > (ulong)file.Length || length > (ulong)file.Length - offset)
        {
            throw new FormatException($"{source}: segment [{offset}, +{length}) is outside the file");
        }
        return file.Slice((int)offset, (int)length);
    }

    private static string CString(ReadOnlySpan<byte> table, ulong offset, string source)
    {
        if (offset >= (ulong)table.Length)
        {
            throw new FormatException($"{source}: string offset {offset} is outside the string table");
        }
        var rest = table[(int)offset..];
        int end = rest.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? rest : rest[..end]);
    }
}

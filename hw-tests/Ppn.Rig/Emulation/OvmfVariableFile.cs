using System.Buffers.Binary;
using System.Text;

namespace Ppn.Rig.Emulation;

/// <summary>
/// The UEFI variables in an OVMF NVRAM file (OVMF_VARS.fd), for scenarios that damage one while the node is off,
/// as a flash fault or a hostile technician would. Layout (edk2 MdePkg PiFirmwareVolume.h, MdeModulePkg
/// Guid/VariableFormat.h; authenticated store as Debian's OVMF_VARS_4M.fd uses): firmware volume header
/// (HeaderLength at offset 48), a 28-byte variable store header whose signature is gEfiAuthenticatedVariableGuid,
/// then 4-byte aligned variables: StartId 0x55AA (2), State (1), reserved (1), Attributes (4), MonotonicCount (8),
/// TimeStamp (16), PubKeyIndex (4), NameSize (4), DataSize (4), VendorGuid (16), name (UCS-2, NUL-terminated), data.
/// The live copy of a variable has State VAR_ADDED (0x3F); older copies stay behind with other states until reclaim.
/// </summary>
public static class OvmfVariableFile
{
    public const byte VarAdded = 0x3F;
    private const int HeaderSize = 60;
    private const int StoreHeaderSize = 28;
    private static readonly Guid AuthenticatedStore = new("aaf32c78-947b-439a-a180-2e144ec37792");

    public readonly record struct Variable(string Name, Guid Vendor, byte State, int DataOffset, int DataSize);

    /// <summary>Every variable header in the store, live and stale, in file order; a file of another layout is an error.</summary>
    public static IReadOnlyList<Variable> Read(ReadOnlySpan<byte> file, string source)
    {
        if (file.Length < 64 || !file.Slice(40, 4).SequenceEqual("_FVH"u8))
        {
            throw new InvalidDataException($"{source}: not a firmware volume (no _FVH signature)");
        }
        int fvHeader = BinaryPrimitives.ReadUInt16LittleEndian(file[48..]);
        if (fvHeader + StoreHeaderSize > file.Length || new Guid(file.Slice(fvHeader, 16)) != AuthenticatedStore)
        {
            throw new InvalidDataException($"{source}: the variable store is not the authenticated layout this reader knows");
        }
        var result = new List<Variable>();
        int at = fvHeader + StoreHeaderSize;
        while (at + HeaderSize <= file.Length && BinaryPrimitives.ReadUInt16LittleEndian(file[at..]) == 0x55AA)
        {
            uint nameSize = BinaryPrimitives.ReadUInt32LittleEndian(file[(at + 36)..]);
            uint dataSize = BinaryPrimitives.ReadUInt32LittleEndian(file[(at + 40)..]);
            long end = (long)at + HeaderSize + nameSize + dataSize;
            if (end > file.Length || nameSize < 2 || nameSize % 2 != 0)
            {
                throw new InvalidDataException($"{source}: variable header at 0x{at:x} runs past the file");
            }
            var name = Encoding.Unicode.GetString(file.Slice(at + HeaderSize, (int)nameSize - 2));
            result.Add(new Variable(name, new Guid(file.Slice(at + 44, 16)), file[at + 2], at + HeaderSize + (int)nameSize, (int)dataSize));
            at = (int)((end + 3) & ~3L);
        }
        return result;
    }

    /// <summary>Flips every bit of byte <paramref name="index"/> of the live copy of <paramref name="name"/>; the node must be off.</summary>
    public static void DamageVariable(string path, string name, int index)
    {
        var bytes = File.ReadAllBytes(path);
        var live = Read(bytes, path).Where(v => v.Name == name && v.State == VarAdded).ToList();
        if (live.Count != 1)
        {
            throw new InvalidOperationException($"{path}: {live.Count} live copies of {name}, expected exactly 1");
        }
        if (index < 0 || index >= live[0].DataSize)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"{name} holds {live[0].DataSize} bytes");
        }
        bytes[live[0].DataOffset + index] ^= 0xFF;
        File.WriteAllBytes(path, bytes);
    }
}

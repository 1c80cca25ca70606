using System.Buffers.Binary;
using Ppn.Mesh.Sync;
using Ppn.UefiVars;

namespace Ppn.Appliance;

/// <summary>
/// The highest peer-set serial this node accepted (docs/protocol/sync.md §Node state), in the UEFI variable
/// <c>PpnPeerSetSerial</c>: 16 bytes, the serial big-endian and its complement (a torn or foreign write reads as
/// none, never as a different serial). Written, read back and compared, like the replay state.
/// </summary>
public sealed class UefiSerialFloor(IVariableStore store) : ISerialFloor
{
    public static readonly VariableName Variable = VariableName.Ppn("PpnPeerSetSerial");
    private const VariableAttributes Attributes = VariableAttributes.NonVolatileBootRuntime;

    public ulong Load()
    {
        var v = store.TryRead(Variable);
        if (v is not { Data.Length: 16 }) return 0;
        ulong serial = BinaryPrimitives.ReadUInt64BigEndian(v.Data);
        return BinaryPrimitives.ReadUInt64BigEndian(v.Data.AsSpan(8)) == ~serial ? serial : 0;
    }

    public void Save(ulong serial)
    {
        Span<byte> record = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(record, serial);
        BinaryPrimitives.WriteUInt64BigEndian(record[8..], ~serial);
        store.Write(Variable, Attributes, record, WriteMode.CreateOrReplace);
        if (store.ReadBack(Variable, record) is var back and not ReadBack.Same)
        {
            throw new IOException($"{Variable} read back {back.Describe()} from {store.Location}: the highest accepted peer-set serial is not persisted");
        }
    }
}

using Ppn.Mesh.Sync;
using Ppn.UefiVars;

namespace Ppn.Appliance;

/// <summary>
/// The relay's roster (docs/protocol/sync.md §Relay roster) in the UEFI variables <c>PpnRelayRoster0</c> ..
/// <c>PpnRelayRoster3</c>, one chunk each (at most 4 KiB, under the portable 8 KiB per-variable limit). Every chunk is
/// written, read back and compared, like the serial floor. Store errors are <see cref="VariableStoreException"/>s
/// (IOExceptions that say which variable in which store and what to do).
/// </summary>
public sealed class UefiRelayRosterStore(IVariableStore store) : IRelayRosterStore
{
    private const VariableAttributes Attributes = VariableAttributes.NonVolatileBootRuntime;
    public static readonly IReadOnlyList<VariableName> Variables = [.. Enumerable.Range(0, RelayRoster.MaxChunks).Select(i => VariableName.Ppn($"PpnRelayRoster{i}"))];

    public byte[]? Read(int index) => store.TryRead(Variables[index])?.Data;

    public void Write(int index, ReadOnlySpan<byte> value)
    {
        var name = Variables[index];
        store.Write(name, Attributes, value, WriteMode.CreateOrReplace);
        if (store.ReadBack(name, value) is var back and not ReadBack.Same)
        {
            throw new IOException($"{name} read back {back.Describe()} from {store.Location}: the relay roster is not persisted");
        }
    }

    public void Delete(int index)
    {
        try
        {
            if (store.TryRead(Variables[index]) is not null) store.Delete(Variables[index]);
        }
        catch (VariableStoreException e) when (e.Kind == VariableErrorKind.NotFound)
        {
            // gone between the read and the delete: what was asked
        }
    }

    /// <summary>
    /// Genesis reset: the serial floor and the relay roster (the next enrolment may be under another authority, whose
    /// serials start again). The roster first: a reset cut between the two leaves a floor and no roster, never a roster
    /// above no floor.
    /// </summary>
    public static void EraseWithFloor(IVariableStore store)
    {
        RelayRosterKeeping.Erase(new UefiRelayRosterStore(store));
        if (store.TryRead(UefiSerialFloor.Variable) is not null) store.Delete(UefiSerialFloor.Variable);
    }
}

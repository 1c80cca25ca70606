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

    /// <summary>
    /// A spoke that genesis enrolled in this run (join or claim, not a restored enrolment) starts without a serial
    /// floor or roster: they belong to the enrolment before, and the new one may be under another authority whose
    /// serials start again (sync.md §Node state). The genesis reset erases them too, but a power cut after it deleted
    /// the enrolment, or the mesh sync agent still running until the reboot, can leave a floor behind; without this
    /// the new enrolment's sets would be refused as <c>NotNewer</c> until its serials passed the old floor. Only an
    /// enrolment the pinned authority made can trigger it, and before the mesh sync agent starts. Returns whether
    /// anything was erased; a store failure is said and the floor stays (the sets below it are then refused and counted).
    /// </summary>
    public static bool ForgetAtNewEnrolment(IVariableStore store, bool enrolledThisRun, Action<string> log)
    {
        if (!enrolledThisRun) return false;
        try
        {
            bool held = store.TryRead(UefiSerialFloor.Variable) is not null ||
                Variables.Any(v => store.TryRead(v) is not null);
            if (!held) return false;
            ulong floor = new UefiSerialFloor(store).Load();
            EraseWithFloor(store);
            log($"new enrolment: the peer-set serial floor ({floor}) and relay roster of the enrolment before it are erased");
            return true;
        }
        catch (IOException e)
        {
            log($"new enrolment: the peer-set serial floor of the enrolment before it cannot be erased ({e.Message}); sets below it are refused");
            return false;
        }
    }
}

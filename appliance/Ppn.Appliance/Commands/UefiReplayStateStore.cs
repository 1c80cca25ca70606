using Ppn.Commands;
using Ppn.UefiVars;

namespace Ppn.Appliance.Commands;

/// <summary>
/// The command replay state (docs/protocol/commands.md §Reboot safety) in UEFI variable storage, beside the
/// identity and the enrolment: <c>PpnReplayState</c> holds the 16-byte record (epoch + floor), written once per
/// reserved counter block, never per command. <c>PpnCommandEpoch</c> remembers the newest epoch the node has
/// moved to (written before the replay record whenever the epoch changes), so a lost replay record forces the
/// epoch after that one rather than one the authority has already used (§Lost replay state).
/// </summary>
public sealed class UefiReplayStateStore(IVariableStore store) : IReplayStateStore
{
    public static readonly VariableName ReplayVariable = VariableName.Ppn("PpnReplayState");
    public static readonly VariableName EpochVariable = VariableName.Ppn("PpnCommandEpoch");
    private const VariableAttributes Attributes = VariableAttributes.NonVolatileBootRuntime;

    public ReplayStateLoad Load(out ReplayState state)
    {
        state = default;
        var v = store.TryRead(ReplayVariable);
        if (v is null) return ReplayStateLoad.Missing;
        return ReplayState.TryReadRecord(v.Data, out state) ? ReplayStateLoad.Ok : ReplayStateLoad.Corrupt;
    }

    /// <summary>Durable when it returns: written, then read back and compared; throws when the store refused.</summary>
    public void Save(ReplayState state)
    {
        if (LastKnownEpoch() != state.Epoch)
        {
            WriteVerified(EpochVariable, EpochRecord(state.Epoch));
        }
        Span<byte> record = stackalloc byte[ReplayState.RecordSize];
        state.WriteRecord(record);
        WriteVerified(ReplayVariable, record);
    }

    /// <summary>The epoch of the last rotation this node made, or null when none was recorded (or the record is damaged).</summary>
    public byte? LastKnownEpoch()
    {
        var v = store.TryRead(EpochVariable);
        if (v is null || v.Data.Length != 2 || v.Data[0] > CommandPacket.MaxEpoch || v.Data[1] != (byte)~v.Data[0]) return null;
        return v.Data[0];
    }

    /// <summary>
    /// The epoch the verifier falls back from when the replay record is gone: the recorded rotation if any,
    /// else the enrolment grant's epoch.
    /// </summary>
    public byte LastKnownEpoch(byte grantEpoch) => LastKnownEpoch() ?? grantEpoch;

    /// <summary>Genesis reset: the next identity has new command keys, so the old state means nothing.</summary>
    public void Erase()
    {
        foreach (var name in new[] { ReplayVariable, EpochVariable })
        {
            if (store.TryRead(name) is not null) store.Delete(name);
        }
    }

    // Epoch byte and its complement: a torn or foreign write is told apart from a real epoch.
    private static byte[] EpochRecord(byte epoch) => [epoch, (byte)~epoch];

    private void WriteVerified(VariableName name, ReadOnlySpan<byte> data)
    {
        store.Write(name, Attributes, data, WriteMode.CreateOrReplace);
        if (store.ReadBack(name, data) is var back and not ReadBack.Same)
        {
            throw new IOException($"{name} read back {back.Describe()} from {store.Location}: replay state not persisted");
        }
    }
}

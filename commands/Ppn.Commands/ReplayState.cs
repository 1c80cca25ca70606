using System.Buffers.Binary;
using Geralt;

namespace Ppn.Commands;

/// <summary>
/// What survives a reboot: the epoch in force and the floor (every counter at or below it is rejected after boot).
/// The floor is the end of the last reserved counter block (docs/protocol/commands.md §Replay).
/// </summary>
public readonly record struct ReplayState(byte Epoch, uint Floor)
{
    public const int RecordSize = 16;
    private static ReadOnlySpan<byte> Magic => "PRS1"u8;

    /// <summary>"PRS1" | epoch | 3 zero bytes | floor (uint32 BE) | first 4 bytes of BLAKE2b-256(bytes 0..11).</summary>
    public void WriteRecord(Span<byte> record)
    {
        record[..RecordSize].Clear();
        Magic.CopyTo(record);
        record[4] = Epoch;
        BinaryPrimitives.WriteUInt32BigEndian(record[8..], Floor);
        Span<byte> hash = stackalloc byte[32];
        BLAKE2b.ComputeHash(hash, record[..12]);
        hash[..4].CopyTo(record[12..]);
    }

    /// <summary>False for a record of the wrong size, magic, epoch range, padding or check (a torn or foreign write).</summary>
    public static bool TryReadRecord(ReadOnlySpan<byte> record, out ReplayState state)
    {
        state = default;
        if (record.Length != RecordSize || !record[..4].SequenceEqual(Magic)) return false;
        if (record[4] > CommandPacket.MaxEpoch || record[5] != 0 || record[6] != 0 || record[7] != 0) return false;
        Span<byte> hash = stackalloc byte[32];
        BLAKE2b.ComputeHash(hash, record[..12]);
        if (!hash[..4].SequenceEqual(record[12..16])) return false;
        state = new ReplayState(record[4], BinaryPrimitives.ReadUInt32BigEndian(record[8..]));
        return true;
    }
}

public enum ReplayStateLoad
{
    Ok,
    /// <summary>No record: never written, or erased.</summary>
    Missing,
    /// <summary>A record that fails its check: torn write, foreign data.</summary>
    Corrupt,
}

/// <summary>
/// Durable storage for <see cref="ReplayState"/>. The appliance backs it with a UEFI variable; <see cref="Save"/>
/// must be durable when it returns (the verifier accepts the counter only afterwards) and throw when it is not.
/// It is called once per reserved counter block and on epoch changes, never per command.
/// </summary>
public interface IReplayStateStore
{
    ReplayStateLoad Load(out ReplayState state);
    /// <summary>Also records the epoch outside the replay record whenever it changes, before the record (§Lost replay state).</summary>
    void Save(ReplayState state);
    /// <summary>
    /// The newest epoch recorded outside the replay record (the appliance's <c>PpnCommandEpoch</c>), or null when none
    /// was recorded or that record is damaged: what §Lost replay state moves past.
    /// </summary>
    byte? LastKnownEpoch();
}

public enum ReplayEnrolmentOutcome
{
    /// <summary>No command state for this identity: (grant epoch, floor 0) written.</summary>
    FirstEnrolment,
    /// <summary>A valid replay record: kept as it is, whatever the grant's epoch (no counter is ever reopened).</summary>
    Kept,
    /// <summary>The record is gone or damaged but the node had command state: moved to last_known + 1, floor 0.</summary>
    LostState,
}

/// <summary>
/// What an enrolment (join or claim) does to the command replay state (docs/protocol/commands.md §Enrolment and
/// the replay state). A re-enrolment of the same identity (a damaged enrolment record, a beacon rescan, a second
/// claim) never reopens a counter already used: the persisted record wins over the grant.
/// </summary>
public static class ReplayEnrolment
{
    public static ReplayEnrolmentOutcome Apply(IReplayStateStore store, byte grantEpoch, out ReplayState state) =>
        Apply(store, grantEpoch, out state, out _);

    /// <param name="found">How the replay record loaded before the rule ran: <see cref="ReplayStateLoad.Missing"/> or
    /// <see cref="ReplayStateLoad.Corrupt"/> with <see cref="ReplayEnrolmentOutcome.LostState"/> is a loss the node must
    /// report (telemetry's <c>ppn_command_replay_state_at_boot</c>) although the record it leaves behind loads ok.</param>
    public static ReplayEnrolmentOutcome Apply(IReplayStateStore store, byte grantEpoch, out ReplayState state, out ReplayStateLoad found)
    {
        if (grantEpoch > CommandPacket.MaxEpoch) throw new ArgumentOutOfRangeException(nameof(grantEpoch), grantEpoch, "grant epochs are 0..15");
        var load = found = store.Load(out state);
        if (load == ReplayStateLoad.Ok)
        {
            return ReplayEnrolmentOutcome.Kept;
        }
        var lastKnown = store.LastKnownEpoch();
        if (load == ReplayStateLoad.Missing && lastKnown is null)
        {
            state = new ReplayState(grantEpoch, 0);
            store.Save(state);
            return ReplayEnrolmentOutcome.FirstEnrolment;
        }
        // Corrupt (something was written before) or missing beside a recorded epoch: commands may have been accepted
        // in lastKnown (or the grant's epoch); only a never-used epoch is safe.
        state = new ReplayState((byte)(((lastKnown ?? grantEpoch) + 1) & CommandPacket.MaxEpoch), 0);
        store.Save(state);
        return ReplayEnrolmentOutcome.LostState;
    }
}

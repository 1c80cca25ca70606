using System.Runtime.CompilerServices;

namespace Ppn.Commands;

/// <summary>Outcome of verifying one datagram, in the order the checks run (docs/protocol/commands.md §Verify order).</summary>
public enum CommandVerdict : byte
{
    Accepted = 0,
    WrongLength = 1,
    BadVersion = 2,
    StaleEpoch = 3,
    BadIntent = 4,
    WrongTarget = 5,
    BadTag = 6,
    Replay = 7,
    PersistFailed = 8,
}

public static class CommandVerdicts
{
    public const int Count = 9;

    /// <summary>The spec's token ("bad-tag"), used in vectors, JSON and the journal.</summary>
    public static string Token(this CommandVerdict verdict) => verdict switch
    {
        CommandVerdict.Accepted => "accept",
        CommandVerdict.WrongLength => "wrong-length",
        CommandVerdict.BadVersion => "bad-version",
        CommandVerdict.StaleEpoch => "stale-epoch",
        CommandVerdict.BadIntent => "bad-intent",
        CommandVerdict.WrongTarget => "wrong-target",
        CommandVerdict.BadTag => "bad-tag",
        CommandVerdict.Replay => "replay",
        CommandVerdict.PersistFailed => "persist-failed",
        _ => "unknown",
    };

    public static bool TryParseToken(string token, out CommandVerdict verdict)
    {
        for (int i = 0; i < Count; i++)
        {
            if (((CommandVerdict)i).Token() == token)
            {
                verdict = (CommandVerdict)i;
                return true;
            }
        }
        verdict = default;
        return false;
    }
}

/// <summary>Per-verdict totals since start; written by the receive thread, readable from any thread.</summary>
public sealed class VerdictCounters
{
    private readonly long[] _counts = new long[CommandVerdicts.Count];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Increment(CommandVerdict verdict) => Interlocked.Increment(ref _counts[(int)verdict]);

    public long this[CommandVerdict verdict] => Interlocked.Read(ref _counts[(int)verdict]);

    public long Rejected
    {
        get
        {
            long sum = 0;
            for (int i = 1; i < _counts.Length; i++) sum += Interlocked.Read(ref _counts[i]);
            return sum;
        }
    }

    public void CopyTo(Span<long> destination)
    {
        for (int i = 0; i < _counts.Length; i++) destination[i] = Interlocked.Read(ref _counts[i]);
    }
}

/// <summary>Which selectors address this node: its 14-bit node id, its group ids, and "all".</summary>
public sealed class NodeAddressing
{
    private readonly ushort[] _groups;

    public NodeAddressing(ushort nodeId, params ReadOnlySpan<ushort> groupIds)
    {
        if (nodeId > TargetSelector.MaxId) throw new ArgumentOutOfRangeException(nameof(nodeId), "14 bits");
        foreach (var g in groupIds)
        {
            if (g > TargetSelector.MaxId) throw new ArgumentOutOfRangeException(nameof(groupIds), "14 bits");
        }
        NodeId = nodeId;
        _groups = groupIds.ToArray();
    }

    public ushort NodeId { get; }
    public ReadOnlySpan<ushort> GroupIds => _groups;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Matches(TargetSelector target) => target.Kind switch
    {
        TargetKind.Node => target.Id == NodeId,
        TargetKind.Group => Array.IndexOf(_groups, target.Id) >= 0,
        TargetKind.All => target.Id == 0,
        _ => false,
    };
}

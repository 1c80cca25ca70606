namespace Ppn.Commands;

/// <summary>
/// The node's acceptance logic (docs/protocol/commands.md §Verify order): length → version → epoch → intent →
/// target → tag (constant time) → replay window → persistence → accept. Allocation-free per datagram.
/// Several receive threads may verify at once (the listener's SO_REUSEPORT receivers): the checks up to the tag
/// read only the keys and the current epoch and run in parallel; the replay window, the epoch move and the
/// persisted floor are one critical section, which only authentic datagrams reach, so forgeries never contend.
/// <see cref="Counters"/> may be read from anywhere.
/// </summary>
public sealed class CommandVerifier
{
    /// <summary>Counters are reserved in blocks of this size; the floor persisted is the end of a block.</summary>
    public const uint BlockSize = 256;

    private readonly CommandKeyring _keys;
    private readonly NodeAddressing _node;
    private readonly IReplayStateStore _store;
    private readonly ReplayWindow _window = new();
    private readonly Lock _state = new();
    private volatile byte _epoch;
    private uint _bootFloor;
    private uint _reservedThrough;
    private ulong _acceptedSequence;

    /// <param name="keys">The node's keyring (<see cref="CommandKeyring.ForNode"/>); owned by the caller.</param>
    /// <param name="lastKnownEpoch">
    /// The epoch the node was last told of outside the replay record (the enrolment record). Used only when the
    /// replay state is missing or corrupt: the node then moves to <c>lastKnownEpoch + 1</c> and never accepts
    /// <paramref name="lastKnownEpoch"/> again, so commands captured before the loss cannot be replayed.
    /// </param>
    public CommandVerifier(CommandKeyring keys, NodeAddressing node, IReplayStateStore store, byte lastKnownEpoch)
    {
        if (lastKnownEpoch > CommandPacket.MaxEpoch) throw new ArgumentOutOfRangeException(nameof(lastKnownEpoch));
        if (!keys.Verifies) throw new ArgumentException("a verifier needs the node's keyring (CommandKeyring.ForNode); an authority keyring only seals", nameof(keys));
        _keys = keys;
        _node = node;
        _store = store;
        StartupLoad = store.Load(out var state);
        if (StartupLoad == ReplayStateLoad.Ok)
        {
            _epoch = state.Epoch;
            _bootFloor = _reservedThrough = state.Floor;
        }
        else
        {
            // Fail closed: a new epoch has a new key, so nothing sealed under the old one verifies any more.
            _epoch = (byte)((lastKnownEpoch + 1) & CommandPacket.MaxEpoch);
            _bootFloor = _reservedThrough = 0;
            store.Save(new ReplayState(_epoch, 0));
        }
    }

    public ReplayStateLoad StartupLoad { get; }
    /// <summary>Which target selectors address this node (the listener's in-kernel prefilter is built from it).</summary>
    public NodeAddressing Addressing => _node;
    public byte Epoch => _epoch;
    /// <summary>Counters at or below this were possibly accepted before the last boot and are rejected.</summary>
    public uint BootFloor => _bootFloor;
    /// <summary>The persisted floor: end of the highest reserved block.</summary>
    public uint ReservedThrough => _reservedThrough;
    public uint HighestAccepted => _window.Highest;
    public ulong AcceptedSequence => _acceptedSequence;
    public VerdictCounters Counters { get; } = new();

    /// <summary>The end of the block holding <paramref name="counter"/>: the floor persisted before accepting it.</summary>
    public static uint BlockEnd(uint counter) => counter | (BlockSize - 1);

    public CommandVerdict Verify(ReadOnlySpan<byte> datagram, out CommandPacket packet) =>
        Verify(datagram, out packet, out _);

    /// <param name="acceptedSequence">For an accepted command, its 1-based position among all accepted commands
    /// since start (the genesis-reset arm/confirm pairing counts in these).</param>
    public CommandVerdict Verify(ReadOnlySpan<byte> datagram, out CommandPacket packet, out ulong acceptedSequence)
    {
        var verdict = Check(datagram, out packet, out acceptedSequence);
        Counters.Increment(verdict);
        return verdict;
    }

    private CommandVerdict Check(ReadOnlySpan<byte> datagram, out CommandPacket packet, out ulong acceptedSequence)
    {
        acceptedSequence = 0;
        if (!CommandPacket.TryParse(datagram, out packet)) return CommandVerdict.WrongLength;
        if (packet.Version != CommandPacket.CurrentVersion) return CommandVerdict.BadVersion;

        byte current = _epoch;
        if (packet.Epoch != current && packet.Epoch != ((current + 1) & CommandPacket.MaxEpoch)) return CommandVerdict.StaleEpoch;

        if (!packet.IsKnownIntent || !CommandPacket.IsValidArgument(packet.Intent, packet.Argument)) return CommandVerdict.BadIntent;
        if (!_node.Matches(packet.Target)) return CommandVerdict.WrongTarget;

        if (!_keys.TagMatches(datagram, packet.Epoch)) return CommandVerdict.BadTag;

        lock (_state)
        {
            // The epoch may have moved since the unlocked check (another receiver accepted a rotation): decide again.
            bool rotating;
            if (packet.Epoch == _epoch) rotating = false;
            else if (packet.Epoch == ((_epoch + 1) & CommandPacket.MaxEpoch)) rotating = true;
            else return CommandVerdict.StaleEpoch;

            uint counter = packet.Counter;
            if (rotating)
            {
                if (counter == 0) return CommandVerdict.Replay;
                var floor = BlockEnd(counter);
                if (!TrySave(new ReplayState(packet.Epoch, floor))) return CommandVerdict.PersistFailed;
                _bootFloor = 0;
                _reservedThrough = floor;
                _window.Reset();
                _epoch = packet.Epoch;
            }
            else
            {
                if (counter <= _bootFloor || !_window.IsFresh(counter)) return CommandVerdict.Replay;
                if (counter > _reservedThrough)
                {
                    var floor = BlockEnd(counter);
                    if (!TrySave(new ReplayState(_epoch, floor))) return CommandVerdict.PersistFailed;
                    _reservedThrough = floor;
                }
            }

            _window.MarkSeen(counter);
            acceptedSequence = ++_acceptedSequence;
            return CommandVerdict.Accepted;
        }
    }

    private bool TrySave(ReplayState state)
    {
        // Reached only by authentic, fresh commands, so an exception here is not a forgery-driven cost.
        try
        {
            _store.Save(state);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return false;
        }
    }
}

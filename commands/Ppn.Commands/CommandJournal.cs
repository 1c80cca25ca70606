using System.Buffers.Binary;
using System.Net;

namespace Ppn.Commands;

/// <summary>Where a datagram came from: an IPv6 address (IPv4 as ::ffff:a.b.c.d) and a UDP port, without allocation.</summary>
public readonly struct CommandSource : IEquatable<CommandSource>
{
    private readonly ulong _high;
    private readonly ulong _low;

    public CommandSource(ReadOnlySpan<byte> ipv6Address, ushort port)
    {
        _high = BinaryPrimitives.ReadUInt64BigEndian(ipv6Address);
        _low = BinaryPrimitives.ReadUInt64BigEndian(ipv6Address[8..]);
        Port = port;
    }

    private CommandSource(ulong high, ulong low, ushort port)
    {
        _high = high;
        _low = low;
        Port = port;
    }

    /// <summary>An IPv4 source as ::ffff:a.b.c.d (the receive path calls this per datagram: no copy).</summary>
    public static CommandSource FromIPv4(ReadOnlySpan<byte> ipv4Address, ushort port) =>
        new(0, 0x0000_FFFF_0000_0000UL | BinaryPrimitives.ReadUInt32BigEndian(ipv4Address), port);

    public static CommandSource From(IPEndPoint endPoint)
    {
        Span<byte> bytes = stackalloc byte[16];
        endPoint.Address.MapToIPv6().TryWriteBytes(bytes, out _);
        return new CommandSource(bytes, (ushort)endPoint.Port);
    }

    public ushort Port { get; }

    public IPAddress Address
    {
        get
        {
            Span<byte> bytes = stackalloc byte[16];
            BinaryPrimitives.WriteUInt64BigEndian(bytes, _high);
            BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], _low);
            var address = new IPAddress(bytes);
            return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        }
    }

    public bool Equals(CommandSource other) => _high == other._high && _low == other._low && Port == other.Port;
    public override bool Equals(object? obj) => obj is CommandSource other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(_high, _low, Port);

    public override string ToString()
    {
        var address = Address;
        return address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]:{Port}" : $"{address}:{Port}";
    }
}

/// <summary>What the dispatcher did with an accepted command.</summary>
public enum DispatchOutcome : byte
{
    /// <summary>Not dispatched (a rejected datagram, or the receive-side record of an accepted one).</summary>
    None = 0,
    Executed = 1,
    Armed = 2,
    ConfirmWithoutArm = 3,
    ConfirmNotNext = 4,
    ConfirmExpired = 5,
    ConfirmMismatch = 6,
    EffectFailed = 7,
    /// <summary>The executor queue was full; the command was authentic but not executed.</summary>
    QueueFull = 8,
}

public static class DispatchOutcomes
{
    /// <summary>The number of <see cref="DispatchOutcome"/> values (None..QueueFull).</summary>
    public const int Count = (int)DispatchOutcome.QueueFull + 1;
}

public readonly record struct CommandJournalEntry(
    long MonotonicNanoseconds,
    CommandVerdict Verdict,
    DispatchOutcome Outcome,
    byte IntentCode,
    byte Argument,
    TargetSelector Target,
    uint Counter,
    byte Epoch,
    CommandSource Source,
    string? FailureReason = null)
{
    public string IntentToken => CommandPacket.IntentToken(IntentCode);
}

/// <summary>
/// Bounded local history for `ppn status`: two rings, so a flood of forged datagrams can overwrite the rejected
/// history but never push accepted commands (and their dispatch outcomes) out. Appending does not allocate.
/// </summary>
public sealed class CommandJournal
{
    private readonly Ring _accepted;
    private readonly Ring _rejected;
    // Totals since start for telemetry (docs/telemetry.md): accepted commands per 4-bit intent code and per dispatch
    // outcome. The rings keep only the latest entries; these never wrap.
    private readonly long[] _acceptedByIntent = new long[16];
    private readonly long[] _acceptedByOutcome = new long[DispatchOutcomes.Count];

    public CommandJournal(int acceptedCapacity = 64, int rejectedCapacity = 256)
    {
        _accepted = new Ring(acceptedCapacity);
        _rejected = new Ring(rejectedCapacity);
    }

    public void Record(in CommandJournalEntry entry)
    {
        if (entry.Verdict == CommandVerdict.Accepted)
        {
            Interlocked.Increment(ref _acceptedByIntent[entry.IntentCode & 0xF]);
            Interlocked.Increment(ref _acceptedByOutcome[Math.Min((int)entry.Outcome, DispatchOutcomes.Count - 1)]);
        }
        (entry.Verdict == CommandVerdict.Accepted ? _accepted : _rejected).Add(entry);
    }

    /// <summary>
    /// Rejected datagrams of one receive batch, oldest first, under one lock: the listener's path for a flood of
    /// forgeries (docs/performance.md). Every entry must have a verdict other than Accepted.
    /// </summary>
    public void RecordRejected(ReadOnlySpan<CommandJournalEntry> entries)
    {
        foreach (var e in entries)
        {
            if (e.Verdict == CommandVerdict.Accepted) throw new ArgumentException("an accepted command is recorded with Record, not among the rejected", nameof(entries));
        }
        _rejected.AddRange(entries);
    }

    /// <summary>Accepted commands (dispatched or dropped at a full executor queue) with this 4-bit intent code, since start.</summary>
    public long AcceptedWithIntent(byte intentCode) => Interlocked.Read(ref _acceptedByIntent[intentCode & 0xF]);

    /// <summary>Accepted commands whose dispatch ended in <paramref name="outcome"/>, since start.</summary>
    public long AcceptedWithOutcome(DispatchOutcome outcome) => (int)outcome < DispatchOutcomes.Count ? Interlocked.Read(ref _acceptedByOutcome[(int)outcome]) : 0;

    /// <summary>Accepted commands and their dispatch records, oldest first.</summary>
    public CommandJournalEntry[] Accepted() => _accepted.Snapshot();

    /// <summary>The most recent rejected datagrams, oldest first.</summary>
    public CommandJournalEntry[] Rejected() => _rejected.Snapshot();

    public long AcceptedTotal => _accepted.Total;
    public long RejectedTotal => _rejected.Total;

    private sealed class Ring(int capacity)
    {
        private readonly CommandJournalEntry[] _entries = new CommandJournalEntry[capacity];
        private readonly Lock _lock = new();
        private long _total;
        private int _next; // == _total % capacity, kept without a division per entry

        public long Total
        {
            get
            {
                lock (_lock) return _total;
            }
        }

        public void Add(in CommandJournalEntry entry)
        {
            lock (_lock)
            {
                _entries[_next] = entry;
                _next = _next + 1 == _entries.Length ? 0 : _next + 1;
                _total++;
            }
        }

        public void AddRange(ReadOnlySpan<CommandJournalEntry> entries)
        {
            if (entries.IsEmpty) return;
            lock (_lock)
            {
                // Only the newest `capacity` can stay; the older ones still count in the total.
                var kept = entries.Length > _entries.Length ? entries[^_entries.Length..] : entries;
                _next = (int)((_total + entries.Length - kept.Length) % _entries.Length);
                foreach (var entry in kept)
                {
                    _entries[_next] = entry;
                    _next = _next + 1 == _entries.Length ? 0 : _next + 1;
                }
                _total += entries.Length;
            }
        }

        public CommandJournalEntry[] Snapshot()
        {
            lock (_lock)
            {
                int count = (int)Math.Min(_total, _entries.Length);
                var result = new CommandJournalEntry[count];
                long start = _total - count;
                for (int i = 0; i < count; i++) result[i] = _entries[(int)((start + i) % _entries.Length)];
                return result;
            }
        }
    }
}

using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Ppn.Commands;

/// <summary>Intent codes (docs/protocol/commands.md §Intents): the high nibble of byte 1.</summary>
public enum CommandIntent : byte
{
    Noop = 0,
    Identify = 1,
    Reboot = 2,
    Poweroff = 3,
    NicRetune = 4,
    BeaconRescan = 5,
    GenesisResetArm = 6,
    GenesisResetConfirm = 7,
}

/// <summary>Target selector kind: the top two bits of bytes 2–3.</summary>
public enum TargetKind : byte
{
    Node = 0,
    Group = 1,
    All = 2,
    Reserved = 3,
}

/// <summary>Bytes 2–3: a 2-bit kind and a 14-bit id (node id or group id; 0 for <see cref="TargetKind.All"/>).</summary>
public readonly record struct TargetSelector(TargetKind Kind, ushort Id)
{
    public const ushort MaxId = 0x3FFF;

    public static TargetSelector Node(ushort nodeId) => new(TargetKind.Node, Checked(nodeId));
    public static TargetSelector Group(ushort groupId) => new(TargetKind.Group, Checked(groupId));
    public static TargetSelector All => new(TargetKind.All, 0);

    public ushort Encode() => (ushort)(((int)Kind << 14) | (Id & MaxId));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TargetSelector Decode(ushort raw) => new((TargetKind)(raw >> 14), (ushort)(raw & MaxId));

    private static ushort Checked(ushort id) =>
        id <= MaxId ? id : throw new ArgumentOutOfRangeException(nameof(id), id, "target ids are 14 bits (0..16383)");

    public override string ToString() => Kind switch
    {
        TargetKind.Node => $"node {Id}",
        TargetKind.Group => $"group {Id}",
        TargetKind.All => Id == 0 ? "all" : $"all (non-zero id {Id})",
        _ => $"reserved kind 3, id {Id}",
    };
}

/// <summary>
/// One 16-byte command (docs/protocol/commands.md §Layout):
/// byte 0 = version(4) | epoch(4); byte 1 = intent(4) | argument(4); bytes 2–3 = target selector (BE);
/// bytes 4–7 = counter (uint32 BE); bytes 8–15 = tag (first 8 bytes of keyed BLAKE2b-256 over bytes 0–7).
/// Parsing only splits fields; whether they are acceptable is <see cref="CommandVerifier"/>'s job.
/// </summary>
public readonly struct CommandPacket
{
    public const int Size = 16;
    public const int AuthenticatedSize = 8;
    public const int TagSize = 8;
    public const byte CurrentVersion = 1;
    public const byte MaxEpoch = 15;
    public const byte MaxArgument = 15;

    public CommandPacket(byte version, byte epoch, byte intent, byte argument, TargetSelector target, uint counter, ulong tag)
    {
        if (version > 15) throw new ArgumentOutOfRangeException(nameof(version), "4 bits");
        if (epoch > MaxEpoch) throw new ArgumentOutOfRangeException(nameof(epoch), "4 bits");
        if (intent > 15) throw new ArgumentOutOfRangeException(nameof(intent), "4 bits");
        if (argument > MaxArgument) throw new ArgumentOutOfRangeException(nameof(argument), "4 bits");
        Version = version;
        Epoch = epoch;
        IntentCode = intent;
        Argument = argument;
        Target = target;
        Counter = counter;
        Tag = tag;
    }

    // On the 8090 hot path (every datagram the prefilter passes): bytes 0–7 are read as one big-endian word.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private CommandPacket(ReadOnlySpan<byte> b)
    {
        ulong header = BinaryPrimitives.ReadUInt64BigEndian(b);
        Version = (byte)(header >> 60);
        Epoch = (byte)((header >> 56) & 0x0F);
        IntentCode = (byte)((header >> 52) & 0x0F);
        Argument = (byte)((header >> 48) & 0x0F);
        Target = TargetSelector.Decode((ushort)(header >> 32));
        Counter = (uint)header;
        Tag = BinaryPrimitives.ReadUInt64BigEndian(b[AuthenticatedSize..]);
    }

    public byte Version { get; }
    public byte Epoch { get; }
    /// <summary>The raw 4-bit intent code; <see cref="IsKnownIntent"/> says whether it names a <see cref="CommandIntent"/>.</summary>
    public byte IntentCode { get; }
    public CommandIntent Intent => (CommandIntent)IntentCode;
    public byte Argument { get; }
    public TargetSelector Target { get; }
    public uint Counter { get; }
    /// <summary>Bytes 8–15 read big-endian (so the hex of the tag reads as on the wire).</summary>
    public ulong Tag { get; }

    public bool IsKnownIntent => IntentCode <= (byte)CommandIntent.GenesisResetConfirm;

    /// <summary>Splits 16 bytes into fields; false (never an exception) for any other length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParse(ReadOnlySpan<byte> bytes, out CommandPacket packet)
    {
        if (bytes.Length != Size)
        {
            packet = default;
            return false;
        }
        packet = new CommandPacket(bytes);
        return true;
    }

    /// <summary>Writes the 16 bytes; <paramref name="destination"/> must hold at least <see cref="Size"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        if (destination.Length < Size) throw new ArgumentException($"need {Size} bytes", nameof(destination));
        WriteHeader(destination);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Tag);
    }

    /// <summary>Bytes 0–7: the authenticated part the tag covers.</summary>
    public void WriteHeader(Span<byte> destination)
    {
        destination[0] = (byte)((Version << 4) | Epoch);
        destination[1] = (byte)((IntentCode << 4) | Argument);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], Target.Encode());
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], Counter);
    }

    public CommandPacket WithTag(ulong tag) => new(Version, Epoch, IntentCode, Argument, Target, Counter, tag);

    /// <summary>The spec's token for an intent code ("identify"), or "unknown-N".</summary>
    public static string IntentToken(byte code) => code switch
    {
        0 => "noop",
        1 => "identify",
        2 => "reboot",
        3 => "poweroff",
        4 => "nic-retune",
        5 => "beacon-rescan",
        6 => "genesis-reset-arm",
        7 => "genesis-reset-confirm",
        _ => $"unknown-{code}",
    };

    public static bool TryParseIntentToken(string token, out CommandIntent intent)
    {
        for (byte code = 0; code <= (byte)CommandIntent.GenesisResetConfirm; code++)
        {
            if (string.Equals(IntentToken(code), token, StringComparison.Ordinal))
            {
                intent = (CommandIntent)code;
                return true;
            }
        }
        intent = default;
        return false;
    }

    /// <summary>
    /// Whether <paramref name="argument"/> is valid for <paramref name="intent"/>: identify takes 0..15
    /// (0 = stop, n = n×10 s), the genesis-reset pair takes a 4-bit pairing code, every other intent takes 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsValidArgument(CommandIntent intent, byte argument) => intent switch
    {
        CommandIntent.Identify or CommandIntent.GenesisResetArm or CommandIntent.GenesisResetConfirm => argument <= MaxArgument,
        _ => argument == 0,
    };

    /// <summary>identify's LED duration: argument × 10 s (0 stops blinking).</summary>
    public static int IdentifySeconds(byte argument) => argument * 10;
}

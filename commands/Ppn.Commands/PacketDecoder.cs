using System.Text;
using System.Text.Json.Serialization;

namespace Ppn.Commands;

public enum TagCheck : byte
{
    NotChecked = 0,
    Valid = 1,
    Invalid = 2,
}

/// <summary>
/// Every field of a datagram in readable form, plus what can be judged without replay state (the technician's
/// `ppn packet decode &lt;hex&gt; [--key ...]`). The CLI prints <see cref="ToText"/> or <see cref="ToDocument"/>.
/// </summary>
public sealed class DecodedPacket
{
    public required string Hex { get; init; }
    public required int Length { get; init; }
    /// <summary>False when the length is not 16; then only <see cref="Hex"/>, <see cref="Length"/> and <see cref="Verdict"/> mean anything.</summary>
    public required bool Parsed { get; init; }
    public CommandPacket Packet { get; init; }
    public TagCheck Tag { get; init; }
    /// <summary>
    /// The first failing check that needs no replay state (wrong-length, bad-version, bad-intent, wrong-target when
    /// a node was given, bad-tag when a key was given), or Accepted when all those checks pass.
    /// Epoch staleness and replay depend on the node's state and are not judged here.
    /// </summary>
    public required CommandVerdict Verdict { get; init; }

    public string IntentToken => CommandPacket.IntentToken(Packet.IntentCode);

    public string ArgumentMeaning => Packet.Intent switch
    {
        _ when !Packet.IsKnownIntent => $"{Packet.Argument} (unknown intent)",
        CommandIntent.Identify => Packet.Argument == 0 ? "stop blinking" : $"blink {CommandPacket.IdentifySeconds(Packet.Argument)} s",
        CommandIntent.GenesisResetArm or CommandIntent.GenesisResetConfirm => $"pairing code {Packet.Argument}",
        _ => Packet.Argument == 0 ? "none" : $"{Packet.Argument} (must be 0)",
    };

    public string ToText()
    {
        var text = new StringBuilder();
        text.Append("packet   ").Append(Hex).Append(" (").Append(Length).Append(" bytes)\n");
        if (!Parsed)
        {
            text.Append("verdict  ").Append(Verdict.Token()).Append(": a command is exactly 16 bytes\n");
            return text.ToString();
        }
        var p = Packet;
        text.Append("version  ").Append(p.Version).Append(p.Version == CommandPacket.CurrentVersion ? "" : " (unsupported)").Append('\n');
        text.Append("epoch    ").Append(p.Epoch).Append('\n');
        text.Append("intent   ").Append(IntentToken).Append(" (0x").Append(p.IntentCode.ToString("x")).Append(")\n");
        text.Append("argument ").Append(ArgumentMeaning).Append('\n');
        text.Append("target   ").Append(p.Target.ToString()).Append('\n');
        text.Append("counter  ").Append(p.Counter).Append(" (block ").Append(p.Counter / CommandVerifier.BlockSize).Append(")\n");
        text.Append("tag      ").Append(p.Tag.ToString("x16"));
        text.Append(Tag switch { TagCheck.Valid => " (valid)", TagCheck.Invalid => " (INVALID)", _ => " (not checked: no key given)" }).Append('\n');
        text.Append("verdict  ").Append(Verdict.Token());
        if (Verdict == CommandVerdict.Accepted) text.Append(Tag == TagCheck.Valid ? " (epoch and replay depend on the node's state)" : " (structure only)");
        text.Append('\n');
        return text.ToString();
    }

    /// <summary>The `ppn packet decode --json` document: the fields only when the datagram parsed (16 bytes).</summary>
    public PacketDocument ToDocument()
    {
        if (!Parsed)
        {
            return new PacketDocument(Hex, Length, false, null, null, null, null, null, null, null, null, null, null, Verdict.Token());
        }
        var p = Packet;
        var kind = p.Target.Kind switch { TargetKind.Node => "node", TargetKind.Group => "group", TargetKind.All => "all", _ => "reserved" };
        return new PacketDocument(Hex, Length, true, p.Version, p.Epoch, IntentToken, p.IntentCode, p.Argument, ArgumentMeaning,
            new PacketTargetPart(kind, p.Target.Id), p.Counter, p.Tag.ToString("x16"),
            Tag switch { TagCheck.Valid => "valid", TagCheck.Invalid => "invalid", _ => "not-checked" }, Verdict.Token());
    }
}

/// <summary>A decoded datagram as `ppn packet decode --json` prints it (field names as docs/protocol/commands.md §Layout).</summary>
public sealed record PacketDocument(
    string Hex,
    int Length,
    bool Parsed,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Version,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Epoch,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Intent,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? IntentCode,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Argument,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ArgumentMeaning,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] PacketTargetPart? Target,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] uint? Counter,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Tag,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? TagCheck,
    string Verdict);

public sealed record PacketTargetPart(string Kind, int Id);

public static class PacketDecoder
{
    /// <summary>Hex with optional spaces, colons or a 0x prefix; false for anything else.</summary>
    public static bool TryParseHex(string text, out byte[] bytes)
    {
        var clean = new StringBuilder(text.Length);
        var span = text.AsSpan().Trim();
        if (span.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) span = span[2..];
        foreach (var c in span)
        {
            if (c is ' ' or ':' or '-') continue;
            clean.Append(c);
        }
        try
        {
            bytes = Convert.FromHexString(clean.ToString());
            return true;
        }
        catch (FormatException)
        {
            bytes = [];
            return false;
        }
    }

    /// <summary>Decodes without a key: structure only.</summary>
    public static DecodedPacket Decode(ReadOnlySpan<byte> datagram, NodeAddressing? node = null) =>
        Decode(datagram, default, false, node);

    /// <summary>Decodes and, with the node's (or authority's) keyring, checks the tag under the packet's epoch.</summary>
    public static DecodedPacket Decode(ReadOnlySpan<byte> datagram, CommandKeyring keys, NodeAddressing? node = null) =>
        Decode(datagram, PickKey(datagram, keys), datagram.Length == CommandPacket.Size, node);

    /// <summary>Decodes and checks the tag with an explicit 32-byte command key.</summary>
    public static DecodedPacket DecodeWithKey(ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> commandKey, NodeAddressing? node = null) =>
        Decode(datagram, commandKey, !commandKey.IsEmpty, node);

    private static ReadOnlySpan<byte> PickKey(ReadOnlySpan<byte> datagram, CommandKeyring keys) =>
        datagram.Length == CommandPacket.Size ? keys.Key(datagram[0] & 0x0F) : default;

    private static DecodedPacket Decode(ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> key, bool haveKey, NodeAddressing? node)
    {
        var hex = Convert.ToHexStringLower(datagram);
        if (!CommandPacket.TryParse(datagram, out var packet))
        {
            return new DecodedPacket { Hex = hex, Length = datagram.Length, Parsed = false, Verdict = CommandVerdict.WrongLength };
        }
        var tag = TagCheck.NotChecked;
        if (haveKey)
        {
            if (key.Length != CommandKeyring.KeySize) throw new ArgumentException("command keys are 32 bytes", nameof(key));
            tag = CommandKeyring.TagMatches(datagram, key) ? TagCheck.Valid : TagCheck.Invalid;
        }
        var verdict = packet.Version != CommandPacket.CurrentVersion ? CommandVerdict.BadVersion
            : !packet.IsKnownIntent || !CommandPacket.IsValidArgument(packet.Intent, packet.Argument) ? CommandVerdict.BadIntent
            : node is not null && !node.Matches(packet.Target) ? CommandVerdict.WrongTarget
            : tag == TagCheck.Invalid ? CommandVerdict.BadTag
            : CommandVerdict.Accepted;
        return new DecodedPacket { Hex = hex, Length = datagram.Length, Parsed = true, Packet = packet, Tag = tag, Verdict = verdict };
    }
}

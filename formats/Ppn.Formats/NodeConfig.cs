using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace Ppn.Formats;

/// <summary>One thing wrong with a node configuration: which field, what is wrong, what to do.</summary>
public sealed record NodeConfigError(string Field, string Problem, string Fix)
{
    public override string ToString() => $"{Field}: {Problem}; {Fix}";
}

/// <summary>
/// The node configuration an image carries at <c>/etc/ppn/node.json</c>: written by <c>ppn-image build --config</c>,
/// read by the appliance at boot. Format 2 (docs/image.md):
/// <code>
/// { "format": 2,
///   "authority": { "beaconSigningKeysEd25519": ["base64"], "noiseStaticKeysX25519": ["base64"] },
///   "scanWindowSeconds": 30, "beaconPeriodSeconds": 5, "commandGroups": [7] }
/// </code>
/// Only what the node uses: the hub and the command-key epoch come from the node's signed enrolment grant, the NIC
/// profile from the NIC's PCI id. Format 1 carried those three as well, unused; it is refused with that reason.
/// Parsed with <see cref="JsonDocument"/> (no reflection: the appliance is Native AOT). Unknown fields are errors
/// (a typo must not silently fall back to a default); every error names the field and what to do.
/// It lives in formats/ (base library and linux/ only) because the node, ppn-image and the rig all read or write it.
/// </summary>
public sealed class NodeConfig
{
    public const int CurrentFormat = 2;
    public const string ImagePath = "/etc/ppn/node.json";
    public const int MaxDocumentBytes = 64 * 1024;
    public const int MaxKeysPerRole = 8;
    public const int KeyLength = 32;

    /// <summary>Ed25519 public keys whose signatures on control-plane beacons the node accepts (pinned authority).</summary>
    public required IReadOnlyList<ReadOnlyMemory<byte>> AuthorityBeaconKeysEd25519 { get; init; }

    /// <summary>X25519 static public keys of the authority, the pinned responder keys of the Noise join handshake.</summary>
    public required IReadOnlyList<ReadOnlyMemory<byte>> AuthorityNoiseKeysX25519 { get; init; }

    /// <summary>How long the node listens for a beacon before it self-geneses.</summary>
    public required TimeSpan ScanWindow { get; init; }

    /// <summary>How often the control plane sends a beacon; at most the scan window, so a scan hears one.</summary>
    public required TimeSpan BeaconPeriod { get; init; }

    /// <summary>Command group ids (docs/protocol/commands.md target selector) this image's nodes answer to, besides their node id and "all".</summary>
    public IReadOnlyList<ushort> CommandGroups { get; init; } = [];

    public const int MaxCommandGroups = 16;
    public const int MaxCommandGroupId = 0x3FFF;

    private static readonly string[] TopLevel = ["format", "authority", "scanWindowSeconds", "beaconPeriodSeconds", "commandGroups"];
    private static readonly string[] AuthorityFields = ["beaconSigningKeysEd25519", "noiseStaticKeysX25519"];

    /// <summary>Parses and validates; never throws on hostile input. On failure <paramref name="errors"/> lists every problem found.</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8Json, [NotNullWhen(true)] out NodeConfig? config, out IReadOnlyList<NodeConfigError> errors)
    {
        config = null;
        var found = new List<NodeConfigError>();
        errors = found;
        if (utf8Json.Length > MaxDocumentBytes)
        {
            found.Add(new("(document)", $"is {utf8Json.Length} bytes, more than {MaxDocumentBytes}", "a node configuration is a few hundred bytes: check that the right file was given"));
            return false;
        }
        if (!System.Text.Unicode.Utf8.IsValid(utf8Json))
        {
            found.Add(new("(document)", "is not valid UTF-8", "save the file as UTF-8 text"));
            return false;
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json.ToArray(), new JsonDocumentOptions { MaxDepth = 8, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException e)
        {
            found.Add(new("(document)", $"is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})", "fix the JSON syntax (no comments, no trailing commas)"));
            return false;
        }
        using (document)
        {
            try
            {
                return Validate(document.RootElement, found, out config);
            }
            catch (InvalidOperationException e)
            {
                // A string JSON accepts but .NET cannot hold (a lone surrogate escape such as "\ud800").
                found.Add(new("(document)", $"holds text that cannot be decoded ({e.Message})", "remove \\u escapes from the configuration"));
                return false;
            }
        }
    }

    private static bool Validate(JsonElement root, List<NodeConfigError> found, [NotNullWhen(true)] out NodeConfig? config)
    {
        config = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            found.Add(new("(document)", $"is a JSON {Kind(root)}, not an object", "write the configuration as one JSON object (see docs/image.md)"));
            return false;
        }
        if (!root.TryGetProperty("format", out var format))
        {
            found.Add(new("format", "is missing", $"add \"format\": {CurrentFormat}"));
            return false;
        }
        if (format.ValueKind == JsonValueKind.Number && format.TryGetInt32(out var old) && old == 1)
        {
            found.Add(new("format", "is 1, which carried hub, commandKeyEpoch and nicProfile although the node never used them (the signed grant names the hub and the epoch, the NIC's PCI id its profile)",
                $"remove those three fields and write \"format\": {CurrentFormat}"));
            return false;
        }
        if (format.ValueKind != JsonValueKind.Number || !format.TryGetInt32(out var version) || version != CurrentFormat)
        {
            found.Add(new("format", $"is {format.GetRawText()}, this software reads format {CurrentFormat}", $"write a format {CurrentFormat} configuration, or use a ppn-image/ppn of the matching release"));
            return false;
        }
        RejectUnknown(root, "", TopLevel, found);

        List<ReadOnlyMemory<byte>> beaconKeys = [], noiseKeys = [];
        if (Required(root, "authority", "", found) is { } authority)
        {
            if (authority.ValueKind != JsonValueKind.Object)
            {
                found.Add(new("authority", $"is a JSON {Kind(authority)}, not an object", "write \"authority\": { \"beaconSigningKeysEd25519\": [...], \"noiseStaticKeysX25519\": [...] }"));
            }
            else
            {
                RejectUnknown(authority, "authority.", AuthorityFields, found);
                beaconKeys = KeyList(authority, "authority.beaconSigningKeysEd25519", "beaconSigningKeysEd25519", "Ed25519 beacon signing", found);
                noiseKeys = KeyList(authority, "authority.noiseStaticKeysX25519", "noiseStaticKeysX25519", "X25519 Noise static", found);
            }
        }

        var scanWindow = Integer(root, "scanWindowSeconds", 1, 3600, "the beacon scan window in whole seconds", found);
        var beaconPeriod = Integer(root, "beaconPeriodSeconds", 1, 600, "the control plane's beacon period in whole seconds", found);
        if (scanWindow is { } w && beaconPeriod is { } p && p > w)
        {
            found.Add(new("beaconPeriodSeconds", $"is {p} s, longer than scanWindowSeconds ({w} s): a scan could miss every beacon",
                "make the scan window at least one beacon period (two is safer)"));
        }

        var groups = Groups(root, found);

        if (found.Count > 0)
        {
            return false;
        }
        config = new NodeConfig
        {
            AuthorityBeaconKeysEd25519 = beaconKeys,
            AuthorityNoiseKeysX25519 = noiseKeys,
            ScanWindow = TimeSpan.FromSeconds(scanWindow!.Value),
            BeaconPeriod = TimeSpan.FromSeconds(beaconPeriod!.Value),
            CommandGroups = groups,
        };
        return true;
    }

    // Optional: absent means no groups. Ids are the 14-bit target ids of the command packet.
    private static List<ushort> Groups(JsonElement root, List<NodeConfigError> found)
    {
        var groups = new List<ushort>();
        if (!root.TryGetProperty("commandGroups", out var value))
        {
            return groups;
        }
        string fix = string.Create(CultureInfo.InvariantCulture, $"give \"commandGroups\" as an array of at most {MaxCommandGroups} distinct integers from 0 to {MaxCommandGroupId}, e.g. [7, 300]");
        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() > MaxCommandGroups)
        {
            found.Add(new("commandGroups", $"is {Truncate(value.GetRawText())}", fix));
            return groups;
        }
        int i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out var id) || id < 0 || id > MaxCommandGroupId || groups.Contains((ushort)id))
            {
                found.Add(new(string.Create(CultureInfo.InvariantCulture, $"commandGroups[{i}]"), $"is {Truncate(item.GetRawText())}", fix));
            }
            else
            {
                groups.Add((ushort)id);
            }
            i++;
        }
        return groups;
    }

    /// <summary>
    /// Reads the image's configuration (default <see cref="ImagePath"/>). False with one error when the file is
    /// missing or unreadable, or with the validation errors; never throws.
    /// </summary>
    public static bool TryLoad(string path, [NotNullWhen(true)] out NodeConfig? config, out IReadOnlyList<NodeConfigError> errors)
    {
        byte[] bytes;
        try
        {
            using var file = File.OpenRead(path);
            if (file.Length > MaxDocumentBytes)
            {
                config = null;
                errors = [new(path, $"is {file.Length} bytes, more than {MaxDocumentBytes}", "a node configuration is a few hundred bytes: rebuild the image with ppn-image build --config")];
                return false;
            }
            bytes = new byte[file.Length];
            file.ReadExactly(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            config = null;
            errors = [new(path, e is FileNotFoundException or DirectoryNotFoundException ? "does not exist" : $"cannot be read: {Ppn.Linux.FileErrors.Describe(e, path)}",
                "build the image with ppn-image build --config FILE to bake a node configuration in")];
            return false;
        }
        return TryParse(bytes, out config, out errors);
    }

    /// <summary>The canonical form: fixed field order, two-space indent, trailing newline. Parsing it gives an equal config.</summary>
    public byte[] ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("format", CurrentFormat);
            w.WriteStartObject("authority");
            w.WriteStartArray("beaconSigningKeysEd25519");
            foreach (var k in AuthorityBeaconKeysEd25519)
            {
                w.WriteStringValue(Convert.ToBase64String(k.Span));
            }
            w.WriteEndArray();
            w.WriteStartArray("noiseStaticKeysX25519");
            foreach (var k in AuthorityNoiseKeysX25519)
            {
                w.WriteStringValue(Convert.ToBase64String(k.Span));
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteNumber("scanWindowSeconds", (long)ScanWindow.TotalSeconds);
            w.WriteNumber("beaconPeriodSeconds", (long)BeaconPeriod.TotalSeconds);
            if (CommandGroups.Count > 0)
            {
                w.WriteStartArray("commandGroups");
                foreach (var g in CommandGroups) w.WriteNumberValue(g);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    /// <summary>Human-readable lines for <c>ppn-image inspect</c> and <c>ppn</c> status output.</summary>
    public IReadOnlyList<string> Describe()
    {
        var lines = new List<string>();
        foreach (var k in AuthorityBeaconKeysEd25519)
        {
            lines.Add($"authority beacon signing key (Ed25519): {Convert.ToBase64String(k.Span)}");
        }
        foreach (var k in AuthorityNoiseKeysX25519)
        {
            lines.Add($"authority Noise static key (X25519):    {Convert.ToBase64String(k.Span)}");
        }
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"scan window:       {ScanWindow.TotalSeconds} s"));
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"beacon period:     {BeaconPeriod.TotalSeconds} s"));
        if (CommandGroups.Count > 0)
        {
            lines.Add($"command groups:    {string.Join(", ", CommandGroups)}");
        }
        return lines;
    }

    public static bool TryParseEndpoint(string text, [NotNullWhen(true)] out IPEndPoint? endpoint)
    {
        endpoint = null;
        // IPEndPoint.TryParse takes a missing port as 0 and reads "2001:db8::1:80" as an address: demand
        // "a.b.c.d:port" or "[v6]:port".
        bool bracketed = text.StartsWith('[') && text.Contains("]:", StringComparison.Ordinal);
        if (!bracketed && text.Count(c => c == ':') != 1)
        {
            return false;
        }
        if (!IPEndPoint.TryParse(text, out var parsed) || parsed.Port == 0)
        {
            return false;
        }
        if (parsed.Address.Equals(IPAddress.Any) || parsed.Address.Equals(IPAddress.IPv6Any))
        {
            return false;
        }
        endpoint = parsed;
        return true;
    }

    private static JsonElement? Required(JsonElement parent, string name, string prefix, List<NodeConfigError> found)
    {
        if (parent.TryGetProperty(name, out var value))
        {
            return value;
        }
        found.Add(new(prefix + name, "is missing", "add it (see docs/image.md for the format)"));
        return null;
    }

    private static void RejectUnknown(JsonElement obj, string prefix, string[] known, List<NodeConfigError> found)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in obj.EnumerateObject())
        {
            if (!seen.Add(property.Name))
            {
                found.Add(new(prefix + property.Name, "appears twice", "keep one"));
            }
            else if (!known.Contains(property.Name, StringComparer.Ordinal))
            {
                found.Add(new(prefix + property.Name, string.Create(CultureInfo.InvariantCulture, $"is not a field of format {CurrentFormat}"), $"remove it or fix its spelling (known: {string.Join(", ", known)})"));
            }
        }
    }

    private static long? Integer(JsonElement root, string name, long min, long max, string what, List<NodeConfigError> found)
    {
        if (Required(root, name, "", found) is not { } value)
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var n) || n < min || n > max)
        {
            found.Add(new(name, $"is {value.GetRawText()}", string.Create(CultureInfo.InvariantCulture, $"give {what} as an integer from {min} to {max}")));
            return null;
        }
        return n;
    }

    private static ReadOnlyMemory<byte>? Key(JsonElement parent, string field, string name, string role, List<NodeConfigError> found)
    {
        if (Required(parent, name, field[..^name.Length], found) is not { } value)
        {
            return null;
        }
        return KeyValue(value, field, role, found);
    }

    private static ReadOnlyMemory<byte>? KeyValue(JsonElement value, string field, string role, List<NodeConfigError> found)
    {
        var fix = $"give the {role} key as standard base64 of {KeyLength} bytes (44 characters, as `wg pubkey` prints)";
        if (value.ValueKind != JsonValueKind.String)
        {
            found.Add(new(field, $"is a JSON {Kind(value)}, not a string", fix));
            return null;
        }
        var text = value.GetString()!;
        var bytes = new byte[KeyLength];
        if (text.Length != 44 || !Convert.TryFromBase64String(text, bytes, out int written) || written != KeyLength)
        {
            found.Add(new(field, $"\"{Truncate(text)}\" is not base64 of {KeyLength} bytes", fix));
            return null;
        }
        if (bytes.AsSpan().IndexOfAnyExcept((byte)0) < 0)
        {
            found.Add(new(field, "is all zero bytes", $"put the authority's real {role} key here"));
            return null;
        }
        return bytes;
    }

    private static List<ReadOnlyMemory<byte>> KeyList(JsonElement parent, string field, string name, string role, List<NodeConfigError> found)
    {
        var keys = new List<ReadOnlyMemory<byte>>();
        if (Required(parent, name, "authority.", found) is not { } array)
        {
            return keys;
        }
        if (array.ValueKind != JsonValueKind.Array || array.GetArrayLength() is 0 || array.GetArrayLength() > MaxKeysPerRole)
        {
            found.Add(new(field, array.ValueKind == JsonValueKind.Array ? $"has {array.GetArrayLength()} keys" : $"is a JSON {Kind(array)}, not an array",
                $"list 1 to {MaxKeysPerRole} {role} keys (more than one only while rotating)"));
            return keys;
        }
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            var itemField = string.Create(CultureInfo.InvariantCulture, $"{field}[{i++}]");
            if (KeyValue(item, itemField, role, found) is { } key)
            {
                if (keys.Any(k => k.Span.SequenceEqual(key.Span)))
                {
                    found.Add(new(itemField, "repeats an earlier key", "list each key once"));
                }
                else
                {
                    keys.Add(key);
                }
            }
        }
        return keys;
    }

    private static string Kind(JsonElement e) => e.ValueKind.ToString().ToLowerInvariant();

    private static string Truncate(string s) => s.Length <= 60 ? s : s[..57] + "...";
}

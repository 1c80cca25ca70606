using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Ppn.Formats;

/// <summary>
/// One in-node self-test console line, <c>ppn: selftest: NAME: {json}</c> (docs/hw-tests.md §In-node self-tests): PID 1
/// writes one per check when the kernel command line asks (<c>ppn.selftest=mesh|nic|mesh-ping:…</c>) and the rig reads
/// them back from the serial console. The JSON is one of the documents below, serialised by <see cref="SelfTestJson"/>
/// for the writer and the reader alike. Summary lines (<c>ppn: selftest: nic: 7 passed, …</c>) and the uefi checks'
/// text lines carry no JSON and are no <see cref="SelfTestLine"/>.
/// </summary>
public readonly record struct SelfTestLine(string Name, string Json)
{
    /// <summary>What the node's console log puts before every self-test message (<c>ppn: AREA: </c>, area "selftest").</summary>
    public const string Prefix = "ppn: selftest: ";
    public const string Mesh = "mesh";
    public const string Nic = "nic";
    public const string MeshPing = "mesh-ping";

    /// <summary>The message the node logs under the "selftest" area: <c>NAME: {json}</c>.</summary>
    public static string Message<T>(string name, T document, JsonTypeInfo<T> type) =>
        name + ": " + JsonSerializer.Serialize(document, type);

    /// <summary>A console line <c>ppn: selftest: NAME: {…}</c>; false for any other line (a summary, another area).</summary>
    public static bool TryParse(string consoleLine, out SelfTestLine line)
    {
        line = default;
        if (!consoleLine.StartsWith(Prefix, StringComparison.Ordinal)) return false;
        int colon = consoleLine.IndexOf(": ", Prefix.Length, StringComparison.Ordinal);
        if (colon <= Prefix.Length || colon + 2 >= consoleLine.Length || consoleLine[colon + 2] != '{') return false;
        line = new SelfTestLine(consoleLine[Prefix.Length..colon], consoleLine[(colon + 2)..]);
        return true;
    }

    /// <summary>Every JSON line of the self-test <paramref name="name"/>, in console order.</summary>
    public static IReadOnlyList<SelfTestLine> All(IEnumerable<string> consoleLines, string name) =>
        consoleLines.Select(t => TryParse(t, out var line) ? line : default)
            .Where(l => l.Name == name)
            .ToList();

    /// <summary>The line's document as <typeparamref name="T"/>; a <see cref="JsonException"/> when it is not one.</summary>
    public T Read<T>(JsonTypeInfo<T> type) =>
        JsonSerializer.Deserialize(Json, type) ?? throw new JsonException($"'{Json}' is not a {typeof(T).Name}");

    /// <summary>The results of <c>ppn.selftest=mesh-ping:…</c>, one per target, in console order.</summary>
    public static IReadOnlyList<MeshPingSelfTestResult> MeshPingResults(IEnumerable<string> consoleLines) =>
        All(consoleLines, MeshPing).Select(l => l.Read(SelfTestJson.Default.MeshPingSelfTestResult)).ToList();

    /// <summary>The checks of <c>ppn.selftest=mesh</c>, in console order.</summary>
    public static IReadOnlyList<MeshSelfTestCheck> MeshChecks(IEnumerable<string> consoleLines) =>
        All(consoleLines, Mesh).Select(l => l.Read(SelfTestJson.Default.MeshSelfTestCheck)).ToList();

    public override string ToString() => Prefix + Name + ": " + Json;
}

/// <summary><c>ppn: selftest: mesh-ping: {…}</c>: ICMP echo to one mesh address through ppn0.</summary>
public sealed record MeshPingSelfTestResult
{
    public required string Target { get; init; }
    public required bool Passed { get; init; }
    /// <summary>Echo requests sent until one was answered (or all were spent).</summary>
    public required int Attempts { get; init; }
    /// <summary>The answered request's round trip; absent when none was answered.</summary>
    public long? RttMs { get; init; }
    /// <summary>The last failure when none was answered (a status such as TimedOut, or the send error).</summary>
    public string? Error { get; init; }
}

/// <summary>
/// <c>ppn: selftest: mesh: {…}</c>: one check of the kernel WireGuard path. Each check fills the details it has; the
/// others are absent.
/// </summary>
public sealed record MeshSelfTestCheck
{
    public string Check { get; init; } = "";
    public bool Passed { get; init; }
    /// <summary>Changes a bring-up made.</summary>
    public int? Changes { get; init; }
    /// <summary>The WireGuard backend read back ("kernel" or "uapi").</summary>
    public string? Backend { get; init; }
    public int? Peers { get; init; }
    public int? AllowedIps { get; init; }
    public int? ListenPort { get; init; }
    public string? Link { get; init; }
    public int? RepairChanges { get; init; }
    public string? Error { get; init; }
}

/// <summary>
/// <c>ppn: selftest: nic: {…}</c>: one check of the NIC self-test. Every line has these four; what the check saw follows
/// in the derived document named by the check (read the line as that type once the header says which check it is).
/// <see cref="Interface"/> is null (written as null) for the discovery check, which concerns no one NIC.
/// </summary>
[JsonDerivedType(typeof(NicSelfTestNote))]
[JsonDerivedType(typeof(NicDiscoveryCheck))]
[JsonDerivedType(typeof(NicReadCheck))]
[JsonDerivedType(typeof(NicRingsCheck))]
[JsonDerivedType(typeof(NicRingBeyondMaximumCheck))]
[JsonDerivedType(typeof(NicCoalesceCheck))]
[JsonDerivedType(typeof(NicPauseCheck))]
[JsonDerivedType(typeof(NicEeeCheck))]
[JsonDerivedType(typeof(NicRollbackCheck))]
public record NicSelfTestCheck
{
    // The header first: System.Text.Json writes a derived type's own properties before its base's otherwise.
    [JsonPropertyOrder(-4)]
    public string Check { get; init; } = "";
    [JsonPropertyOrder(-3), JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Interface { get; init; }
    /// <summary>One of <see cref="NicSelfTestResult"/>.</summary>
    [JsonPropertyOrder(-2)]
    public string Result { get; init; } = "";
    [JsonPropertyOrder(-1)]
    public bool Passed { get; init; }
}

/// <summary>The values of <see cref="NicSelfTestCheck.Result"/>.</summary>
public static class NicSelfTestResult
{
    public const string Passed = "passed";
    public const string Failed = "failed";
    /// <summary>The driver does not implement the request (EOPNOTSUPP): neither a pass nor a failure.</summary>
    public const string Unsupported = "unsupported";
}

/// <summary>A check that saw nothing more than why it did not pass: unsupported by the driver, or an error.</summary>
public sealed record NicSelfTestNote : NicSelfTestCheck
{
    public string? Detail { get; init; }
    public string? Error { get; init; }
}

public sealed record NicDiscoveryCheck : NicSelfTestCheck
{
    public required IReadOnlyList<string> Interfaces { get; init; }
}

/// <summary>Everything read once: driver info, permanent address, link, statistics, and what the driver does not do.</summary>
public sealed record NicReadCheck : NicSelfTestCheck
{
    public required string Driver { get; init; }
    public required string BusInfo { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? PciId { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? PermanentAddress { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Link { get; init; }
    public required int Statistics { get; init; }
    public required uint DriverStatisticCount { get; init; }
    public required IReadOnlyList<string> Unsupported { get; init; }
}

public sealed record NicRingSizes(uint Rx, uint Tx);

/// <summary>A setting set to another value, read back, restored and read back again: the value at each step.</summary>
public abstract record NicSetReadBackCheck<T> : NicSelfTestCheck
{
    public required T Before { get; init; }
    public required T Set { get; init; }
    public required T ReadBack { get; init; }
    public required T Restored { get; init; }
}

/// <summary>rx and tx ring sizes at each step, and the driver's maxima.</summary>
public sealed record NicRingsCheck : NicSetReadBackCheck<NicRingSizes>
{
    [JsonPropertyOrder(1)]
    public required NicRingSizes Max { get; init; }
}

public sealed record NicRingBeyondMaximumCheck : NicSelfTestCheck
{
    public required uint RequestedRx { get; init; }
    /// <summary>The driver's answer: an ethtool error kind (OutOfRange is the right one), or "accepted".</summary>
    public required string Answer { get; init; }
    public required bool Unchanged { get; init; }
}

/// <summary>rx-usecs at each step.</summary>
public sealed record NicCoalesceCheck : NicSetReadBackCheck<uint>;

public sealed record NicPauseSettings(bool Autoneg, bool Rx, bool Tx);

public sealed record NicPauseCheck : NicSetReadBackCheck<NicPauseSettings>;

/// <summary>EEE enabled at each step.</summary>
public sealed record NicEeeCheck : NicSetReadBackCheck<bool>;

/// <summary>The tuner's result after a plan whose second change the driver refused.</summary>
public sealed record NicRollbackCheck : NicSelfTestCheck
{
    public required string Status { get; init; }
    public required int Applied { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Error { get; init; }
    public required bool StateAsBefore { get; init; }
}

/// <summary>
/// The self-test lines' source-generated serialisers: one compact line each (the console is line-based), absent
/// rather than null for details a check does not have.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(MeshPingSelfTestResult))]
[JsonSerializable(typeof(MeshSelfTestCheck))]
[JsonSerializable(typeof(NicSelfTestCheck))]
[JsonSerializable(typeof(NicSelfTestNote))]
[JsonSerializable(typeof(NicDiscoveryCheck))]
[JsonSerializable(typeof(NicReadCheck))]
[JsonSerializable(typeof(NicRingsCheck))]
[JsonSerializable(typeof(NicRingBeyondMaximumCheck))]
[JsonSerializable(typeof(NicCoalesceCheck))]
[JsonSerializable(typeof(NicPauseCheck))]
[JsonSerializable(typeof(NicEeeCheck))]
[JsonSerializable(typeof(NicRollbackCheck))]
public sealed partial class SelfTestJson : JsonSerializerContext;

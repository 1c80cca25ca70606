using System.Text.Json.Serialization;

namespace Ppn.Appliance.Cli;

// The documents `ppn … --json` prints: one type each, serialised by source generation (VerbJson) with the tools'
// JSON conventions. Fields that only some nodes have are omitted when absent (null), as the text output omits them.

/// <summary><c>ppn version --json</c>.</summary>
public sealed record VersionDocument(string Version, string Commit, string Runtime, string Architecture, bool NativeAot);

/// <summary><c>ppn identity show --json</c>: the public half only, ever.</summary>
public sealed record IdentityDocument(string PublicKey, string Entropy, string Variable);

/// <summary><c>ppn genesis status --json</c>.</summary>
public sealed record GenesisStatusDocument(string State, bool HoldingListener, GenesisIdentityPart Identity, GenesisEnrolmentPart Enrolment);

public sealed record GenesisIdentityPart(
    bool Present,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? PublicKey,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Problem);

public sealed record GenesisEnrolmentPart(
    bool Present,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Origin,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ulong? NodeId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Address,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? HubAddress,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? HubEndpoint,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? HubPublicKey,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] uint? CommandKeyEpoch,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? IssuedAt,
    string Receipt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Problem,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ConfigProblem,
    string PinnedAuthorityFrom);

/// <summary><c>ppn claim --json</c>: a new claim (grant fields, ack persisted or already-enrolled) or an earlier one the enrolled banner names.</summary>
public sealed record ClaimDocument(
    string Node,
    string NodePublicKey,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? EnrolledBy,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ulong? NodeId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Address,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? HubEndpoint,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? HubPublicKey,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] uint? CommandKeyEpoch,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? IssuedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Receipt,
    string Ack);

/// <summary>
/// <c>ppn mesh status --json</c>: what <c>wg show</c> shows, plus the link, the enrolment and, when a mesh sync agent
/// runs on the node, its status (/run/ppn/sync.json, docs/protocol/sync.md §Status).
/// </summary>
public sealed record MeshStatusDocument(
    string Interface,
    string Backend,
    string? PublicKey,
    int ListenPort,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Mtu,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Up,
    string Enrolment,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Ppn.Mesh.Sync.SyncStatus? Sync,
    IReadOnlyList<MeshPeerPart> Peers);

public sealed record MeshPeerPart(
    string PublicKey,
    string? Endpoint,
    IReadOnlyList<string> AllowedIps,
    string? LatestHandshake,
    ulong ReceiveBytes,
    ulong TransmitBytes,
    int PersistentKeepalive);

/// <summary><c>ppn mesh up --json</c>: what the convergent bring-up changed.</summary>
public sealed record MeshUpDocument(string Interface, string Backend, bool Changed, IReadOnlyList<string> Changes);

/// <summary><c>ppn uefi list --json</c>.</summary>
public sealed record UefiListDocument(string Store, IReadOnlyList<UefiVariablePart> Variables);

public sealed record UefiVariablePart(string Name, string Vendor, string Attributes, uint AttributesValue, long Size, bool Secret);

/// <summary><c>ppn uefi get --json</c>: a secret variable's value is null (never printed).</summary>
public sealed record UefiGetDocument(
    string Name,
    string Vendor,
    string Attributes,
    uint AttributesValue,
    long Size,
    bool Secret,
    string? Value,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Format);

/// <summary><c>ppn uefi set --json</c>.</summary>
public sealed record UefiSetDocument(string Name, string Vendor, string Mode, long Size);

/// <summary><c>ppn uefi rm --json</c>.</summary>
public sealed record UefiRemoveDocument(string Deleted);

/// <summary><c>ppn uefi selftest --json</c>.</summary>
public sealed record UefiSelfTestDocument(string Store, int Passed, int Failed, IReadOnlyList<UefiCheckPart> Checks);

public sealed record UefiCheckPart(string Name, bool Passed, string Detail);

/// <summary>The source-generated serialisers of the verbs' documents.</summary>
[JsonSerializable(typeof(Ppn.Commands.PacketDocument))]
[JsonSerializable(typeof(UefiListDocument))]
[JsonSerializable(typeof(UefiGetDocument))]
[JsonSerializable(typeof(UefiSetDocument))]
[JsonSerializable(typeof(UefiRemoveDocument))]
[JsonSerializable(typeof(UefiSelfTestDocument))]
[JsonSerializable(typeof(ClaimDocument))]
[JsonSerializable(typeof(MeshStatusDocument))]
[JsonSerializable(typeof(MeshUpDocument))]
[JsonSerializable(typeof(VersionDocument))]
[JsonSerializable(typeof(IdentityDocument))]
[JsonSerializable(typeof(GenesisStatusDocument))]
public sealed partial class VerbJson : JsonSerializerContext
{
    /// <summary>Indented, camelCase, the relaxed encoder (Ppn.Cli.CliJson).</summary>
    public static VerbJson Greppable { get; } = new(Ppn.Cli.CliJson.SerializerOptions());

    /// <summary>The NIC part's documents (their context lives with their types in nic/) with the same conventions.</summary>
    public static Ppn.Nic.Rendering.NicJsonContext Nic { get; } = new(Ppn.Cli.CliJson.SerializerOptions());
}

using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Ppn.Formats;
using Ppn.Genesis.Enrolment;

namespace Ppn.Genesis;

/// <summary>
/// The authority's credential file (docs/protocol/genesis.md §Authority credential), format 1: the private
/// halves of the two keys a node pins, plus what every grant carries (hub, command-key epoch).
/// <code>
/// { "format": 1, "kind": "ppn-authority-credential",
///   "signingKeyEd25519": "base64 32-byte seed",
///   "noiseStaticKeyX25519": "base64 32-byte private key",
///   "hub": { "endpoint": "198.51.100.7:51820", "wireGuardPublicKey": "base64" },
///   "commandKeyEpoch": 1 }
/// </code>
/// Whoever holds this file can enrol nodes: it is read only when not readable by group or others (like an
/// ssh key), the private keys live in pinned arrays zeroed on Dispose, and nothing here ever prints them.
/// </summary>
public sealed class AuthorityCredential : IDisposable
{
    public const int CurrentFormat = 1;
    public const string Kind = "ppn-authority-credential";
    public const int MaxFileBytes = 16 * 1024;
    private static readonly string[] Fields = ["format", "kind", "signingKeyEd25519", "noiseStaticKeyX25519", "hub", "commandKeyEpoch"];

    private readonly byte[] _signingPrivate = GC.AllocateArray<byte>(64, pinned: true); // Ed25519 seed || public key (libsodium layout)
    private readonly byte[] _noisePrivate = GC.AllocateArray<byte>(32, pinned: true);
    private bool _disposed;

    private AuthorityCredential(ReadOnlySpan<byte> signingSeed, ReadOnlySpan<byte> noisePrivate, IPEndPoint hub, ReadOnlySpan<byte> hubPublicKey, uint epoch)
    {
        SigningPublicKey = new byte[32];
        Geralt.Ed25519.GenerateKeyPair(SigningPublicKey, _signingPrivate, signingSeed);
        noisePrivate.CopyTo(_noisePrivate);
        NoisePublicKey = new byte[32];
        Geralt.X25519.ComputePublicKey(NoisePublicKey, _noisePrivate);
        HubEndpoint = hub;
        HubPublicKey = hubPublicKey.ToArray();
        CommandKeyEpoch = epoch;
    }

    /// <summary>Pinned in node images as <c>authority.beaconSigningKeysEd25519</c>.</summary>
    public byte[] SigningPublicKey { get; }
    /// <summary>Pinned in node images as <c>authority.noiseStaticKeysX25519</c>.</summary>
    public byte[] NoisePublicKey { get; }
    public IPEndPoint HubEndpoint { get; }
    public byte[] HubPublicKey { get; }
    public uint CommandKeyEpoch { get; }

    /// <summary>The Ed25519 private key (64 bytes, libsodium layout) for signing beacons and receipts.</summary>
    public ReadOnlySpan<byte> SigningPrivateKey => _disposed ? throw new ObjectDisposedException(nameof(AuthorityCredential)) : _signingPrivate;
    /// <summary>The X25519 Noise static private key the registrar and claim client prove.</summary>
    public ReadOnlySpan<byte> NoisePrivateKey => _disposed ? throw new ObjectDisposedException(nameof(AuthorityCredential)) : _noisePrivate;

    /// <summary>The same key as a memory view of the pinned buffer (no copy), for <see cref="Join.AuthorityResponder"/>.</summary>
    public ReadOnlyMemory<byte> NoisePrivateKeyMemory => _disposed ? throw new ObjectDisposedException(nameof(AuthorityCredential)) : _noisePrivate;

    /// <summary>What a node built for this authority pins.</summary>
    public AuthorityTrust Trust => new([SigningPublicKey], [NoisePublicKey]);

    public static AuthorityCredential Create(ReadOnlySpan<byte> signingSeed, ReadOnlySpan<byte> noisePrivate, IPEndPoint hub, ReadOnlySpan<byte> hubPublicKey, uint commandKeyEpoch)
    {
        if (signingSeed.Length != 32 || noisePrivate.Length != 32 || hubPublicKey.Length != 32) throw new ArgumentException("every key is 32 bytes");
        if (commandKeyEpoch > EnrolmentGrant.MaxCommandKeyEpoch)
        {
            throw new ArgumentOutOfRangeException(nameof(commandKeyEpoch), commandKeyEpoch, $"command-key epochs are 0..{EnrolmentGrant.MaxCommandKeyEpoch}");
        }
        return new AuthorityCredential(signingSeed, noisePrivate, hub, hubPublicKey, commandKeyEpoch);
    }

    /// <summary>The same authority (same keys and epoch) after its hub moved to <paramref name="hub"/>.</summary>
    public AuthorityCredential WithHub(IPEndPoint hub) =>
        Create(SigningPrivateKey[..32], NoisePrivateKey, hub, HubPublicKey, CommandKeyEpoch);

    /// <summary>The same authority (same keys and epoch) with the hub <paramref name="hub"/> whose WireGuard key is
    /// <paramref name="hubPublicKey"/>: a relay makes its own key on its first boot, and the authority learns it then.</summary>
    public AuthorityCredential WithHub(IPEndPoint hub, ReadOnlySpan<byte> hubPublicKey) =>
        Create(SigningPrivateKey[..32], NoisePrivateKey, hub, hubPublicKey, CommandKeyEpoch);

    /// <summary>A fresh authority (the simulator's, or a lab's) with keys from libsodium's CSPRNG.</summary>
    public static AuthorityCredential Generate(IPEndPoint hub, ReadOnlySpan<byte> hubPublicKey, uint commandKeyEpoch)
    {
        Span<byte> seed = stackalloc byte[32];
        Span<byte> noise = stackalloc byte[32];
        try
        {
            Geralt.SecureRandom.Fill(seed);
            Geralt.SecureRandom.Fill(noise);
            return Create(seed, noise, hub, hubPublicKey, commandKeyEpoch);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
            CryptographicOperations.ZeroMemory(noise);
        }
    }

    /// <summary>A grant for <paramref name="nodePublicKey"/>, its binding receipt signed with this authority's key.</summary>
    public EnrolmentGrant Grant(ReadOnlySpan<byte> nodePublicKey, ulong nodeId, IPAddress address, ulong issuedAt) =>
        new EnrolmentGrant(GrantStatus.Granted, nodeId, address, HubEndpoint, HubPublicKey, CommandKeyEpoch, nodePublicKey.ToArray(), issuedAt, new byte[64])
            .SignedWith(SigningPrivateKey);

    /// <summary>A refusal (status 1) with its reason, also signed, so the node can tell a real refusal from noise.</summary>
    public EnrolmentGrant Refusal(ReadOnlySpan<byte> nodePublicKey, ulong issuedAt, RefusalReason reason = RefusalReason.Unspecified) =>
        new EnrolmentGrant(GrantStatus.Refused, 0, IPAddress.Any, HubEndpoint, HubPublicKey, CommandKeyEpoch, nodePublicKey.ToArray(), issuedAt, new byte[64]) { Reason = reason }
            .SignedWith(SigningPrivateKey);

    /// <summary>Reads a credential file; false with one line saying what is wrong and what to do. Never throws on hostile content.</summary>
    public static bool TryLoad(string path, [NotNullWhen(true)] out AuthorityCredential? credential, [NotNullWhen(false)] out string? error)
    {
        credential = null;
        byte[] bytes;
        try
        {
            if (Ppn.Linux.PrivateFile.WhyNotPrivate(path, "can enrol nodes") is { } notPrivate)
            {
                error = notPrivate;
                return false;
            }
            using var file = File.OpenRead(path);
            if (file.Length > MaxFileBytes)
            {
                error = $"{path} is {file.Length} bytes, more than {MaxFileBytes}: not an authority credential";
                return false;
            }
            bytes = new byte[file.Length];
            file.ReadExactly(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = e is FileNotFoundException or DirectoryNotFoundException
                ? $"{path} does not exist: give the authority credential file os-network-admin issued"
                : $"cannot read {Ppn.Linux.FileErrors.Describe(e, path)}";
            return false;
        }
        try
        {
            return TryParse(bytes, out credential, out error);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    public static bool TryParse(ReadOnlySpan<byte> utf8Json, [NotNullWhen(true)] out AuthorityCredential? credential, [NotNullWhen(false)] out string? error)
    {
        credential = null;
        error = null;
        if (utf8Json.Length > MaxFileBytes || !System.Text.Unicode.Utf8.IsValid(utf8Json))
        {
            error = "not an authority credential (too large, or not UTF-8 text)";
            return false;
        }
        byte[] seed = GC.AllocateArray<byte>(32, pinned: true), noise = GC.AllocateArray<byte>(32, pinned: true);
        // JsonDocument reads from memory it is given, not from a span: the copy holds both private keys (as base64), so
        // it is pinned and zeroed like them.
        byte[] text = GC.AllocateArray<byte>(utf8Json.Length, pinned: true);
        utf8Json.CopyTo(text);
        try
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 4 });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) { error = "an authority credential is one JSON object"; return false; }
            foreach (var p in root.EnumerateObject())
            {
                if (!Fields.Contains(p.Name)) { error = $"unknown field \"{Truncate(p.Name)}\" in the credential"; return false; }
            }
            if (!root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.Number || !format.TryGetInt32(out var f) || f != CurrentFormat)
            {
                error = $"credential \"format\" must be {CurrentFormat}";
                return false;
            }
            if (!root.TryGetProperty("kind", out var kind) || kind.ValueKind != JsonValueKind.String || kind.GetString() != Kind)
            {
                error = $"credential \"kind\" must be \"{Kind}\" (is this a node configuration instead?)";
                return false;
            }
            if (!Key(root, "signingKeyEd25519", seed, out error) || !Key(root, "noiseStaticKeyX25519", noise, out error)) return false;
            if (!root.TryGetProperty("hub", out var hub) || hub.ValueKind != JsonValueKind.Object
                || !hub.TryGetProperty("endpoint", out var ep) || ep.ValueKind != JsonValueKind.String
                || !NodeConfig.TryParseEndpoint(ep.GetString()!, out var endpoint))
            {
                error = "credential \"hub.endpoint\" must be a literal ADDRESS:PORT such as \"198.51.100.7:51820\"";
                return false;
            }
            foreach (var p in hub.EnumerateObject())
            {
                if (p.Name is not ("endpoint" or "wireGuardPublicKey")) { error = $"unknown field \"hub.{Truncate(p.Name)}\" in the credential"; return false; }
            }
            var hubKey = new byte[32];
            if (!Key(hub, "wireGuardPublicKey", hubKey, out error)) { error = "credential hub." + error; return false; }
            if (!root.TryGetProperty("commandKeyEpoch", out var epoch) || epoch.ValueKind != JsonValueKind.Number || !epoch.TryGetUInt32(out var e)
                || e > EnrolmentGrant.MaxCommandKeyEpoch)
            {
                error = $"credential \"commandKeyEpoch\" must be a whole number 0..{EnrolmentGrant.MaxCommandKeyEpoch} (commands carry a 4-bit epoch)";
                return false;
            }
            credential = Create(seed, noise, endpoint, hubKey, e);
            return true;
        }
        catch (JsonException e)
        {
            error = $"the credential is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})"; // e.Message is a bare resource key in the trimmed binary
            return false;
        }
        catch (InvalidOperationException)
        {
            error = "the credential holds text that cannot be decoded";
            return false;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
            CryptographicOperations.ZeroMemory(noise);
            CryptographicOperations.ZeroMemory(text);
        }
    }

    private static bool Key(JsonElement parent, string name, Span<byte> into, [NotNullWhen(false)] out string? error)
    {
        error = null;
        byte[]? decoded = null;
        try
        {
            // Decoded from the JSON buffer into a byte array that is zeroed here, never into a string (which could not
            // be): why this document is read with JsonDocument rather than deserialised into a type.
            if (!parent.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String
                || !value.TryGetBytesFromBase64(out decoded) || decoded.Length != 32)
            {
                error = $"\"{name}\" must be base64 of 32 bytes";
                return false;
            }
            decoded.CopyTo(into);
            return true;
        }
        finally
        {
            if (decoded is not null) CryptographicOperations.ZeroMemory(decoded);
        }
    }

    /// <summary>
    /// The credential file's bytes (format 1, indented), in a pinned array. Contains private keys: the caller zeroes it
    /// and writes it with mode 0600 (<see cref="Save"/> does both).
    /// </summary>
    public byte[] ToJson()
    {
        // Written with Utf8JsonWriter, not a serialised type, for the same reason it is read with JsonDocument; into one
        // pinned buffer of the largest credential, which never grows (a MemoryStream or ArrayBufferWriter leaves each
        // outgrown buffer, private keys in it, to the garbage collector unzeroed).
        var output = new PinnedBufferWriter(MaxFileBytes);
        try
        {
            using (var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteNumber("format", CurrentFormat);
                w.WriteString("kind", Kind);
                // Base64 straight from the pinned buffers into the output (no string holding a private key).
                w.WriteBase64String("signingKeyEd25519", SigningPrivateKey[..32]);
                w.WriteBase64String("noiseStaticKeyX25519", NoisePrivateKey);
                w.WriteStartObject("hub");
                w.WriteString("endpoint", HubEndpoint.ToString());
                w.WriteString("wireGuardPublicKey", Convert.ToBase64String(HubPublicKey));
                w.WriteEndObject();
                w.WriteNumber("commandKeyEpoch", CommandKeyEpoch);
                w.WriteEndObject();
            }
            output.GetSpan(1)[0] = (byte)'\n';
            output.Advance(1);
            var bytes = GC.AllocateArray<byte>(output.Written.Length, pinned: true);
            output.Written.CopyTo(bytes);
            return bytes;
        }
        finally
        {
            output.Clear();
        }
    }

    /// <summary>
    /// Writes the credential file with mode 0600 from the start (never briefly world-readable), whole or not at all: a
    /// temporary file beside it, fsync, rename over it, fsync of the directory (<see cref="Ppn.Linux.AtomicFile"/>). A save cut by a crash or a full disk leaves the old credential
    /// as it was; rewriting it in place would leave a truncated file, and with it the only copy of the keys every
    /// node of this authority pins.
    /// </summary>
    public void Save(string path)
    {
        var bytes = ToJson();
        try
        {
            Ppn.Linux.AtomicFile.Replace(path, bytes, Ppn.Linux.AtomicFile.OwnerOnly);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    /// <summary>A fixed-size pinned <see cref="IBufferWriter{T}"/>: what does not fit is an error, never a second buffer.</summary>
    private sealed class PinnedBufferWriter(int capacity) : System.Buffers.IBufferWriter<byte>
    {
        private readonly byte[] _buffer = GC.AllocateArray<byte>(capacity, pinned: true);
        private int _written;

        public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _written);

        public void Advance(int count) => _written += count;

        public Memory<byte> GetMemory(int sizeHint = 0) => _buffer.AsMemory(_written, Room(sizeHint));

        public Span<byte> GetSpan(int sizeHint = 0) => _buffer.AsSpan(_written, Room(sizeHint));

        private int Room(int sizeHint)
        {
            int room = _buffer.Length - _written;
            if (room < Math.Max(sizeHint, 1)) throw new InvalidOperationException($"an authority credential is at most {_buffer.Length} bytes");
            return room;
        }

        public void Clear()
        {
            CryptographicOperations.ZeroMemory(_buffer);
            _written = 0;
        }
    }

    /// <summary>A node configuration that pins this authority (for images built for it, and tests).</summary>
    public NodeConfig NodeConfigFor(TimeSpan scanWindow, TimeSpan beaconPeriod) => new()
    {
        AuthorityBeaconKeysEd25519 = [SigningPublicKey],
        AuthorityNoiseKeysX25519 = [NoisePublicKey],
        ScanWindow = scanWindow,
        BeaconPeriod = beaconPeriod,
    };

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..37] + "...";

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        CryptographicOperations.ZeroMemory(_signingPrivate);
        CryptographicOperations.ZeroMemory(_noisePrivate);
    }
}

using System.Buffers.Binary;
using System.Net;

namespace Ppn.Genesis.Beacon;

/// <summary>
/// The authority beacon (docs/protocol/genesis.md §Beacon), one UDP datagram to port 8090:
/// <code>
///   0   4  magic "PPNB"
///   4   1  version = 1
///   5   1  flags = 0 (others reserved: a beacon with unknown flags is Malformed)
///   6   2  registrar TCP port (big-endian)
///   8  16  registrar IPv6 address (link-local: scoped to the interface the beacon came in on)
///  24  32  authority X25519 Noise static key (must be pinned)
///  56   8  sequence (big-endian; the emitter's counter, for logs and duplicate suppression)
///  64  64  Ed25519 signature over "PPN-BEACON-v1" || bytes 0..63
/// </code>
/// </summary>
public readonly struct BeaconPacket
{
    public const int Size = 128;
    public const int SignedSize = 64;
    public const byte CurrentVersion = 1;
    public const int Port = Ppn.Formats.PpnPorts.Beacon;
    public static ReadOnlySpan<byte> Magic => "PPNB"u8;
    public static ReadOnlySpan<byte> SignatureDomain => "PPN-BEACON-v1"u8;

    public BeaconPacket(IPAddress registrarAddress, ushort registrarPort, byte[] authorityNoiseKey, ulong sequence)
    {
        if (registrarAddress.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6) throw new ArgumentException("the registrar is reached over IPv6 (the node has no IPv4 address during the scan)");
        RegistrarAddress = registrarAddress;
        RegistrarPort = registrarPort;
        AuthorityNoiseKey = authorityNoiseKey;
        Sequence = sequence;
    }

    public IPAddress RegistrarAddress { get; }
    public ushort RegistrarPort { get; }
    public byte[] AuthorityNoiseKey { get; }
    public ulong Sequence { get; }

    /// <summary>Writes the 64 signed bytes.</summary>
    public void WriteBody(Span<byte> destination)
    {
        Magic.CopyTo(destination);
        destination[4] = CurrentVersion;
        destination[5] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], RegistrarPort);
        RegistrarAddress.TryWriteBytes(destination.Slice(8, 16), out _);
        AuthorityNoiseKey.CopyTo(destination.Slice(24, 32));
        BinaryPrimitives.WriteUInt64BigEndian(destination[56..], Sequence);
    }

    /// <summary>The signed datagram (the authority simulator's side).</summary>
    public void Sign(ReadOnlySpan<byte> ed25519PrivateKey, Span<byte> destination)
    {
        WriteBody(destination);
        Span<byte> message = stackalloc byte[SignatureDomain.Length + SignedSize];
        SignatureDomain.CopyTo(message);
        destination[..SignedSize].CopyTo(message[SignatureDomain.Length..]);
        Geralt.Ed25519.Sign(destination.Slice(SignedSize, 64), message, ed25519PrivateKey);
    }

    /// <summary>Layout checks only (no signature): never throws.</summary>
    public static bool TryParse(ReadOnlySpan<byte> data, out BeaconPacket beacon)
    {
        beacon = default;
        if (data.Length != Size || !data[..4].SequenceEqual(Magic) || data[4] != CurrentVersion || data[5] != 0) return false;
        var address = new IPAddress(data.Slice(8, 16));
        ushort port = BinaryPrimitives.ReadUInt16BigEndian(data[6..]);
        if (port == 0 || address.IsIPv4MappedToIPv6 || address.Equals(IPAddress.IPv6Any)) return false;
        beacon = new BeaconPacket(address, port, data.Slice(24, 32).ToArray(), BinaryPrimitives.ReadUInt64BigEndian(data[56..]));
        return true;
    }
}

public enum BeaconVerdict
{
    Accepted,
    Malformed,
    /// <summary>Well-formed, but no pinned key verifies the signature.</summary>
    BadSignature,
    /// <summary>Signed by a pinned key but names a Noise key that is not pinned (never followed).</summary>
    UnknownAuthorityKey,
}

/// <summary>A beacon whose signature a pinned key verified; the interface it came in on scopes a link-local registrar.</summary>
public sealed record VerifiedBeacon(IPEndPoint Registrar, byte[] AuthorityNoiseKey, ulong Sequence, int InterfaceIndex);

/// <summary>Checks beacons against the pinned authority keys and counts what it throws away.</summary>
public sealed class BeaconVerifier
{
    private readonly AuthorityTrust _trust;
    private long _accepted, _malformed, _badSignature, _unknownKey;

    public BeaconVerifier(AuthorityTrust trust) => _trust = trust;

    public long Accepted => Interlocked.Read(ref _accepted);
    public long Malformed => Interlocked.Read(ref _malformed);
    public long BadSignature => Interlocked.Read(ref _badSignature);
    public long UnknownAuthorityKey => Interlocked.Read(ref _unknownKey);
    public long Rogue => BadSignature + UnknownAuthorityKey;

    public BeaconVerdict Verify(ReadOnlySpan<byte> datagram, int interfaceIndex, out VerifiedBeacon? beacon)
    {
        beacon = null;
        if (!BeaconPacket.TryParse(datagram, out var parsed))
        {
            Interlocked.Increment(ref _malformed);
            return BeaconVerdict.Malformed;
        }
        Span<byte> message = stackalloc byte[BeaconPacket.SignatureDomain.Length + BeaconPacket.SignedSize];
        BeaconPacket.SignatureDomain.CopyTo(message);
        datagram[..BeaconPacket.SignedSize].CopyTo(message[BeaconPacket.SignatureDomain.Length..]);
        if (!_trust.VerifySignature(message, datagram.Slice(BeaconPacket.SignedSize, 64)))
        {
            Interlocked.Increment(ref _badSignature);
            return BeaconVerdict.BadSignature;
        }
        if (!_trust.IsPinnedNoiseKey(parsed.AuthorityNoiseKey))
        {
            Interlocked.Increment(ref _unknownKey);
            return BeaconVerdict.UnknownAuthorityKey;
        }
        var address = parsed.RegistrarAddress;
        if (address.IsIPv6LinkLocal)
        {
            address = new IPAddress(address.GetAddressBytes(), interfaceIndex);
        }
        Interlocked.Increment(ref _accepted);
        beacon = new VerifiedBeacon(new IPEndPoint(address, parsed.RegistrarPort), parsed.AuthorityNoiseKey, parsed.Sequence, interfaceIndex);
        return BeaconVerdict.Accepted;
    }
}

using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Ppn.Genesis.Join;

public enum RequestKind : byte
{
    Join = 1,
    Claim = 2,
}

/// <summary>Why a holding node answered a claim hello with a refusal instead of Noise message 1.</summary>
public enum ClaimRefusal : byte
{
    /// <summary>The hello names an authority key this image does not pin.</summary>
    NotPinned = 1,
    /// <summary>The hello's tag does not verify (not made with the named key's private half for this node's key).</summary>
    BadProof = 2,
    /// <summary>The hello's nonce was seen before in this holding run (a replay).</summary>
    Replayed = 3,
    /// <summary>Every handshake slot stayed taken for the handshake timeout.</summary>
    Busy = 4,
    /// <summary>The node was claimed meanwhile.</summary>
    AlreadyClaimed = 5,
}

public enum AckStatus : byte
{
    /// <summary>The node verified the grant and stored it in UEFI variables.</summary>
    Persisted = 0,
    /// <summary>The grant did not verify (receipt, node key, layout): nothing stored.</summary>
    Rejected = 1,
    /// <summary>The grant was good but UEFI storage failed: the node falls back to self-genesis.</summary>
    StorageFailed = 2,
    /// <summary>The authority refused: the node falls back to self-genesis.</summary>
    Refused = 3,
}

/// <summary>
/// Framing and the small messages of the join and claim exchanges (docs/protocol/genesis.md). Every frame
/// on TCP is a 2-byte big-endian length then that many bytes; no genesis frame exceeds <see cref="MaxFrame"/>.
/// </summary>
public static class GenesisWire
{
    public const int MaxFrame = 512;
    public const int RequestSize = 16;
    public const int AckSize = 8;
    public const int ClaimHelloSize = 88;
    public const byte ClaimHelloVersion = 2;
    public const int ClaimHelloNonceSize = 16;
    public const int ClaimHelloTagSize = 32;
    public const int ClaimRefusalSize = 8;
    public static ReadOnlySpan<byte> ClaimHelloDomain => "PPN-CLAIM-HELLO-v2"u8;
    public static ReadOnlySpan<byte> ClaimRefusalMagic => "PPNR"u8;
    public static ReadOnlySpan<byte> RequestMagic => "PPNJ"u8;
    public static ReadOnlySpan<byte> AckMagic => "PPNK"u8;
    public static ReadOnlySpan<byte> ClaimHelloMagic => "PPNC"u8;

    /// <summary>The Noise prologue: "PPN-GENESIS/1 join", or for a claim "PPN-GENESIS/1 claim " followed by the banner's 32-byte node key, so the handshake fails unless the node is the one whose banner the authority read.</summary>
    public static byte[] Prologue(RequestKind kind, ReadOnlySpan<byte> bannerNodeKey)
    {
        if (kind == RequestKind.Join) return Encoding.ASCII.GetBytes("PPN-GENESIS/1 join");
        var p = Encoding.ASCII.GetBytes("PPN-GENESIS/1 claim ");
        return [.. p, .. bannerNodeKey];
    }

    public static void WriteRequest(Span<byte> d, RequestKind kind, ulong beaconSequence)
    {
        RequestMagic.CopyTo(d);
        d[4] = 1;
        d[5] = (byte)kind;
        d[6] = d[7] = 0;
        BinaryPrimitives.WriteUInt64BigEndian(d[8..], beaconSequence);
    }

    public static bool TryParseRequest(ReadOnlySpan<byte> d, out RequestKind kind, out ulong beaconSequence)
    {
        kind = default;
        beaconSequence = 0;
        if (d.Length != RequestSize || !d[..4].SequenceEqual(RequestMagic) || d[4] != 1 || d[5] is not (1 or 2) || d[6] != 0 || d[7] != 0) return false;
        kind = (RequestKind)d[5];
        beaconSequence = BinaryPrimitives.ReadUInt64BigEndian(d[8..]);
        return true;
    }

    public static void WriteAck(Span<byte> d, AckStatus status)
    {
        AckMagic.CopyTo(d);
        d[4] = 1;
        d[5] = (byte)status;
        d[6] = d[7] = 0;
    }

    public static bool TryParseAck(ReadOnlySpan<byte> d, out AckStatus status)
    {
        status = default;
        if (d.Length != AckSize || !d[..4].SequenceEqual(AckMagic) || d[4] != 1 || d[5] > 3 || d[6] != 0 || d[7] != 0) return false;
        status = (AckStatus)d[5];
        return true;
    }

    /// <summary>
    /// The claim hello, version 2 (docs/protocol/genesis.md §Claim): "PPNC" ‖ 2 ‖ 0 0 0 ‖ authority Noise key (32) ‖
    /// nonce (16) ‖ tag (32), the tag being keyed BLAKE2b-256 under the static-static X25519 secret of the authority and
    /// the banner's node key, over <see cref="ClaimHelloDomain"/> ‖ node key ‖ bytes 0..55. Only the holder of the
    /// authority's private key can make one, and the node checks it with one hash (the secret is fixed per pinned key).
    /// Returns false (nothing written that counts) when the node key is a low-order point.
    /// </summary>
    public static bool TryWriteClaimHello(Span<byte> d, ReadOnlySpan<byte> authorityNoisePrivateKey, ReadOnlySpan<byte> nodeKey, ReadOnlySpan<byte> nonce)
    {
        Span<byte> secret = stackalloc byte[32];
        try
        {
            if (!TryClaimHelloSecret(secret, authorityNoisePrivateKey, nodeKey)) return false;
            ClaimHelloMagic.CopyTo(d);
            d[4] = ClaimHelloVersion;
            d[5] = d[6] = d[7] = 0;
            Geralt.X25519.ComputePublicKey(d.Slice(8, 32), authorityNoisePrivateKey);
            nonce[..ClaimHelloNonceSize].CopyTo(d.Slice(40, ClaimHelloNonceSize));
            ClaimHelloTag(d.Slice(56, ClaimHelloTagSize), secret, nodeKey, d[..56]);
            return true;
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>The X25519 secret a hello's tag is keyed with: X25519(own private, peer public); false for a low-order peer key.</summary>
    public static bool TryClaimHelloSecret(Span<byte> secret, ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> peerPublicKey)
    {
        try
        {
            Geralt.X25519.ComputeSharedSecret(secret, privateKey, peerPublicKey);
            return true;
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return false; // libsodium refuses an all-zero result (a low-order point)
        }
    }

    /// <summary>Layout only (length, magic, version, reserved bytes); the tag is checked by <see cref="ClaimHelloTagMatches"/>.</summary>
    public static bool TryParseClaimHello(ReadOnlySpan<byte> d, out ReadOnlySpan<byte> authorityNoiseKey, out ReadOnlySpan<byte> nonce)
    {
        authorityNoiseKey = default;
        nonce = default;
        if (d.Length != ClaimHelloSize || !d[..4].SequenceEqual(ClaimHelloMagic) || d[4] != ClaimHelloVersion || d[5] != 0 || d[6] != 0 || d[7] != 0) return false;
        authorityNoiseKey = d.Slice(8, 32);
        nonce = d.Slice(40, ClaimHelloNonceSize);
        return true;
    }

    /// <summary>Constant-time check of a parsed hello's tag under <paramref name="secret"/> for this node's key.</summary>
    public static bool ClaimHelloTagMatches(ReadOnlySpan<byte> hello, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> nodeKey)
    {
        if (hello.Length != ClaimHelloSize) return false;
        Span<byte> tag = stackalloc byte[ClaimHelloTagSize];
        ClaimHelloTag(tag, secret, nodeKey, hello[..56]);
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(tag, hello.Slice(56, ClaimHelloTagSize));
    }

    private static void ClaimHelloTag(Span<byte> tag, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> nodeKey, ReadOnlySpan<byte> helloBody)
    {
        Span<byte> message = stackalloc byte[ClaimHelloDomain.Length + 32 + 56];
        ClaimHelloDomain.CopyTo(message);
        nodeKey[..32].CopyTo(message[ClaimHelloDomain.Length..]);
        helloBody[..56].CopyTo(message[(ClaimHelloDomain.Length + 32)..]);
        Geralt.BLAKE2b.ComputeTag(tag, message, secret);
    }

    /// <summary>The node's answer to a hello it will not pursue: "PPNR" ‖ 1 ‖ reason ‖ 0x0000.</summary>
    public static void WriteClaimRefusal(Span<byte> d, ClaimRefusal reason)
    {
        ClaimRefusalMagic.CopyTo(d);
        d[4] = 1;
        d[5] = (byte)reason;
        d[6] = d[7] = 0;
    }

    public static bool TryParseClaimRefusal(ReadOnlySpan<byte> d, out ClaimRefusal reason)
    {
        reason = default;
        if (d.Length != ClaimRefusalSize || !d[..4].SequenceEqual(ClaimRefusalMagic) || d[4] != 1 || d[5] is < 1 or > 5 || d[6] != 0 || d[7] != 0) return false;
        reason = (ClaimRefusal)d[5];
        return true;
    }

    public static async Task SendFrameAsync(Socket socket, ReadOnlyMemory<byte> payload, TimeSpan timeout, CancellationToken cancellation)
    {
        if (payload.Length > MaxFrame) throw new ArgumentException("genesis frame too large");
        var frame = new byte[2 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)payload.Length);
        payload.CopyTo(frame.AsMemory(2));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        cts.CancelAfter(timeout);
        int sent = 0;
        while (sent < frame.Length)
        {
            sent += await socket.SendAsync(frame.AsMemory(sent), SocketFlags.None, cts.Token);
        }
    }

    /// <summary>One frame, or null when the peer closes, stalls past <paramref name="timeout"/> (for the whole frame, so a trickle cannot stretch it) or announces more than <paramref name="maxLength"/>.</summary>
    public static async Task<byte[]?> ReceiveFrameAsync(Socket socket, int maxLength, TimeSpan timeout, CancellationToken cancellation)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        cts.CancelAfter(timeout);
        try
        {
            var header = new byte[2];
            if (!await ReceiveExactly(socket, header, cts.Token)) return null;
            int length = BinaryPrimitives.ReadUInt16BigEndian(header);
            if (length == 0 || length > maxLength) return null;
            var body = new byte[length];
            return await ReceiveExactly(socket, body, cts.Token) ? body : null;
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return null;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private static async Task<bool> ReceiveExactly(Socket socket, Memory<byte> buffer, CancellationToken token)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer[got..], SocketFlags.None, token);
            if (n == 0) return false;
            got += n;
        }
        return true;
    }
}

using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Ppn.Genesis.Join;

public enum RequestKind : byte
{
    Join = 1,
    Claim = 2,
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
    public const int ClaimHelloSize = 40;
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

    public static void WriteClaimHello(Span<byte> d, ReadOnlySpan<byte> authorityNoiseKey)
    {
        ClaimHelloMagic.CopyTo(d);
        d[4] = 1;
        d[5] = d[6] = d[7] = 0;
        authorityNoiseKey.CopyTo(d[8..40]);
    }

    public static bool TryParseClaimHello(ReadOnlySpan<byte> d, out ReadOnlySpan<byte> authorityNoiseKey)
    {
        authorityNoiseKey = default;
        if (d.Length != ClaimHelloSize || !d[..4].SequenceEqual(ClaimHelloMagic) || d[4] != 1 || d[5] != 0 || d[6] != 0 || d[7] != 0) return false;
        authorityNoiseKey = d[8..40];
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

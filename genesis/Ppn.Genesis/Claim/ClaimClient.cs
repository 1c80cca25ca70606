using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Holding;
using Ppn.Genesis.Join;

namespace Ppn.Genesis.Claim;

/// <summary>What a claim came to, from the authority's side.</summary>
public sealed record ClaimResult(IPEndPoint Node, byte[]? BannerNodeKey, string? BannerError, AuthorityExchange? Exchange, string? Failure)
{
    /// <summary>The authority key an ENROLLED banner named (the node was claimed in its current run).</summary>
    public byte[]? EnrolledBy { get; init; }

    /// <summary>Connections made (a connection dropped before the hello was answered is retried).</summary>
    public int Attempts { get; init; } = 1;

    /// <summary>The node says it is enrolled by this authority: an earlier claim of ours completed (its ack may have been lost).</summary>
    public bool AlreadyEnrolled => Failure is null && EnrolledBy is not null;

    /// <summary>The grant was sent but no authenticated ack came, and the node did not say afterwards: it may be enrolled.</summary>
    public bool OutcomeUnknown => Failure is not null && Exchange is { OutcomeUnknown: true };

    /// <summary>The node authenticated, verified the grant and stored it (ack 0), or says it is enrolled by us.</summary>
    public bool Succeeded => Failure is null && (AlreadyEnrolled || Exchange is { Failure: null, Ack: AckStatus.Persisted });
}

/// <summary>
/// The authority's side of the claim on a holding node's TCP 9443 (docs/protocol/genesis.md §Claim), used by
/// `ppn claim` and the hw-tests authority simulator: connect, read the banner, send the hello (naming our Noise
/// key with a proof bound to the banner's node key), then answer the node's Noise IK message 1 (prologue binds
/// the banner's key) with the grant, and read the ack. Every step is bounded by <see cref="GenesisTimeouts"/>.
/// A connection the node drops before it answered the hello (evicted by a flood) is retried, up to
/// <c>attempts</c>; after a grant was sent nothing is retried: a lost ack is checked by reading the banner again.
/// </summary>
public static class ClaimClient
{
    public const int DefaultPort = Holding.HoldingOptions.DefaultPort;
    public const int DefaultAttempts = 3;

    /// <param name="grantFor">The grant for the node key the node proved (equal to the banner's); null refuses to answer.</param>
    public static async Task<ClaimResult> ClaimAsync(IPEndPoint node, AuthorityCredential credential, Func<byte[], EnrolmentGrant?> grantFor,
        GenesisTimeouts timeouts, CancellationToken cancellation, Func<AddressFamily, Socket>? createSocket = null, int attempts = DefaultAttempts)
    {
        ClaimResult result;
        int attempt = 0;
        while (true)
        {
            attempt++;
            (result, bool retry) = await OnceAsync(node, credential, grantFor, timeouts, cancellation, createSocket);
            if (!retry || attempt >= attempts || cancellation.IsCancellationRequested) break;
            await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), cancellation);
        }
        if (result.OutcomeUnknown)
        {
            // The ack was lost: a node that stored the grant answers with the enrolled banner now.
            var (line, _) = await BannerAsync(node, timeouts, cancellation, createSocket);
            if (GenesisBanner.TryParseEnrolled(line, out _, out var by) && CryptographicOperations.FixedTimeEquals(by, credential.NoisePublicKey))
            {
                return result with { Failure = null, EnrolledBy = by, Attempts = attempt };
            }
        }
        return result with { Attempts = attempt };
    }

    private static async Task<(ClaimResult Result, bool Retry)> OnceAsync(IPEndPoint node, AuthorityCredential credential, Func<byte[], EnrolmentGrant?> grantFor,
        GenesisTimeouts timeouts, CancellationToken cancellation, Func<AddressFamily, Socket>? createSocket)
    {
        using var socket = createSocket?.Invoke(node.AddressFamily) ?? new Socket(node.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.NoDelay = true;
        bool helloSent = false;
        try
        {
            using (var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
            {
                connect.CancelAfter(timeouts.Connect);
                await socket.ConnectAsync(node, connect.Token);
            }
            var line = await ReadBannerAsync(socket, timeouts.Frame, cancellation);
            if (line is null) return (new(node, null, null, null, "the node sent no PPN-GENESIS/1 banner line within the frame timeout"), true);
            if (GenesisBanner.TryParseEnrolled(line, out var enrolledKey, out var by))
            {
                return CryptographicOperations.FixedTimeEquals(by, credential.NoisePublicKey)
                    ? (new(node, enrolledKey, null, null, null) { EnrolledBy = by }, false)
                    : (new(node, enrolledKey, null, null, $"the node is already enrolled by another authority (Noise key {Convert.ToBase64String(by)})") { EnrolledBy = by }, false);
            }
            if (!GenesisBanner.TryParse(line, out var bannerKey))
            {
                var shown = line.TrimEnd('\r', '\n');
                return shown.StartsWith(GenesisBanner.Protocol + " ERROR ", StringComparison.Ordinal)
                    ? (new(node, null, shown[(GenesisBanner.Protocol.Length + 7)..], null, $"the node holds without a usable identity ({shown}); it cannot be claimed until that is fixed on its console"), false)
                    : (new(node, null, null, null, $"not a holding PPN node: the first line was \"{Printable(shown)}\""), false);
            }
            var hello = new byte[GenesisWire.ClaimHelloSize];
            var nonce = new byte[GenesisWire.ClaimHelloNonceSize];
            Geralt.SecureRandom.Fill(nonce); // libsodium, not the OpenSSL-backed RandomNumberGenerator (node binary rule)
            if (!GenesisWire.TryWriteClaimHello(hello, credential.NoisePrivateKeyMemory.Span, bannerKey, nonce))
            {
                return (new(node, bannerKey, null, null, "the banner's node key is not a usable X25519 key"), false);
            }
            await GenesisWire.SendFrameAsync(socket, hello, timeouts.Frame, cancellation);
            helloSent = true;
            var exchange = await AuthorityResponder.RespondAsync(socket, credential.NoisePrivateKeyMemory, RequestKind.Claim, bannerKey,
                (provenKey, _, _) => CryptographicOperations.FixedTimeEquals(provenKey, bannerKey) ? grantFor(provenKey) : null, timeouts, cancellation);
            string? failure = exchange.Failure ?? exchange.Ack switch
            {
                AckStatus.Persisted => null,
                AckStatus.Rejected => "the node rejected the grant (it did not verify against the authority key pinned in its image)",
                AckStatus.StorageFailed => "the node could not store the enrolment in its UEFI variables (see its console)",
                AckStatus.Refused => "the grant was a refusal; the node keeps holding",
                _ => "no ack from the node",
            };
            // Dropped before the node answered the hello (a flood evicting it), or busy: nothing was granted, try again.
            bool retry = exchange is { Unanswered: true } or { Refusal: ClaimRefusal.Busy };
            return (new(node, bannerKey, null, exchange, failure), retry);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return (new(node, null, null, null, $"no TCP connection to {Describe(node)} within {timeouts.Connect.TotalSeconds:0.#} s"), false);
        }
        catch (SocketException e)
        {
            // Refused: nothing listens. Reset or aborted during the banner or the hello: a flood's eviction, worth another try.
            bool retry = e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown || (helloSent && e.SocketErrorCode != SocketError.ConnectionRefused);
            return (new(node, null, null, null, $"{Describe(node)}: {e.SocketErrorCode} ({e.Message})"), retry);
        }
    }

    /// <summary>Connects and reads the first line only (for checking what a node says after a lost ack).</summary>
    private static async Task<(string? Line, string? Failure)> BannerAsync(IPEndPoint node, GenesisTimeouts timeouts, CancellationToken cancellation, Func<AddressFamily, Socket>? createSocket)
    {
        try
        {
            using var socket = createSocket?.Invoke(node.AddressFamily) ?? new Socket(node.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            using (var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
            {
                connect.CancelAfter(timeouts.Connect);
                await socket.ConnectAsync(node, connect.Token);
            }
            return (await ReadBannerAsync(socket, timeouts.Frame, cancellation), null);
        }
        catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !cancellation.IsCancellationRequested))
        {
            return (null, e.Message);
        }
    }

    /// <summary>"[fe80::1%eth0]:9443" style for messages.</summary>
    public static string Describe(IPEndPoint endpoint) => endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]:{endpoint.Port}" : endpoint.ToString();

    // The banner is one line of at most GenesisBanner.MaxLength bytes; read byte-wise so nothing after it is consumed.
    private static async Task<string?> ReadBannerAsync(Socket socket, TimeSpan timeout, CancellationToken cancellation)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        cts.CancelAfter(timeout);
        var line = new byte[GenesisBanner.MaxLength];
        int got = 0;
        try
        {
            while (got < line.Length)
            {
                int n = await socket.ReceiveAsync(line.AsMemory(got, 1), SocketFlags.None, cts.Token);
                if (n == 0) return got == 0 ? null : Encoding.ASCII.GetString(line, 0, got);
                got++;
                if (line[got - 1] == '\n') return Encoding.ASCII.GetString(line, 0, got);
            }
            return Encoding.ASCII.GetString(line, 0, got);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return got == 0 ? null : Encoding.ASCII.GetString(line, 0, got);
        }
    }

    private static string Printable(string s)
    {
        var chars = s.Take(60).Select(c => c is >= ' ' and < (char)127 ? c : '?').ToArray();
        return new string(chars);
    }
}

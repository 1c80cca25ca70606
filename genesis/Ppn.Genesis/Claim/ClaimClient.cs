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
    /// <summary>The node authenticated, verified the grant and stored it (ack 0).</summary>
    public bool Succeeded => Failure is null && Exchange is { Failure: null, Ack: AckStatus.Persisted };
}

/// <summary>
/// The authority's side of the claim on a holding node's TCP 9443 (docs/protocol/genesis.md §Claim), used by
/// `ppn claim` and the hw-tests authority simulator: connect, read the <c>PPN-GENESIS/1 &lt;key&gt;</c> banner,
/// send the hello naming our Noise key, then answer the node's Noise IK message 1 (prologue binds the
/// banner's key) with the grant, and read the ack. Every step is bounded by <see cref="GenesisTimeouts"/>.
/// </summary>
public static class ClaimClient
{
    public const int DefaultPort = 9443;

    /// <param name="grantFor">The grant for the node key the node proved (equal to the banner's); null refuses to answer.</param>
    public static async Task<ClaimResult> ClaimAsync(IPEndPoint node, AuthorityCredential credential, Func<byte[], EnrolmentGrant?> grantFor,
        GenesisTimeouts timeouts, CancellationToken cancellation, Func<AddressFamily, Socket>? createSocket = null)
    {
        using var socket = createSocket?.Invoke(node.AddressFamily) ?? new Socket(node.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.NoDelay = true;
        try
        {
            using (var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
            {
                connect.CancelAfter(timeouts.Connect);
                await socket.ConnectAsync(node, connect.Token);
            }
            var line = await ReadBannerAsync(socket, timeouts.Frame, cancellation);
            if (line is null) return new(node, null, null, null, "the node sent no PPN-GENESIS/1 banner line within the frame timeout");
            if (!GenesisBanner.TryParse(line, out var bannerKey))
            {
                var shown = line.TrimEnd('\r', '\n');
                return shown.StartsWith(GenesisBanner.Protocol + " ERROR ", StringComparison.Ordinal)
                    ? new(node, null, shown[(GenesisBanner.Protocol.Length + 7)..], null, $"the node holds without a usable identity ({shown}); it cannot be claimed until that is fixed on its console")
                    : new(node, null, null, null, $"not a holding PPN node: the first line was \"{Printable(shown)}\"");
            }
            var hello = new byte[GenesisWire.ClaimHelloSize];
            GenesisWire.WriteClaimHello(hello, credential.NoisePublicKey);
            await GenesisWire.SendFrameAsync(socket, hello, timeouts.Frame, cancellation);
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
            return new(node, bannerKey, null, exchange, failure);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return new(node, null, null, null, $"no TCP connection to {Describe(node)} within {timeouts.Connect.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            return new(node, null, null, null, $"{Describe(node)}: {e.SocketErrorCode} ({e.Message})");
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

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Ppn.Genesis.Holding;

namespace Ppn.Genesis.Tests;

public class HoldingListenerTests
{
    private const string Key = "I2qftCpUAmxOuzn473SVJKSoAvpkJbJLZlPbki4obT0=";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static HoldingListener Start(HoldingOptions? options = null, params IPAddress[] addresses) =>
        HoldingListener.Start(
            (addresses.Length == 0 ? [IPAddress.IPv6Loopback, IPAddress.Loopback] : addresses).Select(a => new IPEndPoint(a, 0)),
            () => GenesisBanner.Format(Key), options ?? new HoldingOptions(), new NoClaimYet(), _ => { });

    /// <summary>Reads until the peer closes or <paramref name="max"/> bytes; bounded by a receive timeout.</summary>
    internal static string ReadAll(Socket socket, int max = 1024)
    {
        socket.ReceiveTimeout = (int)Bound.TotalMilliseconds;
        var buffer = new byte[max];
        int total = 0;
        while (total < max)
        {
            int n = socket.Receive(buffer, total, max - total, SocketFlags.None);
            if (n == 0) break;
            total += n;
        }
        return Encoding.ASCII.GetString(buffer, 0, total);
    }

    internal static string ReadLine(Socket socket)
    {
        socket.ReceiveTimeout = (int)Bound.TotalMilliseconds;
        var line = new StringBuilder();
        var one = new byte[1];
        while (line.Length < 256 && socket.Receive(one) == 1)
        {
            line.Append((char)one[0]);
            if (one[0] == '\n') break;
        }
        return line.ToString();
    }

    [Fact]
    public void Every_connection_first_receives_exactly_the_banner_line_on_ipv4_and_ipv6()
    {
        using var listener = Start();
        foreach (var endpoint in listener.LocalEndPoints)
        {
            using var client = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(endpoint);
            client.Shutdown(SocketShutdown.Send); // a technician's nc that sends nothing
            Assert.Equal($"PPN-GENESIS/1 {Key}\r\n", ReadAll(client));
        }
        Assert.True(GenesisBanner.TryParse(GenesisBanner.Format(Key), out var parsed));
        Assert.Equal(Convert.FromBase64String(Key), parsed);
    }

    [Fact]
    public void Connections_beyond_the_cap_are_closed_without_a_banner()
    {
        using var listener = Start(new HoldingOptions { MaxConnections = 2, IdleTimeout = TimeSpan.FromMinutes(1), WhenFull = FullPolicy.RefuseNew }, IPAddress.Loopback);
        var endpoint = listener.LocalEndPoints[0];
        var held = new List<Socket>();
        try
        {
            for (int i = 0; i < 2; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                s.Connect(endpoint);
                Assert.StartsWith("PPN-GENESIS/1 ", ReadLine(s)); // served, and now held open
                held.Add(s);
            }
            using var third = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            third.Connect(endpoint);
            string got;
            try { got = ReadAll(third); } catch (SocketException) { got = ""; } // RST is fine too
            Assert.Equal("", got);
            Assert.True(SpinWait.SpinUntil(() => listener.Refused == 1, Bound));
        }
        finally
        {
            held.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public void A_silent_peer_is_closed_after_the_idle_timeout()
    {
        using var listener = Start(new HoldingOptions { IdleTimeout = TimeSpan.FromMilliseconds(200) }, IPAddress.Loopback);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoints[0]);
        // ReadAll returns only at end of stream (else its receive timeout throws): the node closed the connection.
        Assert.Equal($"PPN-GENESIS/1 {Key}\r\n", ReadAll(client));
        Assert.True(SpinWait.SpinUntil(() => listener.Active == 0, Bound));
    }

    [Fact]
    public void A_peer_that_sends_too_much_is_cut_off()
    {
        using var listener = Start(new HoldingOptions { MaxInboundBytes = 1024 }, IPAddress.Loopback);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoints[0]);
        ReadLine(client);
        try
        {
            client.Send(new byte[8192]);
        }
        catch (SocketException)
        {
        }
        Assert.True(SpinWait.SpinUntil(() => listener.Active == 0, Bound));
    }

    [Fact]
    public void Banners_that_are_not_ours_do_not_parse()
    {
        Assert.False(GenesisBanner.TryParse("SSH-2.0-OpenSSH_9.2\r\n", out _));
        Assert.False(GenesisBanner.TryParse("PPN-GENESIS/1 ERROR identity-corrupt\r\n", out _));
        Assert.False(GenesisBanner.TryParse("PPN-GENESIS/1 AAAA\n", out _));
        Assert.False(GenesisBanner.TryParse(null, out _));
        Assert.True(GenesisBanner.TryParse($"PPN-GENESIS/1 {Key}\n", out _));
    }
}

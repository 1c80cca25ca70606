using System.Net;
using System.Net.Sockets;
using System.Text;
using Ppn.Genesis;
using Ppn.Genesis.Beacon;

namespace Ppn.Authority;

/// <summary>
/// Sends signed beacons (docs/protocol/genesis.md §Beacon) out of one interface: to the IPv6 all-nodes group
/// ff02::1 port 8090 (needs only the interface's link-local address, like the node), and to the IPv4 limited
/// broadcast 255.255.255.255:8090 when the interface has an IPv4 address. Either reaches a node that has no
/// IPv4 address, since it reads beacons off the link with AF_PACKET.
/// </summary>
public sealed class BeaconEmitter
{
    private const int SOL_SOCKET = 1;
    private const int SO_BINDTODEVICE = 25;
    private readonly AuthorityCredential _credential;
    private readonly AuthorityNetwork _network;
    private long _sent;
    // Sequences must grow over the authority's whole life, restarts included (nodes prefer the highest heard):
    // start from the Unix time in milliseconds, then count.
    private ulong _sequence = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public BeaconEmitter(AuthorityCredential credential, AuthorityNetwork network)
    {
        _credential = credential;
        _network = network;
    }

    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>One signed beacon naming <paramref name="registrar"/> (scope dropped: the node re-scopes it to its own interface).</summary>
    public byte[] Beacon(IPAddress registrar, ushort port, ulong sequence)
    {
        var d = new byte[BeaconPacket.Size];
        new BeaconPacket(new IPAddress(registrar.GetAddressBytes()), port, _credential.NoisePublicKey, sequence).Sign(_credential.SigningPrivateKey, d);
        return d;
    }

    /// <summary>Every <paramref name="period"/> until cancelled, a beacon naming [registrar]:port; the first at once.</summary>
    public async Task RunAsync(string interfaceName, IPAddress registrar, ushort registrarPort, TimeSpan period, CancellationToken cancellation, ushort beaconPort = BeaconPacket.Port)
    {
        int index = _network.InterfaceIndex(interfaceName);
        using var v6 = _network.CreateSocket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
        v6.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastInterface, index);
        v6.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastLoopback, false);
        var group = new IPEndPoint(new IPAddress(IPAddress.Parse("ff02::1").GetAddressBytes(), index), beaconPort);

        Socket? v4 = null;
        if (_network.IPv4Address(interfaceName) is { } local)
        {
            v4 = _network.CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            v4.EnableBroadcast = true;
            // 255.255.255.255 goes out of the interface the socket is bound to, not wherever the routes say.
            v4.SetRawSocketOption(SOL_SOCKET, SO_BINDTODEVICE, Encoding.ASCII.GetBytes(interfaceName + "\0"));
            v4.Bind(new IPEndPoint(local, 0));
        }
        try
        {
            using var timer = new PeriodicTimer(period);
            do
            {
                var beacon = Beacon(registrar, registrarPort, Interlocked.Increment(ref _sequence));
                await v6.SendToAsync(beacon, SocketFlags.None, group, cancellation);
                if (v4 is not null) await v4.SendToAsync(beacon, SocketFlags.None, new IPEndPoint(IPAddress.Broadcast, beaconPort), cancellation);
                Interlocked.Increment(ref _sent);
            }
            while (await WaitAsync(timer, cancellation));
        }
        finally
        {
            v4?.Dispose();
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellation)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellation);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}

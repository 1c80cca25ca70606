using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ppn.Genesis.Holding;
using Ppn.Linux.Netlink;

namespace Ppn.Genesis.Tests;

public class LinkLocalTests
{
    private const string Sample = """
        00000000000000000000000000000001 01 80 10 80       lo
        fe80000000000000505400fffe123456 02 40 20 80     eth0
        fe80000000000000021122fffe334455 03 40 20 40     eth1
        20010db8000000000000000000000001 02 40 00 80     eth0
        garbage line
        """;

    [Fact]
    public void If_inet6_lines_parse_into_addresses_scopes_and_flags()
    {
        var all = ProcNetIfInet6.Parse(Sample);
        Assert.Equal(4, all.Count);
        var eth0 = all.Single(a => a.InterfaceName == "eth0" && a.IsLinkLocal);
        Assert.Equal(IPAddress.Parse("fe80::5054:ff:fe12:3456"), eth0.Address);
        Assert.Equal(2, eth0.InterfaceIndex);
        Assert.True(eth0.IsUsable);
        Assert.True(all.Single(a => a.InterfaceName == "eth1").IsTentative);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("fe80::5054:ff:fe12:3456%2"), 9443), eth0.EndPoint(9443));
    }

    [Fact]
    public void Waiting_ends_when_duplicate_address_detection_finishes()
    {
        var source = new SequenceSource(
            ProcNetIfInet6.Parse("fe80000000000000505400fffe123456 02 40 20 40 eth0"),
            ProcNetIfInet6.Parse("fe80000000000000505400fffe123456 02 40 20 80 eth0"));
        var usable = ProcNetIfInet6.WaitForLinkLocal(source, TimeSpan.FromSeconds(10), TimeSpan.Zero);
        Assert.Single(usable);
        Assert.Equal(2, source.Reads);
    }

    [Fact]
    public void Waiting_gives_up_at_the_deadline_with_what_is_usable()
    {
        var source = new SequenceSource(ProcNetIfInet6.Parse("fe80000000000000505400fffe123456 02 40 20 48 eth0"));
        Assert.Empty(ProcNetIfInet6.WaitForLinkLocal(source, TimeSpan.Zero));
    }

    /// <summary>The real thing: a veth pair in a namespace this test makes; the node side listens on its fe80:: address.</summary>
    [Fact]
    public void The_listener_serves_the_banner_on_a_real_link_local_address_in_a_network_namespace()
    {
        var ns = $"ppngen-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";
        HostProcess.Run("ip", "netns", "add", ns);
        try
        {
            HostProcess.Run("ip", "-n", ns, "link", "add", "node0", "type", "veth", "peer", "name", "tech0");
            HostProcess.Run("ip", "-n", ns, "link", "set", "lo", "up");
            HostProcess.Run("ip", "-n", ns, "link", "set", "node0", "up");
            HostProcess.Run("ip", "-n", ns, "link", "set", "tech0", "up");
            var path = NetworkNamespace.PathOf(ns);
            var source = new CommandSource(ns);
            var addresses = ProcNetIfInet6.WaitForLinkLocal(source, TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(50));
            var node = addresses.Single(a => a.InterfaceName == "node0");
            var tech = addresses.Single(a => a.InterfaceName == "tech0");

            using var listener = NetworkNamespace.Run(path, () => HoldingListener.Start(
                [node.EndPoint(9443)], () => GenesisBanner.Format("I2qftCpUAmxOuzn473SVJKSoAvpkJbJLZlPbki4obT0="), new HoldingOptions(), new NoClaimYet(), _ => { }));
            var line = NetworkNamespace.Run(path, () =>
            {
                using var client = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
                // From the technician's side of the link: fe80::node%tech0.
                client.Connect(new IPEndPoint(new IPAddress(node.Address.GetAddressBytes(), tech.InterfaceIndex), 9443));
                return HoldingListenerTests.ReadLine(client);
            });
            Assert.Equal("PPN-GENESIS/1 I2qftCpUAmxOuzn473SVJKSoAvpkJbJLZlPbki4obT0=\r\n", line);
        }
        finally
        {
            HostProcess.Run("ip", ["netns", "del", ns], check: false);
        }
    }


    private sealed class SequenceSource(params IReadOnlyList<InterfaceAddress>[] reads) : IInterfaceAddressSource
    {
        public int Reads { get; private set; }
        public IReadOnlyList<InterfaceAddress> Read() => reads[Math.Min(Reads++, reads.Length - 1)];
    }

    /// <summary>/proc/net/if_inet6 as the namespace sees it.</summary>
    private sealed class CommandSource(string ns) : IInterfaceAddressSource
    {
        public IReadOnlyList<InterfaceAddress> Read() => ProcNetIfInet6.Parse(HostProcess.Run("ip", "netns", "exec", ns, "cat", "/proc/net/if_inet6"));
    }
}

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
        var source = new ScriptedAddressSource(
            ProcNetIfInet6.Parse("fe80000000000000505400fffe123456 02 40 20 40 eth0"),
            ProcNetIfInet6.Parse("fe80000000000000505400fffe123456 02 40 20 80 eth0"));
        var usable = ProcNetIfInet6.WaitForLinkLocal(source, TimeSpan.FromSeconds(10));
        Assert.Single(usable);
        Assert.Equal(2, source.Reads);
    }

    [Fact]
    public void Waiting_gives_up_at_the_deadline_with_what_is_usable()
    {
        var source = new ScriptedAddressSource(ProcNetIfInet6.Parse("fe80000000000000505400fffe123456 02 40 20 48 eth0"));
        Assert.Empty(ProcNetIfInet6.WaitForLinkLocal(source, TimeSpan.Zero));
    }

    [Fact]
    public void An_optimistic_address_is_usable_while_duplicate_address_detection_still_runs()
    {
        // flags 0x44 = TENTATIVE | OPTIMISTIC; 0x40 = TENTATIVE alone; 0x4c = optimistic whose DAD failed.
        var all = ProcNetIfInet6.Parse(
            "fe80000000000000505400fffe123456 02 40 20 44 eth0\n" +
            "fe80000000000000021122fffe334455 03 40 20 40 eth1\n" +
            "fe80000000000000021122fffe334466 04 40 20 4c eth2\n");
        var eth0 = all.Single(a => a.InterfaceName == "eth0");
        Assert.True(eth0.IsTentative && eth0.IsOptimistic && eth0.IsUsable && !eth0.IsPending);
        var eth1 = all.Single(a => a.InterfaceName == "eth1");
        Assert.False(eth1.IsUsable);
        Assert.True(eth1.IsPending);
        var eth2 = all.Single(a => a.InterfaceName == "eth2");
        Assert.False(eth2.IsUsable || eth2.IsPending);
    }

    [Fact]
    public void Waiting_reads_again_only_when_the_source_reports_a_change()
    {
        var source = new ScriptedAddressSource(
            [],                                                                          // no carrier yet
            ProcNetIfInet6.Parse("fe80000000000000505400fffe123456 02 40 20 40 eth0"),   // address added, DAD runs
            ProcNetIfInet6.Parse("fe80000000000000505400fffe123456 02 40 20 80 eth0"));  // DAD done
        var usable = ProcNetIfInet6.WaitForLinkLocal(source, TimeSpan.FromSeconds(10));
        Assert.Single(usable);
        Assert.Equal(1, source.Subscriptions);
        Assert.Equal(2, source.Waits);
        Assert.Equal(3, source.Reads);
    }

    /// <summary>
    /// In a namespace this test makes: the node side's DAD is made to last 60 s (60 probes, 1 s apart), so its
    /// link-local address is still tentative when the wait ends — usable only because it is optimistic. The wait
    /// starts before the link is up and is woken by the kernel's RTM_NEWADDR, not by polling; the holding listener
    /// binds the optimistic address and the other side of the link reads the banner. Each side is waited for on its
    /// own interface: the kernel adds the two sides' addresses one after the other, so a wait over both can end
    /// with one (usable, nothing pending) before the other exists.
    /// </summary>
    [Fact]
    public async Task An_optimistic_link_local_address_is_bound_and_served_while_DAD_runs_in_a_network_namespace()
    {
        var ns = $"ppngen-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";
        HostProcess.Run("ip", "netns", "add", ns);
        try
        {
            HostProcess.Run("ip", "-n", ns, "link", "add", "node0", "type", "veth", "peer", "name", "tech0");
            HostProcess.Run("ip", "-n", ns, "link", "set", "lo", "up");
            // sh, not sysctl: procps is not among the packages a fresh machine gets (scripts/install-deps.sh).
            void Sysctl(string setting)
            {
                var (key, value) = (setting.Split('=')[0], setting.Split('=')[1]);
                HostProcess.RunIn(ns, "sh", "-c", $"echo {value} > /proc/sys/{key.Replace('.', '/')}");
            }
            Sysctl("net.ipv6.conf.node0.optimistic_dad=1");
            Sysctl("net.ipv6.conf.node0.use_optimistic=1");
            Sysctl("net.ipv6.conf.node0.dad_transmits=60");
            Sysctl("net.ipv6.neigh.node0.retrans_time_ms=1000");
            Sysctl("net.ipv6.conf.tech0.dad_transmits=0");
            var path = NetworkNamespace.PathOf(ns);
            var source = new NamespaceProcSource(path);
            var waiting = Task.Factory.StartNew(() => NetworkNamespace.Run(path, () => ProcNetIfInet6.WaitForLinkLocal(new OnlyOn(source, "node0"), TimeSpan.FromSeconds(20))),
                TaskCreationOptions.LongRunning);
            Assert.True(SpinWait.SpinUntil(() => source.Subscribed, TimeSpan.FromSeconds(20)), "the wait never subscribed");
            HostProcess.Run("ip", "-n", ns, "link", "set", "tech0", "up");
            HostProcess.Run("ip", "-n", ns, "link", "set", "node0", "up");
            var node = Assert.Single(await waiting.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.True(node.IsTentative && node.IsOptimistic, $"flags 0x{node.Flags:x}: DAD should still run");
            var tech = Assert.Single(NetworkNamespace.Run(path, () => ProcNetIfInet6.WaitForLinkLocal(new OnlyOn(source, "tech0"), TimeSpan.FromSeconds(20))));

            using var listener = HoldOn(path, node);
            Assert.Equal(BannerLine, ReadBannerFromTheTechSide(path, node, tech));
            var still = NetworkNamespace.Run(path, () => source.Read()).Single(a => a.InterfaceName == "node0");
            Assert.True(still.IsTentative, "DAD ended before the banner was read: the test proved nothing about optimistic addresses");
        }
        finally
        {
            HostProcess.Run("ip", ["netns", "del", ns], check: false);
        }
    }

    private const string BannerLine = "PPN-GENESIS/1 I2qftCpUAmxOuzn473SVJKSoAvpkJbJLZlPbki4obT0=\r\n";

    /// <summary>A holding listener on the node side's fe80:: address, started inside the namespace.</summary>
    private static HoldingListener HoldOn(string path, InterfaceAddress node) => NetworkNamespace.Run(path, () => HoldingListener.Start(
        [node.EndPoint(9443)], () => GenesisBanner.Format("I2qftCpUAmxOuzn473SVJKSoAvpkJbJLZlPbki4obT0="), new HoldingOptions(), new NoClaimYet(), _ => { }));

    /// <summary>The banner line as a technician on the other end of the link reads it: fe80::node%tech0, port 9443.</summary>
    private static string ReadBannerFromTheTechSide(string path, InterfaceAddress node, InterfaceAddress tech) => NetworkNamespace.Run(path, () =>
    {
        using var client = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(new IPEndPoint(new IPAddress(node.Address.GetAddressBytes(), tech.InterfaceIndex), 9443));
        return HoldingListenerTests.ReadLine(client);
    });

    /// <summary>The real source read from inside the namespace: /proc/thread-self/net is the calling thread's namespace.</summary>
    private sealed class NamespaceProcSource(string path) : IInterfaceAddressSource
    {
        private readonly ProcNetIfInet6 _proc = new("/proc/thread-self/net/if_inet6");
        public volatile bool Subscribed;

        public IReadOnlyList<InterfaceAddress> Read() => _proc.Read();

        public IAddressChanges SubscribeToChanges()
        {
            var changes = NetworkNamespace.Run(path, () => _proc.SubscribeToChanges());
            Subscribed = true;
            return changes;
        }
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
            // Each side on its own: a wait over both can end with the first address the kernel added (see above).
            var node = Assert.Single(ProcNetIfInet6.WaitForLinkLocal(new OnlyOn(source, "node0"), TimeSpan.FromSeconds(15)));
            var tech = Assert.Single(ProcNetIfInet6.WaitForLinkLocal(new OnlyOn(source, "tech0"), TimeSpan.FromSeconds(15)));

            using var listener = HoldOn(path, node);
            Assert.Equal(BannerLine, ReadBannerFromTheTechSide(path, node, tech));
        }
        finally
        {
            HostProcess.Run("ip", ["netns", "del", ns], check: false);
        }
    }


    /// <summary>One interface's addresses of <paramref name="inner"/>, woken by all of its changes.</summary>
    private sealed class OnlyOn(IInterfaceAddressSource inner, string interfaceName) : IInterfaceAddressSource
    {
        public IReadOnlyList<InterfaceAddress> Read() => inner.Read().Where(a => a.InterfaceName == interfaceName).ToList();

        public IAddressChanges SubscribeToChanges() => inner.SubscribeToChanges();
    }

    /// <summary>/proc/net/if_inet6 as the namespace sees it, and that namespace's rtnetlink notifications.</summary>
    private sealed class CommandSource(string ns) : IInterfaceAddressSource
    {
        public IReadOnlyList<InterfaceAddress> Read() => ProcNetIfInet6.Parse(HostProcess.Run("ip", "netns", "exec", ns, "cat", "/proc/net/if_inet6"));

        public IAddressChanges SubscribeToChanges() => NetworkNamespace.Run(NetworkNamespace.PathOf(ns), () => new RtnetlinkAddressChanges());
    }
}

/// <summary>
/// The address-source twin: each read returns the next scripted state (the last one repeats); a change is
/// "reported" at once while scripted states remain, and never after, so a wait on the last state ends at once
/// as a deadline would.
/// </summary>
internal sealed class ScriptedAddressSource(params IReadOnlyList<InterfaceAddress>[] reads) : IInterfaceAddressSource
{
    private readonly int _states = reads.Length;
    public int Reads { get; private set; }
    public int Waits { get; private set; }
    public int Subscriptions { get; private set; }

    public IReadOnlyList<InterfaceAddress> Read() => reads[Math.Min(Reads++, reads.Length - 1)];

    public IAddressChanges SubscribeToChanges()
    {
        Subscriptions++;
        return new Changes(this);
    }

    private sealed class Changes(ScriptedAddressSource source) : IAddressChanges
    {
        public bool Wait(TimeSpan timeout)
        {
            source.Waits++;
            return source.Reads < source._states;
        }

        public void Dispose()
        {
        }
    }
}

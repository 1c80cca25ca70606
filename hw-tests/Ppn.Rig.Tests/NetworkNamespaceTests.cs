using Ppn.Rig.Net;

namespace Ppn.Rig.Tests;

public class NetworkNamespaceNameTests
{
    [Theory]
    [InlineData("ppnrig-1234-1", true, 1234)]
    [InlineData("ppnrig-1234-", false, 0)]
    [InlineData("ppnrig--1", false, 0)]
    [InlineData("ppnrig-x-1", false, 0)]
    [InlineData("other-1234-1", false, 0)]
    public void Only_names_the_rig_makes_are_claimed_by_stale_cleanup(string name, bool ours, int pid)
    {
        Assert.Equal(ours, NetworkNamespace.TryParseOwner(name, out var owner));
        if (ours)
        {
            Assert.Equal(pid, owner);
        }
    }
}

public class NetworkNamespaceTests
{
    [RigFact]
    public void A_tap_made_in_the_namespace_exists_only_there_and_goes_with_it()
    {
        string name;
        using (var ns = NetworkNamespace.Create())
        {
            name = ns.Name;
            Assert.True(ns.Exists);
            ns.AddTap("tap0");
            Assert.Contains("tap0", ns.Links());
            Assert.True(ns.InterfaceIndex("tap0") > 0);
            Assert.DoesNotContain(name, HostCommand.Run("ip", "-o", "link", "show").StandardOutput);
            Assert.Equal("0", ns.RunInside(() => File.ReadAllText("/proc/sys/net/ipv6/conf/tap0/accept_dad").Trim(), TimeSpan.FromSeconds(5)));
        }
        Assert.False(File.Exists($"/var/run/netns/{name}"));
        Assert.DoesNotContain(name, HostCommand.Run("ip", "netns", "list").StandardOutput);
    }

    [RigFact]
    public void The_namespace_is_deleted_even_when_the_test_using_it_throws()
    {
        string? name = null;
        void FailingTest()
        {
            using var ns = NetworkNamespace.Create();
            name = ns.Name;
            throw new InvalidOperationException("test failure");
        }
        Assert.Throws<InvalidOperationException>(FailingTest);
        Assert.False(File.Exists($"/var/run/netns/{name}"));
    }

    [RigFact]
    public void A_socket_made_inside_reaches_a_listener_inside_but_the_host_does_not_see_it()
    {
        using var ns = NetworkNamespace.Create();
        ns.Run("ip", "link", "set", "lo", "up");
        using var listener = ns.RunInside(() =>
        {
            var l = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetworkV6,
                System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            l.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.IPv6Loopback, 0));
            l.Listen();
            return l;
        }, TimeSpan.FromSeconds(5));
        int port = ((System.Net.IPEndPoint)listener.LocalEndPoint!).Port;
        using var client = ns.CreateTcpSocket();
        client.Connect(new System.Net.IPEndPoint(System.Net.IPAddress.IPv6Loopback, port));
        using var accepted = listener.Accept();
        Assert.True(accepted.Connected);
        Assert.Equal(0, ns.InterfaceIndex("lo") - 1); // lo is always index 1 in a fresh namespace
    }

    [RigFact]
    public void Stale_cleanup_deletes_namespaces_of_dead_runs_and_keeps_live_ones()
    {
        // A name whose pid cannot be a live process (above pid_max's hard limit of 2^22).
        const string dead = "ppnrig-4194305-1";
        HostCommand.Run("ip", "netns", "add", dead);
        try
        {
            using var mine = NetworkNamespace.Create();
            var deleted = NetworkNamespace.DeleteStale();
            Assert.Contains(dead, deleted);
            Assert.True(mine.Exists);
        }
        finally
        {
            HostCommand.Run("ip", ["netns", "del", dead], check: false);
        }
    }
}

public class BenchLinkRigTests
{
    /// <summary>A bench rig borrows a host NIC (here one end of a veth pair this test makes) for its namespace and gives it back.</summary>
    [RigFact]
    public void A_bench_rig_moves_its_link_into_its_namespace_and_gives_it_back()
    {
        var link = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"ppnlk{Environment.ProcessId % 100000}");
        HostCommand.Run("ip", "link", "add", link, "type", "veth", "peer", "name", link + "p");
        try
        {
            string ns;
            using (var rig = Rig.CreateOnLink("bench-link", link))
            {
                ns = rig.Namespace.Name;
                Assert.Equal(link, rig.Link);
                Assert.Equal(link, rig.Network.Tap);
                Assert.Contains(link, rig.Namespace.Links());
                Assert.False(Directory.Exists($"/sys/class/net/{link}"), "the link is still in the host namespace");
                Assert.True(rig.Namespace.InterfaceIndex(link) > 0);
            }
            Assert.True(Directory.Exists($"/sys/class/net/{link}"), "the link did not come back to the host namespace");
            Assert.DoesNotContain(ns, HostCommand.Run("ip", "netns", "list").StandardOutput);
        }
        finally
        {
            HostCommand.Run("ip", ["link", "del", link], check: false);
        }
    }

    [RigFact]
    public void A_bench_rig_on_a_link_the_host_does_not_have_is_a_rig_fault()
    {
        var e = Assert.Throws<Ppn.Rig.Model.RigInfrastructureException>(() => Rig.CreateOnLink("bench-link", "ppnlk-none"));
        Assert.Equal(Ppn.Rig.Model.RigFault.LinkMissing, e.Fault);
        Assert.Contains("'link:'", e.Message);
    }
}

public class HoldingPortProbeLinkTests
{
    /// <summary>The rig's link vanishing mid-run (a USB NIC unplugged) is the rig's fault at once, not a silent board after the boot budget.</summary>
    [RigFact]
    public void A_link_gone_from_the_namespace_is_a_rig_fault_not_a_silent_holding_port()
    {
        using var ns = NetworkNamespace.Create();
        ns.AddTap("tap0");
        using var node = new Ppn.Rig.Power.BenchNode("board-a", System.Net.NetworkInformation.PhysicalAddress.Parse("00-10-18-AA-BB-01"),
            new Power.FakePowerSwitch(), new Consoles.FakeConsolePort(), new Ppn.Rig.Power.BenchNodeOptions { Network = new Ppn.Rig.Emulation.NodeNetwork(ns, "tap0") });
        node.PowerOn();
        HostCommand.Run("ip", "-n", ns.Name, "link", "del", "tap0"); // unplugged

        var e = Assert.Throws<Ppn.Rig.Model.RigInfrastructureException>(() => node.AwaitGenesisKey(TimeSpan.FromMinutes(4)));

        Assert.Equal(Ppn.Rig.Model.RigFault.LinkMissing, e.Fault);
        Assert.Contains("the rig link tap0 is gone", e.Message);
        Assert.Equal(Ppn.Rig.Model.FailureKind.Infrastructure, Ppn.Rig.Model.FailureClassifier.Classify(e));
    }
}

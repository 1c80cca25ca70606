using System.Net;
using Ppn.Formats;
using Ppn.Mesh;
using Ppn.Mesh.Links;
using Ppn.Mesh.WireGuard;

namespace Ppn.Appliance.SelfTests;

/// <summary>
/// `ppn.selftest=mesh`: proves the kernel WireGuard path (generic netlink family "wireguard" + rtnetlink)
/// on a booted node, where the module exists (build hosts have none). It configures a scratch interface
/// the way enrolment will configure ppn0, with more peers and allowed IPs than one netlink message holds
/// (message splitting and multi-part dumps), reads it back, re-runs (must change nothing), repairs drift
/// and removes the interface. No peer has keepalive and the node has no route to any endpoint: nothing
/// is sent on the wire. Each check is one console line "ppn: selftest: mesh: {json}" (<see cref="MeshSelfTestCheck"/>).
/// </summary>
public static class MeshSelfTest
{
    public const string Interface = "ppnselftest0";
    private const int ExtraPeers = 40;          // > 32 peers per WG_CMD_SET_DEVICE message (wgctrl-go's split)
    private const int ManyAllowedIps = 300;     // > 256 allowed IPs on one peer

    public static (int Passed, int Failed) Run(Action<string> log)
    {
        int passed = 0, failed = 0;
        void Check(string name, bool ok, MeshSelfTestCheck? details = null)
        {
            if (ok) passed++; else failed++;
            var line = (details ?? new MeshSelfTestCheck()) with { Check = name, Passed = ok };
            log(SelfTestLine.Message(SelfTestLine.Mesh, line, SelfTestJson.Default.MeshSelfTestCheck));
        }

        var links = new RtnetlinkLinkConfigurator();
        var wireGuard = new KernelWireGuard(links);
        var bringUp = new MeshBringUp(wireGuard, links);
        try
        {
            var hubKey = RandomPublicKey();
            using var config = Config(hubKey);
            var first = bringUp.Up(Interface, config);
            Check("bring-up creates the interface and applies the configuration", first.Changed, new MeshSelfTestCheck { Changes = first.Changes.Count });

            using (var device = wireGuard.Get(Interface))
            {
                int allowed = device?.Peers.Sum(p => p.AllowedIPs.Count) ?? -1;
                var hub = device?.Peers.FirstOrDefault(p => p.PublicKey == hubKey);
                Check("read-back over netlink equals what was set",
                    device is not null
                    && device.PublicKey == config.PrivateKey.PublicKey()
                    && device.ListenPort == config.ListenPort
                    && device.Peers.Count == config.Peers.Count
                    && allowed == config.Peers.Sum(p => p.AllowedIPs.Count)
                    && hub?.Endpoint?.ToString() == "192.0.2.1:51820",
                    new MeshSelfTestCheck
                    {
                        Backend = wireGuard.Backend,
                        Peers = device?.Peers.Count ?? -1,
                        AllowedIps = allowed,
                        ListenPort = device?.ListenPort ?? -1,
                    });
            }

            var link = links.Get(Interface);
            Check("link is up with the mesh MTU and address", link is { Up: true, Kind: "wireguard" } && link.Mtu == config.Mtu
                && links.Addresses(link.Index).Contains(config.Address),
                new MeshSelfTestCheck { Link = link?.ToString() ?? "missing" });

            var second = bringUp.Up(Interface, config);
            Check("a second bring-up changes nothing", !second.Changed, new MeshSelfTestCheck { Changes = second.Changes.Count });

            using (var drift = new DeviceChange { ListenPort = 40000 })
            {
                drift.Peers.Add(new PeerChange { PublicKey = hubKey, Remove = true });
                wireGuard.Apply(Interface, drift);
            }
            var repair = bringUp.Up(Interface, config);
            var third = bringUp.Up(Interface, config);
            Check("drift (listen port, a removed peer) is repaired, then stable", repair.Changed && !third.Changed,
                new MeshSelfTestCheck { RepairChanges = repair.Changes.Count });

            bool removed = bringUp.Down(Interface) && links.Get(Interface) is null;
            Check("down removes the interface", removed);
        }
        catch (Exception e)
        {
            Check("no error from the kernel path", false, new MeshSelfTestCheck { Error = $"{e.GetType().Name}: {e.Message}" });
            try { bringUp.Down(Interface); } catch (Exception) { }
        }
        log($"mesh: {passed} passed, {failed} failed");
        return (passed, failed);
    }

    private static MeshConfig Config(WireGuardKey hub)
    {
        var peers = new List<MeshPeer>
        {
            // The hub as enrolment describes it: the only statically addressed peer, the whole mesh behind it.
            new(hub, IPEndPoint.Parse("192.0.2.1:51820"), [IpPrefix.Parse("10.8.0.0/24")], null),
        };
        var many = Enumerable.Range(0, ManyAllowedIps).Select(i => IpPrefix.Parse($"10.9.{i / 256}.{i % 256}/32")).ToList();
        peers.Add(new MeshPeer(RandomPublicKey(), null, many, null));
        for (int i = 0; i < ExtraPeers; i++)
        {
            peers.Add(new MeshPeer(RandomPublicKey(), null, [IpPrefix.Parse($"10.10.{i}.0/24")], null));
        }
        return new MeshConfig
        {
            PrivateKey = WireGuardPrivateKey.Generate(),
            Address = IpPrefix.Parse("10.8.0.2/24"),
            ListenPort = 51820,
            Peers = peers,
        };
    }

    private static WireGuardKey RandomPublicKey()
    {
        using var key = WireGuardPrivateKey.Generate();
        return key.PublicKey();
    }
}

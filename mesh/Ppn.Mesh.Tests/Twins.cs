using Ppn.Mesh.Links;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Tests;

/// <summary>Test twin of a WireGuard backend with WG_CMD_SET_DEVICE semantics, counting applies.</summary>
public sealed class InMemoryWireGuard(InMemoryLinks links) : IWireGuard
{
    private readonly Dictionary<string, (byte[]? Key, int Port, List<WireGuardPeer> Peers)> _devices = [];
    public int Applies { get; private set; }
    public string Backend => "twin";

    public bool EnsureInterface(string name)
    {
        if (_devices.ContainsKey(name)) return false;
        _devices[name] = (null, 0, []);
        links.Create(name);
        return true;
    }

    public WireGuardDevice? Get(string name)
    {
        if (!_devices.TryGetValue(name, out var d)) return null;
        var key = d.Key is null ? null : new WireGuardPrivateKey(d.Key);
        var device = new WireGuardDevice { Name = name, PrivateKey = key, PublicKey = key?.PublicKey(), ListenPort = d.Port };
        foreach (var p in d.Peers)
        {
            var copy = new WireGuardPeer { PublicKey = p.PublicKey, Endpoint = p.Endpoint, PersistentKeepaliveSeconds = p.PersistentKeepaliveSeconds };
            copy.AllowedIPs.AddRange(p.AllowedIPs);
            device.Peers.Add(copy);
        }
        return device;
    }

    public void Apply(string name, DeviceChange change)
    {
        Applies++;
        var d = _devices[name];
        if (change.PrivateKey is not null) d.Key = change.PrivateKey.Bytes.ToArray();
        if (change.ListenPort is int port) d.Port = port;
        if (change.ReplacePeers) d.Peers.Clear();
        foreach (var pc in change.Peers)
        {
            var existing = d.Peers.FirstOrDefault(p => p.PublicKey == pc.PublicKey);
            if (pc.Remove) { if (existing is not null) d.Peers.Remove(existing); continue; }
            if (existing is null)
            {
                if (pc.UpdateOnly) continue;
                existing = new WireGuardPeer { PublicKey = pc.PublicKey };
                d.Peers.Add(existing);
            }
            if (pc.Endpoint is not null) existing.Endpoint = pc.Endpoint;
            if (pc.PersistentKeepaliveSeconds is int k) existing.PersistentKeepaliveSeconds = k;
            if (pc.ReplaceAllowedIPs) existing.AllowedIPs.Clear();
            existing.AllowedIPs.AddRange(pc.AllowedIPs);
        }
        _devices[name] = d;
    }

    /// <summary>Drift injection: what another tool (`wg set`) might do behind our back.</summary>
    public void Tamper(string name, Action<List<WireGuardPeer>> edit) => edit(_devices[name].Peers);
}

/// <summary>Test twin of rtnetlink: links, addresses, routes, forwarding; the kernel's connected route included.</summary>
public sealed class InMemoryLinks : ILinkConfigurator
{
    public Dictionary<string, LinkState> Links { get; } = [];
    public Dictionary<int, List<IpPrefix>> Addr { get; } = [];
    public Dictionary<int, List<RouteEntry>> RouteTable { get; } = [];
    public Dictionary<string, bool> Forward { get; } = [];
    public int Writes { get; private set; }

    public void Create(string name)
    {
        int index = Links.Count + 10;
        Links[name] = new LinkState(index, name, 1420, false, "wireguard");
        Addr[index] = [];
        RouteTable[index] = [];
    }

    public LinkState? Get(string name) => Links.GetValueOrDefault(name);
    public void CreateWireGuard(string name) { Writes++; Create(name); }
    public void Delete(string name) { Writes++; Links.Remove(name); }
    private void Update(int index, Func<LinkState, LinkState> f) { Writes++; var l = Links.Values.First(x => x.Index == index); Links[l.Name] = f(l); }
    public void SetMtu(int index, int mtu) => Update(index, l => l with { Mtu = mtu });
    public void SetUp(int index, bool up) => Update(index, l => l with { Up = up });
    public IReadOnlyList<IpPrefix> Addresses(int index) => Addr[index].ToList();
    public void AddAddress(int index, IpPrefix address)
    {
        Writes++;
        Addr[index].Add(address);
        RouteTable[index].Add(new RouteEntry(address.Network(), index, Rtnetlink.RTPROT_KERNEL));
    }
    public void DeleteAddress(int index, IpPrefix address)
    {
        Writes++;
        Addr[index].Remove(address);
        RouteTable[index].RemoveAll(r => r.Destination == address.Network() && r.Protocol == Rtnetlink.RTPROT_KERNEL);
    }
    public IReadOnlyList<RouteEntry> Routes(int index) => RouteTable[index].ToList();
    public void AddRoute(int index, IpPrefix destination) { Writes++; RouteTable[index].Add(new RouteEntry(destination.Network(), index, Rtnetlink.RTPROT_STATIC)); }
    public void DeleteRoute(int index, IpPrefix destination) { Writes++; RouteTable[index].RemoveAll(r => r.Destination == destination.Network()); }
    public bool GetForwarding(string name) => Forward.GetValueOrDefault(name);
    public void SetForwarding(string name, bool enabled) { Writes++; Forward[name] = enabled; }
}

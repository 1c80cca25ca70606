using Ppn.Mesh.Links;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh;

/// <summary>What a bring-up changed; empty when the node already matched its configuration.</summary>
public sealed record BringUpReport(string Interface, string Backend, IReadOnlyList<string> Changes)
{
    public bool Changed => Changes.Count > 0;
}

/// <summary>
/// Brings ppn0 to its configuration and keeps it there: read the current state, compute the difference, apply
/// only that. Running it again changes nothing; drift (a wrong address, an extra peer, a changed endpoint, a
/// down link) is repaired. See docs/mesh.md for the rules.
/// </summary>
public sealed class MeshBringUp
{
    private readonly IWireGuard _wireGuard;
    private readonly ILinkConfigurator _links;

    public MeshBringUp(IWireGuard wireGuard, ILinkConfigurator links)
    {
        _wireGuard = wireGuard;
        _links = links;
    }

    public BringUpReport Up(string name, MeshConfig config)
    {
        var changes = new List<string>();
        if (_wireGuard.EnsureInterface(name))
        {
            changes.Add($"created interface {name}");
        }
        var link = _links.Get(name) ?? throw new InvalidOperationException($"interface {name} does not exist after creation");

        using (var device = _wireGuard.Get(name) ?? throw new InvalidOperationException($"{name} is not a WireGuard interface"))
        using (var change = ComputeDeviceChange(device, config, changes))
        {
            if (!change.IsEmpty)
            {
                _wireGuard.Apply(name, change);
            }
        }

        if (link.Mtu != config.Mtu)
        {
            _links.SetMtu(link.Index, config.Mtu);
            changes.Add($"mtu {link.Mtu} -> {config.Mtu}");
        }

        var addresses = _links.Addresses(link.Index);
        foreach (var stale in addresses.Where(a => a != config.Address))
        {
            _links.DeleteAddress(link.Index, stale);
            changes.Add($"removed address {stale}");
        }
        if (!addresses.Contains(config.Address))
        {
            _links.AddAddress(link.Index, config.Address);
            changes.Add($"added address {config.Address}");
        }

        if (!link.Up)
        {
            _links.SetUp(link.Index, true);
            changes.Add("link up");
        }

        ConvergeRoutes(link.Index, config, changes);

        if (_links.GetForwarding(name) != config.Forwarding)
        {
            _links.SetForwarding(name, config.Forwarding);
            changes.Add($"forwarding {(config.Forwarding ? "on" : "off")}");
        }
        return new BringUpReport(name, _wireGuard.Backend, changes);
    }

    /// <summary>Removes ppn0 (RTM_DELLINK; a userspace daemon exits when its tun goes). True when it existed.</summary>
    public bool Down(string name)
    {
        if (_links.Get(name) is null)
        {
            return false;
        }
        _links.Delete(name);
        return true;
    }

    /// <summary>
    /// Routes for allowed IPs outside the interface's own prefix (the kernel already routes the connected
    /// 10.8.0.0/24). Only routes we own (protocol static on this interface) are removed when no longer wanted.
    /// </summary>
    private void ConvergeRoutes(int index, MeshConfig config, List<string> changes)
    {
        var connected = config.Address.Network();
        var wanted = config.Peers.SelectMany(p => p.AllowedIPs).Select(p => p.Network())
            .Where(p => !connected.Contains(p)).Distinct().ToList();
        var current = _links.Routes(index);
        foreach (var route in current.Where(r => r.Protocol == Rtnetlink.RTPROT_STATIC && !wanted.Contains(r.Destination.Network())))
        {
            _links.DeleteRoute(index, route.Destination);
            changes.Add($"removed route {route.Destination}");
        }
        foreach (var prefix in wanted.Where(w => !current.Any(r => r.Destination.Network() == w)))
        {
            _links.AddRoute(index, prefix);
            changes.Add($"added route {prefix}");
        }
    }

    /// <summary>The WireGuard part of the difference, as one set change (empty when nothing differs). Pure.</summary>
    public static DeviceChange ComputeDeviceChange(WireGuardDevice current, MeshConfig desired, List<string> changes)
    {
        var change = new DeviceChange();
        var wantedPublic = desired.PrivateKey.PublicKey();
        if (current.PrivateKey is null || !current.PrivateKey.SameAs(desired.PrivateKey))
        {
            change.PrivateKey = desired.PrivateKey.Clone();
            changes.Add($"private key set (public key {wantedPublic})");
        }
        if (desired.ListenPort is int port && current.ListenPort != port)
        {
            change.ListenPort = port;
            changes.Add($"listen port {current.ListenPort} -> {port}");
        }
        var byKey = current.Peers.ToDictionary(p => p.PublicKey);
        foreach (var peer in desired.Peers)
        {
            var wantedIPs = peer.AllowedIPs.Select(p => p.Network()).ToHashSet();
            if (!byKey.TryGetValue(peer.PublicKey, out var existing))
            {
                var add = new PeerChange
                {
                    PublicKey = peer.PublicKey,
                    Endpoint = peer.Endpoint,
                    PersistentKeepaliveSeconds = peer.PersistentKeepaliveSeconds,
                    ReplaceAllowedIPs = true,
                };
                add.AllowedIPs.AddRange(wantedIPs);
                change.Peers.Add(add);
                changes.Add($"added peer {peer.PublicKey}");
                continue;
            }
            var update = new PeerChange { PublicKey = peer.PublicKey, UpdateOnly = true };
            bool differs = false;
            if (peer.Endpoint is not null && !peer.Endpoint.Equals(existing.Endpoint))
            {
                update.Endpoint = peer.Endpoint;
                changes.Add($"peer {peer.PublicKey}: endpoint {existing.Endpoint?.ToString() ?? "(none)"} -> {EndpointText.Format(peer.Endpoint)}");
                differs = true;
            }
            int keepalive = peer.PersistentKeepaliveSeconds ?? 0;
            if (existing.PersistentKeepaliveSeconds != keepalive)
            {
                update.PersistentKeepaliveSeconds = keepalive;
                changes.Add($"peer {peer.PublicKey}: keepalive {existing.PersistentKeepaliveSeconds} -> {keepalive}");
                differs = true;
            }
            if (!wantedIPs.SetEquals(existing.AllowedIPs.Select(p => p.Network())))
            {
                update.ReplaceAllowedIPs = true;
                update.AllowedIPs.AddRange(wantedIPs);
                changes.Add($"peer {peer.PublicKey}: allowed ips [{string.Join(", ", existing.AllowedIPs)}] -> [{string.Join(", ", wantedIPs)}]");
                differs = true;
            }
            if (differs)
            {
                change.Peers.Add(update);
            }
        }
        var wantedKeys = desired.Peers.Select(p => p.PublicKey).ToHashSet();
        foreach (var extra in current.Peers.Where(p => !wantedKeys.Contains(p.PublicKey)))
        {
            change.Peers.Add(new PeerChange { PublicKey = extra.PublicKey, Remove = true });
            changes.Add($"removed peer {extra.PublicKey}");
        }
        return change;
    }
}

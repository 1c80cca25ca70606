using System.Net;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh.Sync;

/// <summary>What the device says about one peer right now (from `wg show` / WG_CMD_GET_DEVICE).</summary>
public sealed record PeerObservation(DateTimeOffset? LastHandshake, ulong ReceiveBytes, IPEndPoint? Endpoint);

public enum DirectState
{
    /// <summary>A peer with the hint as endpoint, keepalive on, no AllowedIPs: it can handshake but carries nothing.</summary>
    Probing,
    /// <summary>The peer carries &lt;peer&gt;/32 (more specific than the hub's /24): traffic goes straight to it.</summary>
    Direct,
    /// <summary>No peer on the device: the probe got no handshake; traffic goes through the hub; retried later.</summary>
    Idle,
}

public sealed record DirectPathOptions
{
    /// <summary>Keepalive on a probing or direct peer: the liveness signal the other side watches.</summary>
    public int KeepaliveSeconds { get; init; } = 5;
    /// <summary>A direct peer whose received bytes stop growing for this long falls back to the hub (3 keepalives).</summary>
    public TimeSpan StaleAfter { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>
    /// A direct peer whose last handshake is older than this falls back too, whatever it receives: WireGuard rekeys
    /// every 120 s while traffic flows and rejects a session after 180 s (REJECT_AFTER_TIME), so an older handshake
    /// means the session can no longer carry our packets (an asymmetric cut).
    /// </summary>
    public TimeSpan HandshakeMaxAge { get; init; } = TimeSpan.FromSeconds(185);
    /// <summary>A probe with no handshake for this long is given up (the peer removed)…</summary>
    public TimeSpan ProbeFor { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>…and tried again after this.</summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>One transition the policy made (for the log and the tests).</summary>
public sealed record DirectTransition(WireGuardKey Peer, IPAddress Address, DirectState From, DirectState To, string Reason);

/// <summary>
/// The spoke's direct-path policy (docs/protocol/sync.md §Direct paths), a state machine per other spoke, fed the
/// set's grants, the relay's endpoint hints, the device's observations and the time; it returns the peers ppn0
/// should have besides the hub. No OS access: the appliance reads the device and applies the result.
/// <code>
///  (hint known) ──► Probing ──handshake newer than the probe──► Direct
///                    │  ▲                                        │ rx stale &gt; StaleAfter, or handshake older than HandshakeMaxAge
///     no handshake   │  └────────────────────────────────────────┘ (fallback: /32 removed, the hub carries the traffic)
///     within ProbeFor▼
///                   Idle ──RetryAfter, or a new hint──► Probing
///  (grant gone or revoked) ──► removed from every state
/// </code>
/// </summary>
public sealed class DirectPaths(WireGuardKey self, DirectPathOptions? options = null)
{
    private sealed class Path
    {
        public required IPAddress Address;
        public required IPEndPoint Hint;
        public DirectState State;
        public DateTimeOffset Since;
        public ulong LastReceive;
        public DateTimeOffset LastReceiveAt;
        public IPEndPoint? Endpoint;
    }

    private readonly Dictionary<WireGuardKey, Path> _paths = [];
    public DirectPathOptions Options { get; } = options ?? new DirectPathOptions();

    public DirectState? StateOf(WireGuardKey peer) => _paths.TryGetValue(peer, out var p) ? p.State : null;

    public int DirectCount => _paths.Values.Count(p => p.State == DirectState.Direct);

    /// <summary>One policy step. <paramref name="observe"/> gives the device's view of a peer (null: not on the device).</summary>
    public IReadOnlyList<DirectTransition> Step(PeerSet? set, IReadOnlyList<EndpointHint> hints, Func<WireGuardKey, PeerObservation?> observe, DateTimeOffset now)
    {
        var transitions = new List<DirectTransition>();
        var granted = new Dictionary<WireGuardKey, IPAddress>();
        foreach (var grant in set?.Grants ?? [])
        {
            var key = new WireGuardKey(grant.NodePublicKey);
            if (key != self) granted[key] = grant.Address;
        }
        foreach (var (key, path) in _paths.ToList())
        {
            if (!granted.ContainsKey(key))
            {
                // Revoked or no longer granted: every path to it goes, the direct one first.
                _paths.Remove(key);
                transitions.Add(new(key, path.Address, path.State, DirectState.Idle, "no longer in the peer set"));
            }
        }
        var hintOf = new Dictionary<WireGuardKey, IPEndPoint>();
        foreach (var hint in hints) hintOf[hint.PublicKey] = hint.Endpoint;

        foreach (var (key, address) in granted)
        {
            if (!_paths.TryGetValue(key, out var path))
            {
                if (!hintOf.TryGetValue(key, out var first)) continue;
                _paths[key] = path = new Path { Address = address, Hint = first, State = DirectState.Probing, Since = now, LastReceiveAt = now, LastReceive = observe(key)?.ReceiveBytes ?? 0 };
                transitions.Add(new(key, address, DirectState.Idle, DirectState.Probing, $"hint {first}"));
                continue;
            }
            path.Address = address;
            bool newHint = hintOf.TryGetValue(key, out var hinted) && !hinted.Equals(path.Hint);
            if (newHint) path.Hint = hinted!;
            var seen = observe(key);
            switch (path.State)
            {
                case DirectState.Idle:
                    path.LastReceive = seen?.ReceiveBytes ?? 0;
                    if (newHint || now - path.Since >= Options.RetryAfter) Move(path, key, DirectState.Probing, now, newHint ? $"new hint {path.Hint}" : "retry", transitions);
                    break;
                case DirectState.Probing:
                    // wireguard-go and the kernel report handshake times in whole seconds: allow one second of rounding.
                    // A handshake newer than the probe, or a session still young enough that is receiving again (a path
                    // back after a cut keeps its session: no new handshake until the 120 s rekey).
                    if (seen?.LastHandshake is { } handshake
                        && (handshake >= path.Since - TimeSpan.FromSeconds(1) || (seen.ReceiveBytes != path.LastReceive && now - handshake <= Options.HandshakeMaxAge)))
                    {
                        path.LastReceive = seen.ReceiveBytes;
                        path.LastReceiveAt = now;
                        path.Endpoint = seen.Endpoint;
                        Move(path, key, DirectState.Direct, now, $"handshake with {seen.Endpoint?.ToString() ?? path.Hint.ToString()}", transitions);
                    }
                    else if (newHint)
                    {
                        Move(path, key, DirectState.Probing, now, $"new hint {path.Hint}", transitions);
                    }
                    else if (now - path.Since >= Options.ProbeFor)
                    {
                        Move(path, key, DirectState.Idle, now, $"no handshake within {Options.ProbeFor.TotalSeconds:0} s", transitions);
                    }
                    break;
                case DirectState.Direct:
                    if (seen is not null && seen.ReceiveBytes != path.LastReceive)
                    {
                        path.LastReceive = seen.ReceiveBytes;
                        path.LastReceiveAt = now;
                    }
                    if (seen?.Endpoint is { } ep) path.Endpoint = ep;
                    if (seen is null || now - path.LastReceiveAt > Options.StaleAfter)
                    {
                        Move(path, key, DirectState.Probing, now, $"nothing received for {(now - path.LastReceiveAt).TotalSeconds:0} s: back through the hub", transitions);
                    }
                    else if (seen.LastHandshake is not { } h || now - h > Options.HandshakeMaxAge)
                    {
                        Move(path, key, DirectState.Probing, now, "handshake too old: back through the hub", transitions);
                    }
                    break;
            }
        }
        return transitions;
    }

    private static void Move(Path path, WireGuardKey key, DirectState to, DateTimeOffset now, string reason, List<DirectTransition> transitions)
    {
        transitions.Add(new(key, path.Address, path.State, to, reason));
        path.State = to;
        path.Since = now;
        if (to != DirectState.Direct) path.Endpoint = null;
    }

    /// <summary>The peers ppn0 should carry besides the hub, from the current states.</summary>
    public IReadOnlyList<MeshPeer> Peers()
    {
        var peers = new List<MeshPeer>();
        foreach (var (key, path) in _paths.OrderBy(p => p.Value.Address.GetAddressBytes()[3]))
        {
            switch (path.State)
            {
                case DirectState.Probing:
                    peers.Add(new MeshPeer(key, path.Hint, [], Options.KeepaliveSeconds));
                    break;
                case DirectState.Direct:
                    peers.Add(new MeshPeer(key, path.Endpoint ?? path.Hint, [new IpPrefix(path.Address, 32)], Options.KeepaliveSeconds));
                    break;
            }
        }
        return peers;
    }
}

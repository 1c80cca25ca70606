using System.Globalization;
using System.Net;
using System.Text;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh;

/// <summary>One peer of ppn0 as enrolment describes it.</summary>
public sealed record MeshPeer(WireGuardKey PublicKey, IPEndPoint? Endpoint, IReadOnlyList<IpPrefix> AllowedIPs, int? PersistentKeepaliveSeconds);

/// <summary>
/// What ppn0 must look like: the node's key, its address in 10.8.0.0/24, listen port, MTU, whether it forwards
/// (the hub), and its peers. Today it comes from a file (<see cref="MeshConfigFile"/>); the enrolment record
/// from genesis will produce the same type. Owns the private key: dispose to zero it.
/// </summary>
public sealed class MeshConfig : IDisposable
{
    public const string DefaultInterface = "ppn0";
    public const int DefaultMtu = 1420;

    public required WireGuardPrivateKey PrivateKey { get; init; }
    public required IpPrefix Address { get; init; }
    public int? ListenPort { get; init; }
    public int Mtu { get; init; } = DefaultMtu;
    public bool Forwarding { get; init; }
    public IReadOnlyList<MeshPeer> Peers { get; init; } = [];

    public void Dispose() => PrivateKey.Dispose();
}

/// <summary>
/// The config file of `ppn mesh up --config FILE`: wg-quick format ([Interface] PrivateKey, Address, ListenPort,
/// MTU; [Peer] PublicKey, Endpoint, AllowedIPs, PersistentKeepalive) plus one ppn key, `Forwarding = true` in
/// [Interface] for the hub. Comments start with #. Unknown keys are an error (a typo must not pass silently).
/// </summary>
public static class MeshConfigFile
{
    /// <param name="defaultKey">Where the interface's key comes from when the file names none (the relay's genesis
    /// identity); without it a file with no PrivateKey is an error. Called only when needed; the key it returns is
    /// owned by the returned configuration.</param>
    public static MeshConfig Parse(string text, string source = "config", Func<WireGuardPrivateKey>? defaultKey = null)
    {
        WireGuardPrivateKey? key = null;
        IpPrefix? address = null;
        int? listenPort = null;
        int mtu = MeshConfig.DefaultMtu;
        bool forwarding = false;
        var peers = new List<MeshPeer>();
        string? section = null;
        WireGuardKey? peerKey = null;
        IPEndPoint? endpoint = null;
        var allowed = new List<IpPrefix>();
        int? keepalive = null;
        int lineNumber = 0;

        FormatException Error(string message) => new($"{source}:{lineNumber}: {message}");
        void FinishPeer()
        {
            if (section != "Peer") return;
            if (peerKey is null) throw Error("[Peer] without PublicKey");
            peers.Add(new MeshPeer(peerKey.Value, endpoint, allowed.ToList(), keepalive));
            peerKey = null; endpoint = null; allowed.Clear(); keepalive = null;
        }

        try
        {
            foreach (var raw in text.Split('\n'))
            {
                lineNumber++;
                var line = raw;
                int hash = line.IndexOf('#');
                if (hash >= 0) line = line[..hash];
                line = line.Trim();
                if (line.Length == 0) continue;
                if (line.StartsWith('[') && line.EndsWith(']'))
                {
                    FinishPeer();
                    section = line[1..^1].Trim();
                    if (section is not ("Interface" or "Peer")) throw Error($"unknown section [{section}]");
                    continue;
                }
                int eq = line.IndexOf('=');
                if (eq <= 0 || section is null) throw Error("expected 'Key = value' inside [Interface] or [Peer]");
                var name = line[..eq].Trim();
                var value = line[(eq + 1)..].Trim();
                switch (section, name.ToLowerInvariant())
                {
                    case ("Interface", "privatekey"):
                        key?.Dispose();
                        if (!WireGuardPrivateKey.TryParseBase64(value, out key)) throw Error("PrivateKey is not 44 characters of base64 (32 bytes)");
                        break;
                    case ("Interface", "address"):
                        if (value.Contains(',')) throw Error("ppn0 takes exactly one Address");
                        if (!IpPrefix.TryParse(value, out var a) || !value.Contains('/')) throw Error($"Address '{value}' is not ADDRESS/PREFIX");
                        address = a;
                        break;
                    case ("Interface", "listenport"):
                        listenPort = ParsePort(value) ?? throw Error($"ListenPort '{value}' is not 1..65535");
                        break;
                    case ("Interface", "mtu"):
                        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out mtu) || mtu is < 1280 or > 65535) throw Error($"MTU '{value}' is not 1280..65535");
                        break;
                    case ("Interface", "forwarding"):
                        if (!bool.TryParse(value, out forwarding)) throw Error($"Forwarding '{value}' is not true or false");
                        break;
                    case ("Peer", "publickey"):
                        if (!WireGuardKey.TryParseBase64(value, out var pk)) throw Error("PublicKey is not 44 characters of base64 (32 bytes)");
                        peerKey = pk;
                        break;
                    case ("Peer", "endpoint"):
                        if (!EndpointText.TryParse(value, out endpoint)) throw Error($"Endpoint '{value}' is not ADDRESS:PORT (no host names: the node has no DNS)");
                        break;
                    case ("Peer", "allowedips"):
                        foreach (var part in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                        {
                            if (!IpPrefix.TryParse(part, out var p)) throw Error($"AllowedIPs entry '{part}' is not ADDRESS[/PREFIX]");
                            allowed.Add(p.Network());
                        }
                        break;
                    case ("Peer", "persistentkeepalive"):
                        if (value == "off") { keepalive = 0; break; }
                        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var k) || k > 65535) throw Error($"PersistentKeepalive '{value}' is not 0..65535 or off");
                        keepalive = k;
                        break;
                    default:
                        throw Error($"unknown key '{name}' in [{section}]");
                }
            }
            FinishPeer();
            if (address is null) throw Error("[Interface] needs Address");
            if (key is null && defaultKey is null) throw Error("[Interface] needs PrivateKey");
            key ??= defaultKey!();
            return new MeshConfig { PrivateKey = key, Address = address.Value, ListenPort = listenPort, Mtu = mtu, Forwarding = forwarding, Peers = peers };
        }
        catch
        {
            key?.Dispose();
            throw;
        }
    }

    private static int? ParsePort(string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535 ? port : null;

    /// <summary>A wg-quick file with a handful of peers is a few KiB; anything near this is not one.</summary>
    public const int MaxFileBytes = 1024 * 1024;

    /// <summary>Reads a regular file of at most <see cref="MaxFileBytes"/> (a device or FIFO is refused unread) and parses it.</summary>
    public static MeshConfig Load(string path)
    {
        var node = Ppn.Linux.FileNode.Stat(path);
        if (node.Kind == Ppn.Linux.FileNodeKind.Missing)
        {
            throw new FileNotFoundException($"config file {path} does not exist");
        }
        if (node.Kind != Ppn.Linux.FileNodeKind.Regular || node.Size > MaxFileBytes)
        {
            throw new FormatException($"config file {path} is {(node.Kind == Ppn.Linux.FileNodeKind.Regular ? $"{node.Size} bytes" : Ppn.Linux.FileNode.Describe(node.Kind))}: not a wg-quick configuration file");
        }
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>
    /// wg-quick text (`wg showconf` plus Address/MTU and ppn's Forwarding) for a device as read back. The private key is written only
    /// when <paramref name="showPrivateKey"/>; otherwise a comment says it was withheld.
    /// </summary>
    public static string Format(WireGuardDevice device, IReadOnlyList<IpPrefix> addresses, int? mtu, bool forwarding, bool showPrivateKey)
    {
        var sb = new StringBuilder();
        sb.Append("[Interface]\n");
        if (addresses.Count > 0) sb.Append("Address = ").Append(string.Join(", ", addresses)).Append('\n');
        // Always written: `ppn mesh up` turns forwarding off when the key is missing, so a hub's showconf
        // without it would not round-trip.
        sb.Append("Forwarding = ").Append(forwarding ? "true" : "false").Append('\n');
        if (device.ListenPort != 0) sb.Append("ListenPort = ").Append(device.ListenPort.ToString(CultureInfo.InvariantCulture)).Append('\n');
        if (mtu is int m) sb.Append("MTU = ").Append(m.ToString(CultureInfo.InvariantCulture)).Append('\n');
        if (device.PrivateKey is not null && showPrivateKey) sb.Append("PrivateKey = ").Append(device.PrivateKey.RevealBase64()).Append('\n');
        else if (device.PrivateKey is not null) sb.Append("# PrivateKey withheld: rerun with --show-private-key\n");
        foreach (var peer in device.Peers)
        {
            sb.Append("\n[Peer]\n");
            sb.Append("PublicKey = ").Append(peer.PublicKey.ToBase64()).Append('\n');
            if (peer.HasPresharedKey) sb.Append("# PresharedKey set (withheld)\n");
            if (peer.AllowedIPs.Count > 0) sb.Append("AllowedIPs = ").Append(string.Join(", ", peer.AllowedIPs)).Append('\n');
            if (peer.Endpoint is not null) sb.Append("Endpoint = ").Append(EndpointText.Format(peer.Endpoint)).Append('\n');
            if (peer.PersistentKeepaliveSeconds != 0) sb.Append("PersistentKeepalive = ").Append(peer.PersistentKeepaliveSeconds.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
        return sb.ToString();
    }
}

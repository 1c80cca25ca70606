using Ppn.Mesh.WireGuard;
using System.Net;

namespace Ppn.Mesh.Sync;

/// <summary>
/// The relay's file (/etc/ppn/relay.conf): wg-quick for its own interface (10.8.0.1/24, ListenPort, Forwarding,
/// optional static peers such as a rig's console peer) plus one ppn section for sync (docs/protocol/sync.md §Relay):
/// <code>
/// [Sync]
/// Authority = 192.0.2.10:8091     # the authority's sync port (ADDRESS:PORT, no names: the node has no DNS)
/// Listen = 10.8.0.1:8091          # optional: where spokes pull (default the mesh address, port 8091)
/// State = /var/lib/ppn/peerset    # optional: where the accepted set is kept
/// </code>
/// A syncing relay's key is its own identity (the genesis identity record in UEFI variables, made from hardware
/// entropy on its first boot): relay.conf with [Sync] and a PrivateKey is refused, so no relay image carries a
/// key. Without [Sync] the file is the static relay of before (its peers only; its key from the file or, when
/// the file names none, the identity).
/// </summary>
public sealed class RelayConfig : IDisposable
{
    public const string DefaultStatePath = FilePeerSetStore.DefaultPath;

    public required MeshConfig Mesh { get; init; }
    public IPEndPoint? Authority { get; init; }
    public IPEndPoint? Listen { get; init; }
    public string StatePath { get; init; } = DefaultStatePath;

    /// <param name="identity">The relay's own key when the file names none (<see cref="MeshConfigFile.Parse"/>).</param>
    public static RelayConfig Parse(string text, string source = "relay.conf", Func<WireGuardPrivateKey>? identity = null)
    {
        // [Sync] is cut out line by line (blank lines left in its place, so MeshConfigFile's line numbers stay right).
        var lines = text.Split('\n');
        IPEndPoint? authority = null, listen = null;
        string state = DefaultStatePath;
        bool inSync = false, sawSync = false, inInterface = false;
        int privateKeyLine = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var content = line.Split('#')[0].Trim();
            if (content.StartsWith('['))
            {
                inSync = content == "[Sync]";
                inInterface = content == "[Interface]";
                if (!inSync) continue;
                sawSync = true;
                lines[i] = "";
                continue;
            }
            if (inInterface && privateKeyLine == 0 && content.Split('=')[0].Trim().Equals("PrivateKey", StringComparison.OrdinalIgnoreCase))
            {
                privateKeyLine = i + 1;
            }
            if (!inSync) continue;
            lines[i] = "";
            if (content.Length == 0) continue;
            int eq = content.IndexOf('=');
            if (eq < 0) throw new FormatException($"{source}:{i + 1}: expected KEY = VALUE in [Sync]");
            var key = content[..eq].Trim();
            var value = content[(eq + 1)..].Trim();
            switch (key.ToLowerInvariant())
            {
                case "authority":
                    authority = IPEndPoint.TryParse(value, out var a) && a.Port != 0 ? a : throw new FormatException($"{source}:{i + 1}: Authority must be ADDRESS:PORT (no host names: the node has no DNS)");
                    break;
                case "listen":
                    listen = IPEndPoint.TryParse(value, out var l) && l.Port != 0 ? l : throw new FormatException($"{source}:{i + 1}: Listen must be ADDRESS:PORT");
                    break;
                case "state":
                    state = value.StartsWith('/') ? value : throw new FormatException($"{source}:{i + 1}: State must be an absolute path");
                    break;
                default:
                    throw new FormatException($"{source}:{i + 1}: unknown key in [Sync] (known: Authority, Listen, State)");
            }
        }
        if (authority is null && sawSync)
        {
            throw new FormatException($"{source}: [Sync] without Authority = ADDRESS:PORT");
        }
        if (authority is not null && privateKeyLine > 0)
        {
            throw new FormatException($"{source}:{privateKeyLine}: a syncing relay's key is its own identity (UEFI variable PpnIdentity, made on its first boot), never in the image: remove PrivateKey and give the authority the relay's public key (`ppn identity show` on the relay, or its console)");
        }
        var mesh = MeshConfigFile.Parse(string.Join('\n', lines), source, identity);
        return new RelayConfig { Mesh = mesh, Authority = authority, Listen = listen, StatePath = state };
    }

    public static RelayConfig Load(string path, Func<WireGuardPrivateKey>? identity = null)
    {
        var node = Ppn.Linux.FileNode.Stat(path);
        if (node.Kind == Ppn.Linux.FileNodeKind.Missing) throw new FileNotFoundException($"relay configuration {path} does not exist");
        if (node.Kind != Ppn.Linux.FileNodeKind.Regular || node.Size > MeshConfigFile.MaxFileBytes)
        {
            throw new FormatException($"relay configuration {path} is {(node.Kind == Ppn.Linux.FileNodeKind.Regular ? $"{node.Size} bytes" : Ppn.Linux.FileNode.Describe(node.Kind))}: not a relay configuration file");
        }
        return Parse(File.ReadAllText(path), path, identity);
    }

    public void Dispose() => Mesh.Dispose();
}

using System.Globalization;
using System.Net.NetworkInformation;
using System.Text.RegularExpressions;
using Ppn.Rig.Net;

namespace Ppn.Rig.Model;

/// <summary>Which backend drives a node: an emulated one (QEMU + OVMF) or a real board on the bench.</summary>
public enum NodeBackend
{
    Qemu,
    Bench,
}

/// <summary>
/// A USB hub port that powers a bench node: the hub's location as Linux names it (bus, then the port path
/// from the root hub: <c>1-1.4</c> is bus 1, root port 1, hub port 4) and the downstream port number, written
/// <c>1-1.4:2</c> like uhubctl's <c>-l 1-1.4 -p 2</c>.
/// </summary>
public sealed partial record PowerPort(int Bus, IReadOnlyList<int> PortPath, int Port)
{
    /// <summary>The hub's sysfs/uhubctl location, e.g. <c>1-1.4</c>.</summary>
    public string HubLocation => $"{Bus.ToString(CultureInfo.InvariantCulture)}-{string.Join('.', PortPath.Select(p => p.ToString(CultureInfo.InvariantCulture)))}";

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{HubLocation}:{Port}");

    [GeneratedRegex(@"^([0-9]{1,3})-([0-9]{1,3}(?:\.[0-9]{1,3}){0,6}):([0-9]{1,3})$")]
    private static partial Regex Syntax();

    public static bool TryParse(string text, out PowerPort port, out string? error)
    {
        port = null!;
        var m = Syntax().Match(text);
        if (!m.Success)
        {
            error = $"'{text}' is not a hub port; write <bus>-<port path>:<port>, e.g. 1-1.4:2 (see `lsusb -t`)";
            return false;
        }
        int bus = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        var path = m.Groups[2].Value.Split('.').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        int number = int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
        // USB 2.0 §11.23.2.1: a hub has at most 255 ports, numbered from 1; tiers allow at most 7 hops.
        if (bus < 1 || path.Any(p => p is < 1 or > 255) || number is < 1 or > 255)
        {
            error = $"'{text}': bus and port numbers start at 1 and a hub has at most 255 ports";
            return false;
        }
        port = new PowerPort(bus, path, number);
        error = null;
        return true;
    }

    public bool Equals(PowerPort? other) =>
        other is not null && Bus == other.Bus && Port == other.Port && PortPath.SequenceEqual(other.PortPath);

    public override int GetHashCode() => HashCode.Combine(Bus, Port, PortPath.Count);
}

/// <summary>Where a node's console is: a serial device on the bench, or a QEMU chardev socket.</summary>
public abstract record ConsoleEndpoint
{
    public sealed record Serial(string Device, int Baud) : ConsoleEndpoint
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Device} @ {Baud} baud");
    }

    public sealed record QemuSocket(string Path) : ConsoleEndpoint
    {
        public override string ToString() => $"qemu-socket:{Path}";
    }
}

public sealed record NodeSpec(
    string Name,
    NodeBackend Backend,
    PowerPort? Power,
    ConsoleEndpoint Console,
    PhysicalAddress Mac,
    string Image,
    YamlMark At);

/// <summary>
/// A rig file: which nodes the rig has, and for each its backend, power port, console, NIC MAC and image.
/// See hw-tests/rigs/ and docs/hw-tests.md. Parsed by <see cref="RigYaml"/> and checked field by field
/// (unknown keys are errors: a typo in a power port must not switch another board).
/// </summary>
public sealed record RigConfig(string Name, IReadOnlyList<NodeSpec> Nodes, string Source)
{
    /// <summary>The host interface the bench boards' NICs are cabled to (moved into the rig's namespace for a bench run); optional.</summary>
    public string? Link { get; init; }

    public static readonly int[] StandardBauds = [9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600];

    public static RigConfig Load(string path) =>
        Parse(File.ReadAllText(path), path);

    public NodeSpec Node(string name) =>
        Nodes.FirstOrDefault(n => n.Name == name)
        ?? throw new RigConfigException(Source, new YamlMark(1, 1), $"no node '{name}' in this rig (nodes: {string.Join(", ", Nodes.Select(n => n.Name))})");

    public static RigConfig Parse(string text, string source = "<rig>")
    {
        var root = RigYaml.Parse(text, source) as YamlMapping
            ?? throw new RigConfigException(source, new YamlMark(1, 1), "a rig file is a mapping with 'rig:' and 'nodes:'");
        var reader = new FieldReader(root, source, "the rig");
        var name = reader.RequiredString("rig");
        var nodesNode = reader.Required("nodes") as YamlSequence
            ?? throw new RigConfigException(source, root.Get("nodes")!.At, "'nodes' is a sequence of '- name: ...' entries");
        var link = reader.OptionalString("link");
        // IFNAMSIZ is 16 with the NUL (linux/if.h); '/' and whitespace are refused by the kernel (dev_valid_name).
        if (link is not null && !Regex.IsMatch(link, @"^[A-Za-z0-9_.:-]{1,15}$"))
        {
            throw new RigConfigException(source, root.Get("link")!.At, $"link '{link}' is not a network interface name (at most 15 characters, no '/' or spaces; see `ip link`)");
        }
        reader.RejectUnknown();

        var nodes = new List<NodeSpec>();
        foreach (var item in nodesNode.Items)
        {
            var map = item as YamlMapping ?? throw new RigConfigException(source, item.At, "a node is a mapping (name, backend, power, console, mac, image)");
            nodes.Add(ParseNode(map, source));
        }
        if (nodes.Count == 0)
        {
            throw new RigConfigException(source, nodesNode.At, "the rig has no nodes");
        }
        foreach (var group in nodes.GroupBy(n => n.Name).Where(g => g.Count() > 1))
        {
            throw new RigConfigException(source, group.Last().At, $"node name '{group.Key}' used twice");
        }
        foreach (var group in nodes.Where(n => n.Power is not null).GroupBy(n => n.Power!).Where(g => g.Count() > 1))
        {
            throw new RigConfigException(source, group.Last().At, $"power port {group.Key} is given to two nodes ({string.Join(", ", group.Select(n => n.Name))})");
        }
        foreach (var group in nodes.GroupBy(n => MacAddress.Format(n.Mac)).Where(g => g.Count() > 1))
        {
            throw new RigConfigException(source, group.Last().At, $"MAC {group.Key} is given to two nodes");
        }
        return new RigConfig(name, nodes, source) { Link = link };
    }

    private static NodeSpec ParseNode(YamlMapping map, string source)
    {
        var reader = new FieldReader(map, source, "a node");
        var name = reader.RequiredString("name");
        if (!Regex.IsMatch(name, "^[a-z0-9][a-z0-9-]{0,31}$"))
        {
            throw new RigConfigException(source, map.Get("name")!.At, $"node name '{name}': lower-case letters, digits and '-', at most 32");
        }
        var backendText = reader.RequiredString("backend");
        var backend = backendText switch
        {
            "qemu" => NodeBackend.Qemu,
            "bench" => NodeBackend.Bench,
            _ => throw new RigConfigException(source, map.Get("backend")!.At, $"backend '{backendText}': qemu or bench"),
        };

        PowerPort? power = null;
        if (reader.OptionalString("power") is { } powerText)
        {
            if (backend == NodeBackend.Qemu)
            {
                throw new RigConfigException(source, map.Get("power")!.At, "a qemu node is powered through QMP; remove 'power' (it names a USB hub port)");
            }
            if (!PowerPort.TryParse(powerText, out var p, out var error))
            {
                throw new RigConfigException(source, map.Get("power")!.At, error!);
            }
            power = p;
        }
        else if (backend == NodeBackend.Bench)
        {
            throw new RigConfigException(source, map.At, $"bench node '{name}' needs 'power: <hub>:<port>' (e.g. 1-1.4:2)");
        }

        int baud = 115200;
        if (reader.OptionalString("baud") is { } baudText)
        {
            if (!int.TryParse(baudText, NumberStyles.None, CultureInfo.InvariantCulture, out baud) || !StandardBauds.Contains(baud))
            {
                throw new RigConfigException(source, map.Get("baud")!.At, $"baud '{baudText}': one of {string.Join(", ", StandardBauds)}");
            }
        }
        ConsoleEndpoint console;
        var consoleText = reader.OptionalString("console");
        var consoleAt = map.Get("console")?.At ?? map.At;
        if (backend == NodeBackend.Bench)
        {
            if (consoleText is null || !consoleText.StartsWith("/dev/", StringComparison.Ordinal))
            {
                throw new RigConfigException(source, consoleAt, $"bench node '{name}' needs 'console: /dev/...' (a USB serial device, best a /dev/serial/by-id/ path)");
            }
            console = new ConsoleEndpoint.Serial(consoleText, baud);
        }
        else
        {
            if (map.Get("baud") is { } b)
            {
                throw new RigConfigException(source, b.At, "'baud' is for bench serial consoles; a qemu console is a socket");
            }
            const string Prefix = "qemu-socket:";
            if (consoleText is null)
            {
                console = new ConsoleEndpoint.QemuSocket(Path.Combine(Path.GetTempPath(), $"ppn-rig-{name}.console"));
            }
            else if (consoleText.StartsWith(Prefix, StringComparison.Ordinal) && consoleText.Length > Prefix.Length)
            {
                console = new ConsoleEndpoint.QemuSocket(consoleText[Prefix.Length..]);
            }
            else
            {
                throw new RigConfigException(source, consoleAt, $"qemu node console '{consoleText}': write qemu-socket:<path> (or leave it out)");
            }
        }

        var macText = reader.RequiredString("mac");
        if (!MacAddress.TryParse(macText, out var mac))
        {
            throw new RigConfigException(source, map.Get("mac")!.At, $"mac '{macText}': six hex pairs separated by ':' (e.g. 52:54:00:12:34:56)");
        }
        var macBytes = mac.GetAddressBytes();
        if ((macBytes[0] & 1) != 0)
        {
            throw new RigConfigException(source, map.Get("mac")!.At, $"mac '{macText}' is a multicast address; a NIC has a unicast one");
        }
        var image = reader.RequiredString("image");
        reader.RejectUnknown();
        return new NodeSpec(name, backend, power, console, mac, image, map.At);
    }

    private sealed class FieldReader(YamlMapping map, string source, string what)
    {
        private readonly HashSet<string> _used = [];

        public YamlNode Required(string key)
        {
            _used.Add(key);
            return map.Get(key) ?? throw new RigConfigException(source, map.At, $"{what} needs '{key}'");
        }

        public string RequiredString(string key)
        {
            var node = Required(key);
            return node is YamlScalar { Value.Length: > 0 } s
                ? s.Value
                : throw new RigConfigException(source, node.At, $"'{key}' needs a value");
        }

        public string? OptionalString(string key)
        {
            _used.Add(key);
            return map.Get(key) switch
            {
                null => null,
                YamlScalar s when s.Value.Length > 0 => s.Value,
                var node => throw new RigConfigException(source, node.At, $"'{key}' needs a one-line value"),
            };
        }

        public void RejectUnknown()
        {
            foreach (var (key, _) in map.Entries)
            {
                if (!_used.Contains(key.Value))
                {
                    throw new RigConfigException(source, key.At, $"unknown key '{key.Value}' in {what}");
                }
            }
        }
    }
}

using Ppn.Rig.Model;

namespace Ppn.Rig.Tests;

public class RigYamlTests
{
    [Fact]
    public void Block_mappings_sequences_quotes_and_comments_parse()
    {
        var root = (YamlMapping)RigYaml.Parse("""
            ---
            # a comment
            rig: r1   # trailing comment
            nodes:
              - name: a
                tag: "x # not a comment"
                other: 'it''s'
              - plain
            list:
            - one
            """);
        Assert.Equal("r1", ((YamlScalar)root.Get("rig")!).Value);
        var nodes = (YamlSequence)root.Get("nodes")!;
        var first = (YamlMapping)nodes.Items[0];
        Assert.Equal("x # not a comment", ((YamlScalar)first.Get("tag")!).Value);
        Assert.Equal("it's", ((YamlScalar)first.Get("other")!).Value);
        Assert.Equal(new YamlMark(5, 5), first.Entries[0].Key.At);
        Assert.Equal("plain", ((YamlScalar)nodes.Items[1]).Value);
        Assert.Equal("one", ((YamlScalar)((YamlSequence)root.Get("list")!).Items[0]).Value);
    }

    // What YAML allows and a rig file must not use: refused by RigYaml with file:line:column.
    [Theory]
    [InlineData("a: 1\n\tb: 2", 2, 1, "tab in indentation")]
    [InlineData("nodes:\n  - name: a\n\t  mac: x", 3, 1, "tab in indentation")]
    [InlineData("a: [1, 2]", 1, 4, "flow collections")]
    [InlineData("a: {b: 1}", 1, 4, "flow collections")]
    [InlineData("a: &x 1", 1, 4, "anchors and aliases (&name)")]
    [InlineData("a: 1\nb: *x", 2, 4, "anchors and aliases (*name)")]
    [InlineData("a: !!str 1", 1, 4, "tags (tag:yaml.org,2002:str)")]
    [InlineData("a: !local 1", 1, 4, "tags")]
    [InlineData("a: |\n  text", 1, 4, "block scalars")]
    [InlineData("a: >\n  text", 1, 4, "block scalars")]
    [InlineData("a: 1\na: 2", 2, 1, "duplicate key 'a' (first at 1:1)")]
    [InlineData("nodes:\n  - name: a\n    name: b", 3, 5, "duplicate key 'name' (first at 2:5)")]
    [InlineData("a: 1\n---\nb: 2", 2, 1, "several YAML documents")]
    [InlineData("? [a]\n: 1", 1, 3, "flow collections")]
    [InlineData("? a: 1\n: 2", 1, 3, "a key must be a plain string")]
    // Not YAML at all: YamlDotNet's own message, at its position.
    [InlineData("a: \"x\" y", 1, 8, "While parsing a block mapping")]
    [InlineData("a: \"\\q\"", 1, 4, "While scanning a quoted scalar")]
    [InlineData("a: \"open", 1, 4, "While scanning a quoted scalar")]
    [InlineData("a: b: c", 1, 5, "While scanning a plain scalar")]
    [InlineData("a: 1\n  b: 2", 2, 4, "While scanning a plain scalar")]
    [InlineData("a:\n  - x\n  y: 1", 3, 3, "")]
    public void Anything_outside_the_subset_is_refused_with_line_and_column(string text, int line, int column, string message)
    {
        var e = Assert.Throws<RigConfigException>(() => RigYaml.Parse(text, "t.yaml"));
        Assert.Contains(message, e.Reason);
        Assert.Equal(new YamlMark(line, column), e.At);
        Assert.StartsWith($"t.yaml:{line}:{column}: ", e.Message);
    }

    [Fact]
    public void Yaml_errors_carry_no_position_prefix_of_their_own()
    {
        var e = Assert.Throws<RigConfigException>(() => RigYaml.Parse("a: \"open", "t.yaml"));
        Assert.DoesNotContain("(Line:", e.Message);
    }

    [Fact]
    public void An_empty_file_is_an_error_not_an_empty_rig()
    {
        Assert.Throws<RigConfigException>(() => RigYaml.Parse("# only a comment\n"));
    }
}

public class RigConfigTests
{
    [Fact]
    public void A_document_that_is_not_a_mapping_is_refused()
    {
        var e = Assert.Throws<RigConfigException>(() => RigConfig.Parse("just text", "t.yaml"));
        Assert.StartsWith("t.yaml:1:1: a rig file is a mapping", e.Message);
    }

    [Fact]
    public void The_bench_link_is_read_and_checked()
    {
        const string Rig = "rig: r\nlink: {0}\nnodes:\n  - name: a\n    backend: qemu\n    mac: 52:54:00:12:34:56\n    image: out/image\n";
        Assert.Equal("enp3s0", RigConfig.Parse(string.Format(System.Globalization.CultureInfo.InvariantCulture, Rig, "enp3s0")).Link);
        Assert.Null(RigConfig.Parse("rig: r\nnodes:\n  - name: a\n    backend: qemu\n    mac: 52:54:00:12:34:56\n    image: out/image\n").Link);
        var e = Assert.Throws<RigConfigException>(() => RigConfig.Parse(string.Format(System.Globalization.CultureInfo.InvariantCulture, Rig, "\"eth 0/1\""), "t.yaml"));
        Assert.StartsWith("t.yaml:2:7: link 'eth 0/1' is not a network interface name", e.Message);
    }

    private static string ExamplePath => Path.Combine(RigEnvironment.RepoRoot, "hw-tests", "rigs", "bench-example.yaml");

    [Fact]
    public void The_example_rig_file_loads()
    {
        var rig = RigConfig.Load(ExamplePath);
        Assert.Equal("bench-example", rig.Name);
        Assert.Equal(["board-a", "board-b", "emu-a"], rig.Nodes.Select(n => n.Name));

        var a = rig.Node("board-a");
        Assert.Equal(NodeBackend.Bench, a.Backend);
        Assert.Equal("1-1.4", a.Power!.HubLocation);
        Assert.Equal(2, a.Power.Port);
        Assert.Equal(new ConsoleEndpoint.Serial("/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0", 115200), a.Console);
        Assert.Equal("00:10:18:aa:bb:01", Ppn.Rig.Net.MacAddress.Format(a.Mac));

        var emu = rig.Node("emu-a");
        Assert.Equal(NodeBackend.Qemu, emu.Backend);
        Assert.Null(emu.Power);
        Assert.Equal(new ConsoleEndpoint.QemuSocket("/tmp/ppn-rig-emu-a.console"), emu.Console);
    }

    [Theory]
    [InlineData("1-1.4:2", 1, new[] { 1, 4 }, 2)]
    [InlineData("3-2:1", 3, new[] { 2 }, 1)]
    [InlineData("1-1.2.3.4:7", 1, new[] { 1, 2, 3, 4 }, 7)]
    public void Power_ports_parse_as_hub_location_and_port(string text, int bus, int[] path, int port)
    {
        Assert.True(PowerPort.TryParse(text, out var p, out _));
        Assert.Equal(new PowerPort(bus, path, port), p);
        Assert.Equal(text, p.ToString());
    }

    [Theory]
    [InlineData("1-1.4")]
    [InlineData("1-1.4:0")]
    [InlineData("0-1:1")]
    [InlineData("1-1.4:256")]
    [InlineData("usb1:2")]
    [InlineData("1-1..4:2")]
    public void Bad_power_ports_are_refused(string text)
    {
        Assert.False(PowerPort.TryParse(text, out _, out var error));
        Assert.Contains(text, error);
    }

    private const string Node = """
        rig: t
        nodes:
          - name: n1
            backend: bench
            power: 1-1:1
            console: /dev/ttyUSB0
            mac: 00:10:18:00:00:01
            image: out/image
        """;

    [Theory]
    [InlineData("backend: bench", "backend: arm", 4, 14, "backend 'arm'")]
    [InlineData("power: 1-1:1", "power: 1-1", 5, 12, "is not a hub port")]
    [InlineData("console: /dev/ttyUSB0", "console: ttyUSB0", 6, 14, "needs 'console: /dev/")]
    [InlineData("mac: 00:10:18:00:00:01", "mac: 01:10:18:00:00:01", 7, 10, "multicast")]
    [InlineData("mac: 00:10:18:00:00:01", "mac: 0010.1800.0001", 7, 10, "six hex pairs")]
    [InlineData("image: out/image", "image: out/image\n    colour: red", 9, 5, "unknown key 'colour'")]
    [InlineData("console: /dev/ttyUSB0", "console: /dev/ttyUSB0\n    baud: 1234", 7, 11, "baud '1234'")]
    [InlineData("    power: 1-1:1\n", "", 3, 5, "needs 'power:")]
    public void Each_field_is_checked_and_errors_point_at_it(string from, string to, int line, int column, string message)
    {
        var e = Assert.Throws<RigConfigException>(() => RigConfig.Parse(Node.Replace(from, to, StringComparison.Ordinal), "r.yaml"));
        Assert.Contains(message, e.Reason);
        Assert.Equal(new YamlMark(line, column), e.At);
    }

    [Fact]
    public void Two_nodes_on_one_power_port_are_refused()
    {
        var text = Node + "\n" + """
              - name: n2
                backend: bench
                power: 1-1:1
                console: /dev/ttyUSB1
                mac: 00:10:18:00:00:02
                image: out/image
            """;
        var e = Assert.Throws<RigConfigException>(() => RigConfig.Parse(text));
        Assert.Contains("power port 1-1:1 is given to two nodes (n1, n2)", e.Reason);
    }

    [Fact]
    public void A_qemu_node_with_a_hub_port_is_refused()
    {
        var text = Node.Replace("backend: bench", "backend: qemu", StringComparison.Ordinal);
        var e = Assert.Throws<RigConfigException>(() => RigConfig.Parse(text));
        Assert.Contains("powered through QMP", e.Reason);
    }
}

public class NodeLifecycleTests
{
    [Fact]
    public void A_boot_goes_off_booting_holding_joined_off_and_is_logged()
    {
        var life = new NodeLifecycle("n", TimeSpan.FromMinutes(5));
        Assert.Equal(NodeState.Off, life.State);
        life.MoveTo(NodeState.Booting, "power on");
        Assert.NotNull(life.Deadline);
        life.MoveTo(NodeState.Holding, "banner");
        Assert.Null(life.Deadline);
        life.MoveTo(NodeState.Joined, "enrolled");
        life.Note("power cut (QMP quit)");
        life.MoveTo(NodeState.Off, "emulator exited");
        Assert.Equal(
            ["Off->Booting", "Booting->Holding", "Holding->Joined", "Joined->Joined", "Joined->Off"],
            life.Events.Select(e => $"{e.From}->{e.To}"));
        Assert.Contains("power cut (QMP quit)", life.FormatEvents());
    }

    [Theory]
    [InlineData(NodeState.Off, NodeState.Holding)]
    [InlineData(NodeState.Off, NodeState.Joined)]
    [InlineData(NodeState.Joined, NodeState.Holding)]
    [InlineData(NodeState.Off, NodeState.Failed)]
    public void Transitions_outside_the_table_are_rig_bugs(NodeState from, NodeState to)
    {
        Assert.False(NodeLifecycle.IsAllowed(from, to));
    }

    [Fact]
    public void A_boot_that_overstays_its_deadline_is_failed_with_the_reason()
    {
        var life = new NodeLifecycle("n", TimeSpan.Zero);
        life.MoveTo(NodeState.Booting, "power on");
        Assert.Equal(NodeState.Failed, life.State);
        Assert.Contains("still Booting after", life.Events[^1].What);
        Assert.False(life.TryMoveTo(NodeState.Holding, "too late"));
    }

    [Fact]
    public void Failures_are_classified_so_a_broken_rig_never_reads_as_a_product_bug()
    {
        Assert.Equal(FailureKind.Infrastructure, FailureClassifier.Classify(new Ppn.Rig.Emulation.NodeImageMissingException("no image")));
        Assert.Equal(FailureKind.Infrastructure, FailureClassifier.Classify(new RigInfrastructureException(RigFault.HubNotFound, "no hub 1-1.4")));
        Assert.Equal(FailureKind.Product, FailureClassifier.Classify(new Ppn.Rig.Emulation.NodeFailureException("n", "silent", "")));
        Assert.Equal(FailureKind.Product, FailureClassifier.Classify(new ProductCheckException("identity replaced")));
        Assert.Equal(FailureKind.RigCode, FailureClassifier.Classify(new NullReferenceException()));
        Assert.Equal(FailureKind.Infrastructure, FailureClassifier.Classify(new AggregateException(
            new ProductCheckException("x"), new RigInfrastructureException(RigFault.ConsoleGone, "gone"))));
    }
}

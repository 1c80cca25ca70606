using Ppn.Genesis.Holding;
using System.Globalization;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;

namespace Ppn.Rig.Cli;

/// <summary>
/// The README's "run it": self-genesis of an emulated node, the identity surviving a power cut, and a
/// second factory-new node getting its own identity. Prints the node's ppn: console lines live.
/// </summary>
internal sealed class Demo(TextWriter output, bool showAllConsole)
{
    private readonly object _write = new();

    private sealed record Boot(int Number, string Node, string How, string? Key, TimeSpan Took);

    public int Run(string? imageDirectory)
    {
        if (RigEnvironment.WhyEmulationUnavailable() is { } why)
        {
            return Fail(2, $"cannot run the rig here: {why}");
        }
        NodeImage image;
        try
        {
            image = NodeImage.Locate(imageDirectory);
        }
        catch (NodeImageMissingException e)
        {
            return Fail(2, e.Message);
        }

        Say($"node image   {image.Directory}");
        var boots = new List<Boot>();
        Rig? rig = null;
        bool rigCodeError = false;
        try
        {
            rig = Rig.Create("demo");
            Say($"rig          namespace {rig.Namespace.Name}, link {Rig.TapName}, logs in {rig.WorkDirectory}");
            var nodeA = rig.FactoryNewNode("node-a", image.ToBootSource());
            var nodeB = rig.FactoryNewNode("node-b", image.ToBootSource());
            nodeA.ConsoleLine += ShowLine;
            nodeB.ConsoleLine += ShowLine;

            boots.Add(BootOnce(1, nodeA, "factory-new NVRAM"));
            boots.Add(BootOnce(2, nodeA, "same NVRAM after a power cut"));
            boots.Add(BootOnce(3, nodeB, "another factory-new NVRAM"));
        }
        catch (Exception e) when (FailureClassifier.Classify(e) == FailureKind.Infrastructure)
        {
            // The rig could not run (emulator slot busy, QEMU did not start, ...): exit 2, never "the node failed".
            rig?.Dispose();
            rig = null;
            return Fail(2, $"rig infrastructure{(e is RigInfrastructureException r ? $" ({r.Fault})" : "")}: {e.Message}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var kind = FailureClassifier.Classify(e);
            lock (_write)
            {
                output.WriteLine();
                output.WriteLine(kind == FailureKind.Product ? $"FAILED: {e.Message}" : $"FAILED (rig code error, a bug in the rig: report it): {e.GetType().Name}: {e.Message}");
            }
            rigCodeError = kind == FailureKind.RigCode;
        }
        finally
        {
            rig?.Dispose();
        }
        int verdict = Summarize(boots);
        return rigCodeError ? 3 : verdict;
    }

    private Boot BootOnce(int number, QemuNode node, string how)
    {
        Say("");
        Say($"== boot {number}: {node.Name} ({how}); MAC {Net.MacAddress.Format(node.Mac)}, link-local {node.LinkLocalAddress}");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        node.PowerOn();
        var key = node.AwaitGenesisKey();
        var took = clock.Elapsed;
        Say($"   [{node.LinkLocalAddress}%{Rig.TapName}]:{HoldingOptions.DefaultPort} says: {GenesisBanner.Protocol} {key}");
        var outcome = node.PowerOff();
        Say($"   power cut ({Describe(outcome)}) after {took.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
        return new Boot(number, node.Name, how, key, took);
    }

    private int Summarize(List<Boot> boots)
    {
        string? Key(int n) => boots.FirstOrDefault(b => b.Number == n)?.Key;
        bool sameAfterPowerCut = Key(1) is { } k1 && Key(2) == k1;
        bool otherNodeDiffers = Key(1) is { } a && Key(3) is { } c && a != c;
        bool ok = boots.Count == 3 && sameAfterPowerCut && otherNodeDiffers;

        lock (_write)
        {
            output.WriteLine();
            output.WriteLine("== summary");
            foreach (var b in boots)
            {
                output.WriteLine($"   boot {b.Number}  {b.Node}  {b.How,-30}  {b.Key}");
            }
            output.WriteLine($"   {Mark(boots.Count >= 1 && Key(1) is not null)} a factory-new node self-geneses and holds on tcp/9443");
            output.WriteLine($"   {Mark(sameAfterPowerCut)} its identity survives a power cut (it lives in the node's NVRAM)");
            output.WriteLine($"   {Mark(otherNodeDiffers)} another factory-new node gets a different identity");
            output.WriteLine(ok ? "   RESULT: all held" : "   RESULT: FAILED (console logs are in the rig's log directory above)");
        }
        return ok ? 0 : 1;
    }

    private static string Mark(bool held) => held ? "[ok]  " : "[FAIL]";

    private static string Describe(PowerOffOutcome outcome) => outcome switch
    {
        PowerOffOutcome.QmpQuit => "QMP quit",
        PowerOffOutcome.PortSwitchedOff => "port switched off",
        PowerOffOutcome.Killed => "killed",
        _ => "already off",
    };

    private void ShowLine(IRigNode node, ConsoleLine line)
    {
        if (showAllConsole || line.Text.StartsWith("ppn:", StringComparison.Ordinal))
        {
            Say($"   {node.Name} | {line}");
        }
    }

    private void Say(string text)
    {
        lock (_write)
        {
            output.WriteLine(text);
        }
    }

    private int Fail(int code, string message)
    {
        lock (_write)
        {
            output.WriteLine($"ppn-rig: {message}");
        }
        return code;
    }
}

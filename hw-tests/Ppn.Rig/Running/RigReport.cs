using System.Globalization;
using System.Text;
using System.Xml;
using Ppn.Rig.Model;

namespace Ppn.Rig.Running;

/// <summary>
/// The report of one scenario run, in out/rig-reports/&lt;time&gt;-&lt;scenario&gt;/: <c>junit.xml</c> for CI
/// (a product failure is a &lt;failure&gt;, a broken rig an &lt;error type="rig-infrastructure"&gt;, so the two are
/// never counted together) and <c>summary.txt</c> for people: the verdict and who must act, then for each node
/// its power-event log and console tail.
/// </summary>
public static class RigReport
{
    public const string JUnitFile = "junit.xml";
    public const string SummaryFile = "summary.txt";

    public static string Write(ScenarioResult result, string root)
    {
        var directory = Path.Combine(root, string.Create(CultureInfo.InvariantCulture,
            $"{result.Started:yyyyMMdd-HHmmss}-{result.Scenario.Name}-{Environment.ProcessId}"));
        Directory.CreateDirectory(directory);
        var summary = Summary(result);
        File.WriteAllText(Path.Combine(directory, SummaryFile), summary);
        using (var stream = File.Create(Path.Combine(directory, JUnitFile)))
        {
            WriteJUnit(result, summary, stream);
        }
        return directory;
    }

    public static void WriteJUnit(ScenarioResult result, string summary, Stream stream)
    {
        var settings = new XmlWriterSettings { Indent = true, Encoding = new UTF8Encoding(false) };
        using var xml = XmlWriter.Create(stream, settings);
        string seconds = result.Duration.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);
        bool failure = result.Failure == FailureKind.Product;
        bool interrupted = result.Outcome == ScenarioOutcome.Interrupted;
        bool error = interrupted || result.Failure is FailureKind.Infrastructure or FailureKind.RigCode;
        xml.WriteStartDocument();
        xml.WriteStartElement("testsuites");
        xml.WriteStartElement("testsuite");
        xml.WriteAttributeString("name", $"ppn-rig.{result.Scenario.Set.ToString().ToLowerInvariant()}");
        xml.WriteAttributeString("tests", "1");
        xml.WriteAttributeString("failures", failure ? "1" : "0");
        xml.WriteAttributeString("errors", error ? "1" : "0");
        xml.WriteAttributeString("skipped", result.Outcome == ScenarioOutcome.Skipped ? "1" : "0");
        xml.WriteAttributeString("time", seconds);
        xml.WriteAttributeString("timestamp", result.Started.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture));
        xml.WriteStartElement("properties");
        WriteProperty(xml, "seed", result.Seed.ToString(CultureInfo.InvariantCulture));
        WriteProperty(xml, "verdict", result.Failure is { } k ? k.ToString() : result.Outcome.ToString());
        WriteProperty(xml, "backend", result.Backend);
        xml.WriteEndElement();
        xml.WriteStartElement("testcase");
        xml.WriteAttributeString("classname", "ppn-rig.scenarios");
        xml.WriteAttributeString("name", result.Scenario.Name);
        xml.WriteAttributeString("time", seconds);
        if (result.Outcome == ScenarioOutcome.Skipped)
        {
            xml.WriteStartElement("skipped");
            xml.WriteAttributeString("message", result.SkipReason ?? "");
            xml.WriteEndElement();
        }
        else if (interrupted)
        {
            xml.WriteStartElement("error");
            xml.WriteAttributeString("type", "interrupted");
            xml.WriteAttributeString("message", $"interrupted ({result.InterruptReason}): no verdict");
            xml.WriteString(result.Error?.ToString() ?? "");
            xml.WriteEndElement();
        }
        else if (result.Error is { } e)
        {
            xml.WriteStartElement(failure ? "failure" : "error");
            xml.WriteAttributeString("type", result.Failure switch
            {
                FailureKind.Product => "product",
                FailureKind.Infrastructure => "rig-infrastructure",
                _ => "rig-code",
            });
            xml.WriteAttributeString("message", FirstLine(e.Message));
            xml.WriteString($"{FailureClassifier.Describe(result.Failure!.Value)}\n{e}");
            xml.WriteEndElement();
        }
        xml.WriteElementString("system-out", XmlSafe(summary));
        xml.WriteEndElement();
        xml.WriteEndElement();
        xml.WriteEndElement();
        xml.WriteEndDocument();
    }

    private static void WriteProperty(XmlWriter xml, string name, string value)
    {
        xml.WriteStartElement("property");
        xml.WriteAttributeString("name", name);
        xml.WriteAttributeString("value", value);
        xml.WriteEndElement();
    }

    public static string Summary(ScenarioResult result)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"scenario  {result.Scenario.Name} ({result.Scenario.Set.ToString().ToLowerInvariant()})\n");
        text.Append(CultureInfo.InvariantCulture, $"what      {result.Scenario.Description}\n");
        text.Append(CultureInfo.InvariantCulture, $"backend   {result.Backend}\n");
        text.Append(CultureInfo.InvariantCulture, $"started   {result.Started:yyyy-MM-dd HH:mm:ss}Z, took {result.Duration.TotalSeconds:0.0} s, seed {result.Seed}\n");
        if (result.Outcome == ScenarioOutcome.Skipped)
        {
            text.Append("verdict   SKIPPED: ").Append(result.SkipReason).Append('\n');
        }
        else if (result.Outcome == ScenarioOutcome.Interrupted)
        {
            text.Append(CultureInfo.InvariantCulture, $"verdict   INTERRUPTED ({result.InterruptReason}): no verdict; every node was cut and the rig cleaned up\n");
            if (result.Error is { } after)
            {
                text.Append("error     (after the interrupt) ").Append(Indent(after.Message, "          ")).Append('\n');
            }
        }
        else if (result.Error is { } e)
        {
            text.Append(CultureInfo.InvariantCulture, $"verdict   FAILED: {FailureClassifier.Describe(result.Failure!.Value)}\n");
            text.Append("error     ").Append(Indent(e.Message, "          ")).Append('\n');
        }
        else
        {
            text.Append("verdict   PASSED\n");
        }
        if (result.Notes.Count > 0)
        {
            text.Append("\nprogress\n");
            foreach (var note in result.Notes)
            {
                text.Append("    ").Append(note).Append('\n');
            }
        }
        foreach (var node in result.Nodes)
        {
            text.Append(CultureInfo.InvariantCulture, $"\nnode {node.Name} ({node.Backend}): {node.Boots} boot(s); full console log: {node.ConsoleLogPath}\n");
            text.Append("  power events\n");
            foreach (var ev in node.PowerEvents)
            {
                text.Append("    ").Append(ev).Append('\n');
            }
            text.Append(CultureInfo.InvariantCulture, $"  console tail (last boot, {node.ConsoleTail.Count} lines)\n");
            foreach (var line in node.ConsoleTail)
            {
                text.Append("    ").Append(line).Append('\n');
            }
        }
        return text.ToString();
    }

    private static string FirstLine(string text) => text.Split('\n')[0];

    private static string Indent(string text, string prefix) => text.Replace("\n", "\n" + prefix, StringComparison.Ordinal);

    /// <summary>XML 1.0 cannot carry most C0 controls, which a serial console may contain.</summary>
    private static string XmlSafe(string text) =>
        new(text.Select(c => c is '\t' or '\n' or '\r' || (c >= ' ' && c != '\uFFFE' && c != '\uFFFF' && !char.IsSurrogate(c)) ? c : '?').ToArray());
}

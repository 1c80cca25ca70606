using System.Globalization;
using System.Text;

namespace Ppn.Appliance.Telemetry;

public enum MetricType
{
    Counter,
    Gauge,
}

/// <summary>
/// The Prometheus text exposition format, version 0.0.4 (prometheus/docs exposition_formats.md §Text-based format):
/// one <c># HELP</c> and one <c># TYPE</c> line per metric family, then its samples, <c>\n</c> line ends, label
/// values escaped (<c>\\</c>, <c>\"</c>, <c>\n</c>), HELP text escaped (<c>\\</c>, <c>\n</c>), floats as Go prints
/// them (<c>+Inf</c>, <c>-Inf</c>, <c>NaN</c>).
/// <para>
/// Written here rather than taken from prometheus-net. Measured (Native AOT, linux-x64, one labelled counter
/// exported as text): 8.2.1 restores and published without trim/AOT warnings, but took a 1.15 MB executable to
/// 3.61 MB (+2.5 MB, against ppn's ~5.8 MB) and pulls in System.Net.Http, Microsoft.Extensions.Http 3.1.3 and
/// ObjectPool. It also does not fit: the node's metrics are snapshots of counters the services already keep
/// (verdicts, journal, listener, sysfs, WireGuard), read at scrape time, so its registry of metric objects would be a
/// second copy of each number; and its HTTP servers (HttpListener, Kestrel) would not have the 9443 listener's
/// bounds. The format is a few lines of text; `promtool check metrics` proves ours in a test (TelemetryTests).
/// System.Diagnostics.Metrics (BCL) has no exposition: it would still need this writer.
/// </para>
/// Names and label names are checked (a bad one is a bug in this binary, so it throws); a family is written once.
/// </summary>
public sealed class PrometheusTextWriter
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _text = new();
    private readonly HashSet<string> _families = new(StringComparer.Ordinal);
    private string? _family;

    public void Family(string name, MetricType type, string help)
    {
        if (!IsMetricName(name)) throw new ArgumentException($"'{name}' is not a Prometheus metric name", nameof(name));
        if (!_families.Add(name)) throw new InvalidOperationException($"metric family {name} written twice");
        _family = name;
        _text.Append("# HELP ").Append(name).Append(' ');
        foreach (char c in help)
        {
            _ = c switch
            {
                '\\' => _text.Append("\\\\"),
                '\n' => _text.Append("\\n"),
                _ => _text.Append(c),
            };
        }
        _text.Append('\n').Append("# TYPE ").Append(name).Append(' ').Append(type == MetricType.Counter ? "counter" : "gauge").Append('\n');
    }

    public void Sample(double value, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        var name = _family ?? throw new InvalidOperationException("a sample before its family");
        _text.Append(name);
        if (labels.Length > 0)
        {
            _text.Append('{');
            for (int i = 0; i < labels.Length; i++)
            {
                var (label, text) = labels[i];
                if (!IsLabelName(label)) throw new ArgumentException($"'{label}' is not a Prometheus label name", nameof(labels));
                if (i > 0) _text.Append(',');
                _text.Append(label).Append("=\"");
                foreach (char c in text)
                {
                    _ = c switch
                    {
                        '\\' => _text.Append("\\\\"),
                        '"' => _text.Append("\\\""),
                        '\n' => _text.Append("\\n"),
                        _ => _text.Append(c),
                    };
                }
                _text.Append('"');
            }
            _text.Append('}');
        }
        _text.Append(' ').Append(FormatValue(value)).Append('\n');
    }

    public override string ToString() => _text.ToString();

    public byte[] ToUtf8() => Encoding.UTF8.GetBytes(_text.ToString());

    public static string FormatValue(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => "NaN",
        // Counters up to 2^53 print as integers; others round-trip.
        _ when value == Math.Floor(value) && Math.Abs(value) < 9007199254740992d => ((long)value).ToString(CultureInfo.InvariantCulture),
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    /// <summary>[a-zA-Z_:][a-zA-Z0-9_:]* (data model §Metric names and labels).</summary>
    public static bool IsMetricName(string name) =>
        name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or ':');

    /// <summary>[a-zA-Z_][a-zA-Z0-9_]*, and never the reserved __ prefix.</summary>
    public static bool IsLabelName(string name) =>
        name.Length > 0 && !char.IsAsciiDigit(name[0]) && !name.StartsWith("__", StringComparison.Ordinal) && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
}

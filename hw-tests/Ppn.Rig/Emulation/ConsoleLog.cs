using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Ppn.Rig.Emulation;

/// <summary>One console line of a node: when it arrived (since power-on) and its text, control sequences removed.</summary>
public sealed record ConsoleLine(int Index, TimeSpan SincePowerOn, string Text)
{
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"[{SincePowerOn.TotalSeconds,8:0.000}] {Text}");
}

/// <summary>
/// The serial console of one boot: every line goes to a log file (wall-clock and since-boot timestamps)
/// and to an in-memory buffer tests wait on. Waits block on a monitor that each new line and the end of
/// the console pulse, so a wait returns the moment its line arrives and is always bounded.
/// </summary>
public sealed class ConsoleLog : IDisposable
{
    public const int TailLines = 40;

    private readonly object _gate = new();
    private readonly List<ConsoleLine> _lines = [];
    private StreamWriter? _file;
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private string? _endReason;

    public ConsoleLog(string? logPath, string header)
    {
        LogPath = logPath;
        if (logPath is not null)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(logPath))!);
            _file = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite))
            {
                AutoFlush = true,
            };
            _file.WriteLine($"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} ---- {header}");
        }
    }

    /// <summary>Time since this console (this boot) began.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Where the full console is kept (null when not logging to a file).</summary>
    public string? LogPath { get; }

    /// <summary>Raised for every line, on the reader thread; handlers must be quick (live display).</summary>
    public event Action<ConsoleLine>? LineReceived;

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _lines.Count;
            }
        }
    }

    /// <summary>Why no more lines will come (the emulator exited), or null while the console is live.</summary>
    public string? EndReason
    {
        get
        {
            lock (_gate)
            {
                return _endReason;
            }
        }
    }

    public IReadOnlyList<ConsoleLine> Snapshot()
    {
        lock (_gate)
        {
            return _lines.ToArray();
        }
    }

    public IReadOnlyList<ConsoleLine> Tail(int count = TailLines)
    {
        lock (_gate)
        {
            return _lines.Skip(Math.Max(0, _lines.Count - count)).ToArray();
        }
    }

    /// <summary>The last lines as one indented block, for failure messages.</summary>
    public string FormatTail(int count = TailLines)
    {
        var tail = Tail(count);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"last {tail.Count} console lines");
        if (LogPath is not null)
        {
            text.Append(CultureInfo.InvariantCulture, $" (full log: {LogPath})");
        }
        text.Append(':');
        foreach (var line in tail)
        {
            text.Append("\n    ").Append(line);
        }
        if (tail.Count == 0)
        {
            text.Append("\n    (the console printed nothing)");
        }
        return text.ToString();
    }

    public void Append(string text)
    {
        ConsoleLine line;
        lock (_gate)
        {
            line = new ConsoleLine(_lines.Count, _clock.Elapsed, text);
            _lines.Add(line);
            _file?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} +{line.SincePowerOn.TotalSeconds:00000.000} {text}"));
            Monitor.PulseAll(_gate);
        }
        LineReceived?.Invoke(line);
    }

    /// <summary>Records a rig event (power-off, QMP command) in the log file without making it a console line.</summary>
    public void Note(string text)
    {
        lock (_gate)
        {
            _file?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} +{_clock.Elapsed.TotalSeconds:00000.000} ---- rig: {text}"));
        }
    }

    /// <summary>No more lines will come; wakes every waiter so it can fail at once instead of at its deadline.</summary>
    public void End(string reason)
    {
        lock (_gate)
        {
            if (_endReason is not null)
            {
                return;
            }
            _endReason = reason;
            _file?.WriteLine($"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} ---- console ended: {reason}");
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>
    /// The first line at or after <paramref name="fromIndex"/> matching <paramref name="pattern"/>, or null when
    /// the deadline passes or the console ends first (see <see cref="EndReason"/>).
    /// </summary>
    public ConsoleLine? TryWaitForLine(Regex pattern, TimeSpan timeout, int fromIndex = 0)
    {
        var deadline = Deadline.After(timeout);
        lock (_gate)
        {
            int next = fromIndex;
            while (true)
            {
                for (; next < _lines.Count; next++)
                {
                    if (pattern.IsMatch(_lines[next].Text))
                    {
                        return _lines[next];
                    }
                }
                if (_endReason is not null || deadline.HasPassed)
                {
                    return null;
                }
                Monitor.Wait(_gate, deadline.Remaining);
            }
        }
    }

    /// <summary>
    /// Like <see cref="TryWaitForLine"/> but throws <see cref="NodeFailureException"/> with the console tail
    /// when the line does not come.
    /// </summary>
    public ConsoleLine WaitForLine(Regex pattern, TimeSpan timeout, string node, int fromIndex = 0)
    {
        return TryWaitForLine(pattern, timeout, fromIndex) ?? throw NoLine(pattern, timeout, node);
    }

    /// <summary>The failure of a wait for <paramref name="pattern"/> that saw no such line: why, and the console tail.</summary>
    public NodeFailureException NoLine(Regex pattern, TimeSpan timeout, string node)
    {
        var why = EndReason is { } ended
            ? $"the console ended ({ended}) before a line matching /{pattern}/ appeared"
            : $"no console line matching /{pattern}/ within {BoundedWait.Format(timeout)}";
        return new NodeFailureException(node, why, FormatTail());
    }

    /// <summary>Closes the file; lines that still arrive (a reader thread finishing) are kept in memory only.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _file?.Dispose();
            _file = null;
        }
    }

    /// <summary>
    /// Splits raw serial bytes into lines: CR dropped, ANSI/VT escape sequences (OVMF's screen clearing)
    /// removed, other control bytes dropped. Holds a partial line until its newline arrives.
    /// </summary>
    public sealed class LineSplitter(Action<string> emit)
    {
        private readonly List<byte> _pending = [];

        public void Feed(ReadOnlySpan<byte> bytes)
        {
            foreach (var b in bytes)
            {
                if (b == (byte)'\n')
                {
                    Flush();
                }
                else
                {
                    _pending.Add(b);
                    if (_pending.Count > 64 * 1024)
                    {
                        Flush(); // a console that never prints a newline must not grow without bound
                    }
                }
            }
        }

        public void Flush()
        {
            var text = Clean(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending));
            _pending.Clear();
            if (text.Length > 0)
            {
                emit(text);
            }
        }

        public static string Clean(ReadOnlySpan<byte> raw)
        {
            var kept = new List<byte>(raw.Length);
            for (int i = 0; i < raw.Length; i++)
            {
                byte b = raw[i];
                if (b == 0x1B)
                {
                    // ESC [ params intermediates final  (ECMA-48 CSI), or ESC + one byte.
                    if (i + 1 < raw.Length && raw[i + 1] == (byte)'[')
                    {
                        i += 2;
                        while (i < raw.Length && raw[i] is >= 0x20 and <= 0x3F)
                        {
                            i++;
                        }
                        // raw[i] is the final byte (0x40-0x7E), skipped by the loop's i++.
                    }
                    else
                    {
                        i++;
                    }
                    continue;
                }
                if (b < 0x20 && b != (byte)'\t')
                {
                    continue;
                }
                if (b == 0x7F)
                {
                    continue;
                }
                kept.Add(b);
            }
            return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(kept)).TrimEnd();
        }
    }
}

/// <summary>
/// A node did not do what a test waited for. The message names the node, what was expected, and carries
/// the last console lines and the log path, so a failure can be read without rerunning.
/// </summary>
public sealed class NodeFailureException(string node, string what, string consoleTail)
    : Exception($"node {node}: {what}\n{consoleTail}")
{
    public string Node { get; } = node;
    public string What { get; } = what;
}

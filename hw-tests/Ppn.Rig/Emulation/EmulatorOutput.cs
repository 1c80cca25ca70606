using System.Text;

namespace Ppn.Rig.Emulation;

/// <summary>
/// The reader threads of one emulator run: stdout split into console lines (when the console is QEMU's stdio),
/// stderr kept and noted in the console log as <c>qemu stderr:</c> lines. A broken pipe (the process was killed)
/// ends a reader; what was read is kept.
/// </summary>
public sealed class EmulatorOutput
{
    private readonly StringBuilder _stderr = new();
    private readonly List<Thread> _readers = [];

    /// <summary>Starts reading; <paramref name="stdoutIsConsole"/> false: stdout is drained into rig notes.</summary>
    public EmulatorOutput(string name, Stream stdout, Stream stderr, ConsoleLog console, bool stdoutIsConsole)
    {
        _readers.Add(Start($"{name} console", stdout, stdoutIsConsole ? console.Append : line => console.Note($"qemu stdout: {line}")));
        _readers.Add(Start($"{name} stderr", stderr, line =>
        {
            lock (_stderr)
            {
                _stderr.AppendLine(line);
            }
            console.Note($"qemu stderr: {line}");
        }));
    }

    /// <summary>What QEMU printed on stderr during this run.</summary>
    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.Length == 0 ? "(nothing)" : _stderr.ToString().Trim();
            }
        }
    }

    /// <summary>Lets the readers drain what QEMU wrote before it died (bounded), so the console ends with its last words.</summary>
    public void Drain(TimeSpan timeout)
    {
        var deadline = Deadline.After(timeout);
        foreach (var reader in _readers)
        {
            reader.Join(deadline.Remaining);
        }
    }

    private static Thread Start(string name, Stream stream, Action<string> emit)
    {
        var thread = new Thread(() =>
        {
            var splitter = new ConsoleLog.LineSplitter(emit);
            var buffer = new byte[4096];
            try
            {
                int n;
                while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
                {
                    splitter.Feed(buffer.AsSpan(0, n));
                }
            }
            catch (IOException)
            {
                // The pipe broke because the process was killed; what was read is kept.
            }
            catch (ObjectDisposedException)
            {
            }
            splitter.Flush();
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return thread;
    }
}

namespace Ppn.Appliance.Init;

/// <summary>
/// Console log for PID 1 and the services: one line per event, prefixed "ppn: &lt;area&gt;: " so the rig and a
/// technician can pick them out of kernel messages. Never throws (a dead console must not kill PID 1).
/// Secrets never reach this type: callers pass public data only.
/// </summary>
public sealed class ConsoleLog : ILog
{
    private readonly TextWriter _writer;
    private readonly object _gate = new();

    public ConsoleLog(TextWriter writer) => _writer = writer;

    public void Write(string area, string message)
    {
        try
        {
            lock (_gate)
            {
                _writer.WriteLine($"ppn: {area}: {message}");
                _writer.Flush();
            }
        }
        catch (IOException)
        {
            // The console went away; PID 1 keeps running.
        }
        catch (ObjectDisposedException)
        {
        }
    }
}

public interface ILog
{
    void Write(string area, string message);
}

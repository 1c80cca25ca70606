using System.Globalization;
using System.Net.Sockets;
using Ppn.Rig.Emulation;

namespace Ppn.Rig.Consoles;

/// <summary>One open connection to a console: a serial device or a QEMU chardev socket.</summary>
public interface IConsoleConnection : IDisposable
{
    /// <summary>
    /// Reads what arrived, waiting at most <paramref name="timeout"/>: the byte count, 0 when nothing came in
    /// time. Throws <see cref="IOException"/> when the console is gone (device unplugged, socket closed).
    /// </summary>
    int Read(Span<byte> buffer, TimeSpan timeout);
}

/// <summary>Where a console can be opened from, again after it went away.</summary>
public interface IConsolePort
{
    string Describe { get; }

    /// <summary>Opens the console; throws <see cref="IOException"/> while it is not there.</summary>
    IConsoleConnection Open();
}

/// <summary>
/// Captures a console continuously: every line, timestamped, into a <see cref="ConsoleLog"/>, from a reader
/// thread that reopens the port when it goes away (a USB serial adapter unplugged and plugged back, a node's
/// QEMU power-cycled) and notes each disconnect and reconnect in the log. Nothing is lost while connected;
/// nothing can be read while it is gone, and the log says for how long.
/// </summary>
public sealed class ConsoleCapture : IDisposable
{
    private readonly IConsolePort _port;
    private readonly ManualResetEventSlim _stop = new(false);
    private readonly Thread _reader;
    private readonly TimeSpan _reopenInterval;
    private int _connects;

    /// <summary>Starts capturing at once unless <paramref name="start"/> is false (subscribe to the events, then <see cref="Start"/>).</summary>
    public ConsoleCapture(IConsolePort port, ConsoleLog log, TimeSpan? reopenInterval = null, bool start = true)
    {
        _port = port;
        _log = log;
        _reopenInterval = reopenInterval ?? TimeSpan.FromMilliseconds(200);
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = $"console {port.Describe}" };
        if (start)
        {
            _reader.Start();
        }
    }

    public void Start() => _reader.Start();

    /// <summary>The port captured ("/dev/serial/by-id/… @ 115200").</summary>
    public string Describe => _port.Describe;

    /// <summary>
    /// Where lines go; a bench node points it at each boot's log at power-on (the capture itself never stops: the
    /// adapter stays plugged in while the board is off).
    /// </summary>
    public ConsoleLog Log
    {
        get => Volatile.Read(ref _log);
        set => Volatile.Write(ref _log, value);
    }

    private ConsoleLog _log;

    /// <summary>How many times the console was (re)opened.</summary>
    public int Connects => Volatile.Read(ref _connects);

    /// <summary>Waits (bounded) until the console has been opened at least <paramref name="connects"/> times.</summary>
    public bool WaitForConnects(int connects, TimeSpan timeout)
    {
        var deadline = Deadline.After(timeout);
        lock (_connectGate)
        {
            while (_connects < connects)
            {
                if (deadline.HasPassed)
                {
                    return false;
                }
                Monitor.Wait(_connectGate, deadline.Remaining);
            }
            return true;
        }
    }

    private readonly object _connectGate = new();

    /// <summary>True while a connection is open.</summary>
    public bool Connected { get; private set; }

    /// <summary>Raised on each (re)connect, on the reader thread.</summary>
    public event Action<int>? ConnectedChanged;

    /// <summary>Raised when an open console goes away (with why), on the reader thread.</summary>
    public event Action<string>? Disconnected;

    /// <summary>How many times an open console went away.</summary>
    public int Disconnects => Volatile.Read(ref _disconnects);

    private int _disconnects;

    /// <summary>Why the console went away the last time, or null when it never did.</summary>
    public string? LastDisconnect { get; private set; }

    /// <summary>
    /// Set when the capture stopped on an error that is not the console going away (a handler of
    /// <see cref="ConnectedChanged"/> or <see cref="ConsoleLog.LineReceived"/> threw, a write to the log file failed);
    /// the log then ends with it, so waiters fail at once instead of at their deadline.
    /// </summary>
    public Exception? Fault { get; private set; }

    private void ReadLoop()
    {
        // An exception escaping a thread ends the process at once, without the finally blocks that switch the
        // boards off and delete the namespaces: the reader records it and stops instead.
        try
        {
            Capture();
        }
        catch (Exception e)
        {
            Connected = false;
            Fault = e;
            try
            {
                Log.End($"the console capture of {_port.Describe} failed: {e.GetType().Name}: {e.Message}");
            }
            catch (Exception)
            {
                // The log file itself failed (disk full): End marks the log before it writes; Fault keeps the cause.
            }
        }
    }

    private void Capture()
    {
        var buffer = new byte[4096];
        string? lastProblem = null;
        var down = System.Diagnostics.Stopwatch.StartNew();
        while (!_stop.IsSet)
        {
            IConsoleConnection connection;
            try
            {
                connection = _port.Open();
            }
            catch (Exception e) when (e is IOException or SocketException or UnauthorizedAccessException)
            {
                if (e.Message != lastProblem)
                {
                    Log.Note($"console {_port.Describe} not available: {e.Message}");
                    lastProblem = e.Message;
                }
                _stop.Wait(_reopenInterval);
                continue;
            }
            lastProblem = null;
            var splitter = new ConsoleLog.LineSplitter(line => Log.Append(line));
            try
            {
                using (connection)
                {
                    int n;
                    lock (_connectGate)
                    {
                        n = ++_connects;
                        Monitor.PulseAll(_connectGate);
                    }
                    Log.Note(n == 1
                        ? $"console {_port.Describe} connected"
                        : string.Create(CultureInfo.InvariantCulture, $"console {_port.Describe} reconnected (connection {n}, away {down.Elapsed.TotalSeconds:0.0} s)"));
                    Connected = true;
                    // Inside the try: a handler that touches the device (serial-probe reads the line settings back)
                    // meets an adapter that left again as a disconnect, not as the end of the process.
                    ConnectedChanged?.Invoke(n);
                    while (!_stop.IsSet)
                    {
                        int got = connection.Read(buffer, TimeSpan.FromMilliseconds(200));
                        if (got > 0)
                        {
                            splitter.Feed(buffer.AsSpan(0, got));
                        }
                    }
                }
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                Connected = false;
                LastDisconnect = e.Message;
                Interlocked.Increment(ref _disconnects);
                Log.Note($"console {_port.Describe} disconnected: {e.Message}");
                Disconnected?.Invoke(e.Message);
            }
            splitter.Flush();
            Connected = false;
            down.Restart();
        }
    }

    public void Dispose()
    {
        _stop.Set();
        if (_reader.IsAlive && !_reader.Join(TimeSpan.FromSeconds(5)))
        {
            return; // still inside a device call: it sees the stop when it returns; disposing the event under it would throw
        }
        _stop.Dispose();
    }
}

/// <summary>A QEMU <c>-chardev socket,server=on</c> console.</summary>
public sealed class QemuSocketConsole(string path) : IConsolePort
{
    public string Describe => $"qemu-socket:{path}";

    public IConsoleConnection Open()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return new Connection(socket);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new IOException($"{path}: {e.Message}", e);
        }
    }

    private sealed class Connection(Socket socket) : IConsoleConnection
    {
        public int Read(Span<byte> buffer, TimeSpan timeout)
        {
            if (!socket.Poll(timeout, SelectMode.SelectRead))
            {
                return 0;
            }
            int n = socket.Receive(buffer);
            return n > 0 ? n : throw new IOException("the emulator closed the console socket (powered off?)");
        }

        public void Dispose() => socket.Dispose();
    }
}

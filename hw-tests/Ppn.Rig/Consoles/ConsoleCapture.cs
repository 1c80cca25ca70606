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

    private void ReadLoop()
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
            ConnectedChanged?.Invoke(n);
            var splitter = new ConsoleLog.LineSplitter(line => Log.Append(line));
            try
            {
                using (connection)
                {
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
        if (_reader.IsAlive)
        {
            _reader.Join(TimeSpan.FromSeconds(5));
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

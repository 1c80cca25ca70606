using System.Text;
using Ppn.Rig.Consoles;

namespace Ppn.Rig.Tests.Consoles;

/// <summary>
/// A test twin of a USB serial adapter, without a tty: <see cref="Write"/> is the board printing, <see cref="Unplug"/>
/// hangs the open connection up and makes opens fail until <see cref="Plug"/>, as the device node vanishing does.
/// </summary>
public sealed class FakeConsolePort(string name = "/dev/serial/by-id/usb-FAKE-if00-port0") : IConsolePort
{
    private readonly object _gate = new();
    private Connection? _open;
    private bool _plugged = true;
    private int _opens;

    public string Describe => $"{name} @ 115200";

    /// <summary>How many times the rig opened it.</summary>
    public int Opens
    {
        get
        {
            lock (_gate)
            {
                return _opens;
            }
        }
    }

    public IConsoleConnection Open()
    {
        lock (_gate)
        {
            if (!_plugged)
            {
                throw new IOException($"open({name}) failed: No such file or directory (ENOENT)");
            }
            _opens++;
            return _open = new Connection();
        }
    }

    public void Write(string text)
    {
        lock (_gate)
        {
            (_open ?? throw new InvalidOperationException("nothing has the console open")).Feed(Encoding.ASCII.GetBytes(text));
        }
    }

    public void Unplug()
    {
        lock (_gate)
        {
            _plugged = false;
            _open?.HangUp();
            _open = null;
        }
    }

    public void Plug()
    {
        lock (_gate)
        {
            _plugged = true;
        }
    }

    private sealed class Connection : IConsoleConnection
    {
        private readonly Queue<byte> _bytes = new();
        private bool _hungUp;

        public void Feed(byte[] bytes)
        {
            lock (_bytes)
            {
                foreach (var b in bytes)
                {
                    _bytes.Enqueue(b);
                }
                Monitor.PulseAll(_bytes);
            }
        }

        public void HangUp()
        {
            lock (_bytes)
            {
                _hungUp = true;
                Monitor.PulseAll(_bytes);
            }
        }

        public int Read(Span<byte> buffer, TimeSpan timeout)
        {
            lock (_bytes)
            {
                if (_bytes.Count == 0 && !_hungUp)
                {
                    Monitor.Wait(_bytes, timeout);
                }
                if (_bytes.Count == 0)
                {
                    return _hungUp ? throw new IOException("hung up (device unplugged)") : 0;
                }
                int n = 0;
                while (n < buffer.Length && _bytes.TryDequeue(out var b))
                {
                    buffer[n++] = b;
                }
                return n;
            }
        }

        public void Dispose() => HangUp();
    }
}

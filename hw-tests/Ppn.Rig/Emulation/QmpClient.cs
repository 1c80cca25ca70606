using System.Buffers;
using System.Net.Sockets;
using System.Text.Json;

namespace Ppn.Rig.Emulation;

/// <summary>What QEMU sent on its QMP socket (docs/interop/qmp-spec: greeting, return, error, event).</summary>
public enum QmpMessageKind
{
    Unknown,
    Greeting,
    Return,
    Error,
    Event,
}

/// <summary>One parsed QMP message. <see cref="Body"/> is the "return"/"QMP"/"data" member, cloned.</summary>
public readonly record struct QmpMessage(QmpMessageKind Kind, JsonElement Body, string? ErrorClass, string? ErrorDescription, string? EventName)
{
    /// <summary>Classifies one JSON message; false (never an exception) when the bytes are not a JSON object.</summary>
    public static bool TryParse(ReadOnlySpan<byte> json, out QmpMessage message)
    {
        message = default;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!JsonDocument.TryParseValue(ref reader, out var doc))
            {
                return false;
            }
            using (doc)
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    return false;
                }
                if (root.TryGetProperty("return", out var ret))
                {
                    message = new(QmpMessageKind.Return, ret.Clone(), null, null, null);
                }
                else if (root.TryGetProperty("error", out var error))
                {
                    string? cls = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("class", out var c) ? c.GetString() : null;
                    string? desc = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("desc", out var d) ? d.GetString() : null;
                    message = new(QmpMessageKind.Error, error.Clone(), cls, desc, null);
                }
                else if (root.TryGetProperty("event", out var ev))
                {
                    var data = root.TryGetProperty("data", out var dd) ? dd.Clone() : default;
                    message = new(QmpMessageKind.Event, data, null, null, ev.ValueKind == JsonValueKind.String ? ev.GetString() : null);
                }
                else if (root.TryGetProperty("QMP", out var qmp))
                {
                    message = new(QmpMessageKind.Greeting, qmp.Clone(), null, null, null);
                }
                else
                {
                    message = new(QmpMessageKind.Unknown, root.Clone(), null, null, null);
                }
                return true;
            }
        }
        catch (JsonException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false; // a member of an unexpected type (GetString on a number)
        }
    }

    /// <summary><c>{"execute":"name","arguments":{...}}</c> followed by CRLF, written without reflection.</summary>
    public static byte[] Command(string execute, Action<Utf8JsonWriter>? arguments = null)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("execute", execute);
            if (arguments is not null)
            {
                writer.WriteStartObject("arguments");
                arguments(writer);
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        return [.. buffer.WrittenSpan, (byte)'\r', (byte)'\n'];
    }
}

/// <summary>QEMU refused a QMP command or the QMP conversation broke.</summary>
public sealed class QmpException(string message) : Exception(message);

/// <summary>
/// A minimal QMP client over QEMU's unix socket: reads the greeting, enters command mode
/// (qmp_capabilities) and runs one command at a time. Events arriving between commands are kept in
/// <see cref="Events"/> and otherwise ignored. Every read is bounded by the socket's receive timeout.
/// </summary>
public sealed class QmpClient : IDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private QmpClient(Socket socket, string path)
    {
        _socket = socket;
        SocketPath = path;
    }

    public string SocketPath { get; }

    public List<string> Events { get; } = [];

    /// <summary>Connects (retrying while QEMU has not yet created the socket) and negotiates capabilities.</summary>
    public static QmpClient Connect(string path, TimeSpan timeout)
    {
        var deadline = Deadline.After(timeout);
        Socket? socket = null;
        Exception? last = null;
        BoundedWait.TryUntil(() =>
        {
            var attempt = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                attempt.Connect(new UnixDomainSocketEndPoint(path));
                socket = attempt;
                return true;
            }
            catch (SocketException e)
            {
                attempt.Dispose();
                last = e;
                return false;
            }
        }, timeout, TimeSpan.FromMilliseconds(50));
        if (socket is null)
        {
            throw new QmpException($"no QMP socket at {path} within {BoundedWait.Format(timeout)}: {last?.Message}");
        }
        var client = new QmpClient(socket, path);
        try
        {
            var greeting = client.Read(deadline.Remaining);
            if (greeting.Kind != QmpMessageKind.Greeting)
            {
                throw new QmpException($"QMP at {path} did not greet (got {greeting.Kind})");
            }
            client.Execute("qmp_capabilities", timeout: deadline.Remaining);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Runs a command and returns its "return" value; throws <see cref="QmpException"/> on an "error" reply.</summary>
    public JsonElement Execute(string command, Action<Utf8JsonWriter>? arguments = null, TimeSpan? timeout = null)
    {
        var deadline = Deadline.After(timeout ?? TimeSpan.FromSeconds(10));
        _socket.Send(QmpMessage.Command(command, arguments));
        while (true)
        {
            var message = Read(deadline.Remaining);
            switch (message.Kind)
            {
                case QmpMessageKind.Return:
                    return message.Body;
                case QmpMessageKind.Error:
                    throw new QmpException($"QMP {command} failed: {message.ErrorClass}: {message.ErrorDescription}");
                case QmpMessageKind.Event:
                    Events.Add(message.EventName ?? "?");
                    break;
                default:
                    throw new QmpException($"QMP {command}: unexpected {message.Kind} message");
            }
        }
    }

    /// <summary>The run state ("running", "paused", "shutdown", ...) from query-status.</summary>
    public string QueryStatus()
    {
        var status = Execute("query-status");
        return status.TryGetProperty("status", out var s) ? s.GetString() ?? "?" : "?";
    }

    /// <summary>
    /// Hard reset, as the reset button: the guest gets no chance to shut down. Under -no-reboot QEMU turns
    /// every reset request, the host's too, into a shutdown (softmmu/runstate.c, qemu_system_reset_request),
    /// so the reboot action is set to "reset" around the request; QEMU decides when the request is made.
    /// </summary>
    public void SystemReset()
    {
        Execute("set-action", w => w.WriteString("reboot", "reset"));
        try
        {
            Execute("system_reset");
        }
        finally
        {
            Execute("set-action", w => w.WriteString("reboot", "shutdown"));
        }
    }

    /// <summary>
    /// Ends the emulator at once: to the guest this is a power cut (nothing is flushed or shut down inside).
    /// QEMU may close the socket before or after answering; both count as done.
    /// </summary>
    public void Quit(TimeSpan timeout)
    {
        try
        {
            Execute("quit", timeout: timeout);
        }
        catch (QmpException e) when (e.Message.Contains("closed", StringComparison.Ordinal))
        {
        }
        catch (SocketException)
        {
        }
    }

    private QmpMessage Read(TimeSpan timeout)
    {
        var deadline = Deadline.After(timeout);
        while (true)
        {
            int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                var line = _buffer.AsSpan(_start, newline - _start);
                _start = newline + 1;
                if (line.Trim((byte)'\r').IsEmpty)
                {
                    continue;
                }
                if (!QmpMessage.TryParse(line, out var message))
                {
                    throw new QmpException($"QMP at {SocketPath} sent something that is not a JSON object");
                }
                return message;
            }
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length)
            {
                throw new QmpException($"QMP at {SocketPath} sent a message longer than {_buffer.Length} bytes");
            }
            if (deadline.HasPassed || !_socket.Poll(deadline.Remaining, SelectMode.SelectRead))
            {
                throw new QmpException($"QMP at {SocketPath} did not answer within {BoundedWait.Format(timeout)}");
            }
            int n = _socket.Receive(_buffer, _end, _buffer.Length - _end, SocketFlags.None);
            if (n == 0)
            {
                throw new QmpException($"QMP at {SocketPath} closed the connection");
            }
            _end += n;
        }
    }

    public void Dispose() => _socket.Dispose();
}

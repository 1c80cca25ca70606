using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Ppn.Linux;

namespace Ppn.Mesh.WireGuard;

/// <summary>
/// The cross-platform userspace API (wireguard.com/xplatform): a line protocol of key=value over a unix socket
/// at /var/run/wireguard/&lt;iface&gt;.sock. "get=1" returns the device; "set=1" applies a change; both end in
/// "errno=N" and a blank line. Keys are hex. Pure encode/parse here; <see cref="UapiWireGuard"/> does the I/O.
/// </summary>
public static class UapiProtocol
{
    /// <summary>Encodes a set=1 request as bytes (the caller zeroes them: they may hold the private key).</summary>
    public static byte[] EncodeSet(DeviceChange change)
    {
        var text = new List<byte>(256);
        void Line(string key, string value) => text.AddRange(Encoding.ASCII.GetBytes($"{key}={value}\n"));
        text.AddRange("set=1\n"u8);
        if (change.PrivateKey is not null)
        {
            Span<byte> hex = stackalloc byte[64];
            change.PrivateKey.WriteHex(hex);
            text.AddRange("private_key="u8);
            foreach (var b in hex) text.Add(b);
            text.Add((byte)'\n');
            CryptographicOperations.ZeroMemory(hex);
        }
        if (change.ListenPort is int port) Line("listen_port", port.ToString(CultureInfo.InvariantCulture));
        if (change.FirewallMark is uint mark) Line("fwmark", mark.ToString(CultureInfo.InvariantCulture));
        if (change.ReplacePeers) Line("replace_peers", "true");
        foreach (var peer in change.Peers)
        {
            Line("public_key", peer.PublicKey.ToHex());
            if (peer.Remove)
            {
                Line("remove", "true");
                continue;
            }
            if (peer.UpdateOnly) Line("update_only", "true");
            if (peer.PresharedKey is WireGuardKey psk) Line("preshared_key", psk.ToHex());
            if (peer.Endpoint is not null) Line("endpoint", EndpointText.Format(peer.Endpoint));
            if (peer.PersistentKeepaliveSeconds is int keepalive) Line("persistent_keepalive_interval", keepalive.ToString(CultureInfo.InvariantCulture));
            if (peer.ReplaceAllowedIPs) Line("replace_allowed_ips", "true");
            foreach (var ip in peer.AllowedIPs) Line("allowed_ip", ip.ToString());
        }
        text.Add((byte)'\n');
        var result = text.ToArray();
        CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(text));
        return result;
    }

    /// <summary>
    /// Parses a get=1 reply into a device. Returns false (never throws) on a malformed line or an unknown key's
    /// bad value; <paramref name="errno"/> is the reply's errno (0 for success).
    /// </summary>
    public static bool TryParseGet(ReadOnlySpan<byte> reply, string name, out WireGuardDevice? device, out int errno)
    {
        device = null;
        errno = -1;
        var builder = new WireGuardDeviceBuilder { Name = name };
        WireGuardPeer? peer = null;
        long handshakeSeconds = 0, handshakeNanos = 0;
        void FinishPeer()
        {
            if (peer is not null && (handshakeSeconds != 0 || handshakeNanos != 0))
            {
                peer.LastHandshake = DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(handshakeSeconds, 0, 253402300799)).AddTicks(Math.Clamp(handshakeNanos, 0, 999_999_999) / 100);
            }
            handshakeSeconds = handshakeNanos = 0;
        }
        bool ok = true;
        Span<char> valueBuffer = stackalloc char[128];
        foreach (var range in reply.Split((byte)'\n'))
        {
            var line = reply[range];
            if (line.IsEmpty) continue;
            int eq = line.IndexOf((byte)'=');
            if (eq <= 0) { ok = false; break; }
            var key = Encoding.ASCII.GetString(line[..eq]);
            if (line.Length - eq - 1 > valueBuffer.Length) { ok = false; break; }
            var value = valueBuffer[..(line.Length - eq - 1)];
            for (int i = 0; i < value.Length; i++) value[i] = (char)line[eq + 1 + i];
            switch (key)
            {
                case "private_key":
                    if (!WireGuardPrivateKey.TryParseHex(value, out var pk)) { ok = false; break; }
                    builder.PrivateKey?.Dispose();
                    builder.PrivateKey = pk.IsZero ? null : pk;
                    if (builder.PrivateKey is null) pk.Dispose();
                    break;
                case "listen_port":
                    if (!ushort.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port)) ok = false; else builder.ListenPort = port;
                    break;
                case "fwmark":
                    if (!uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var mark)) ok = false; else builder.FirewallMark = mark;
                    break;
                case "public_key":
                    FinishPeer();
                    if (!WireGuardKey.TryParseHex(value, out var pub)) { ok = false; break; }
                    peer = new WireGuardPeer { PublicKey = pub };
                    builder.Peers.Add(peer);
                    break;
                case "preshared_key" when peer is not null:
                    if (!WireGuardKey.TryParseHex(value, out var psk)) ok = false; else peer.HasPresharedKey = !psk.IsZero;
                    break;
                case "endpoint" when peer is not null:
                    if (!EndpointText.TryParse(new string(value), out var endpoint)) ok = false; else peer.Endpoint = endpoint;
                    break;
                case "persistent_keepalive_interval" when peer is not null:
                    if (!ushort.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var keepalive)) ok = false; else peer.PersistentKeepaliveSeconds = keepalive;
                    break;
                case "allowed_ip" when peer is not null:
                    if (!IpPrefix.TryParse(new string(value), out var prefix) || !new string(value).Contains('/')) ok = false; else peer.AllowedIPs.Add(prefix);
                    break;
                case "last_handshake_time_sec" when peer is not null:
                    if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out handshakeSeconds)) ok = false;
                    break;
                case "last_handshake_time_nsec" when peer is not null:
                    if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out handshakeNanos)) ok = false;
                    break;
                case "rx_bytes" when peer is not null:
                    if (!ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var rx)) ok = false; else peer.ReceiveBytes = rx;
                    break;
                case "tx_bytes" when peer is not null:
                    if (!ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var tx)) ok = false; else peer.TransmitBytes = tx;
                    break;
                case "protocol_version" when peer is not null:
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var version)) ok = false; else peer.ProtocolVersion = version;
                    break;
                case "errno":
                    if (!int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out errno)) ok = false;
                    break;
                default:
                    break; // keys added by newer implementations are ignored, as the protocol asks
            }
            value.Clear();
            if (!ok) break;
        }
        valueBuffer.Clear();
        FinishPeer();
        if (!ok || errno < 0)
        {
            builder.PrivateKey?.Dispose();
            return false;
        }
        device = builder.Build();
        return true;
    }

    /// <summary>The errno of a set=1 reply ("errno=0\n\n"); false when the reply is not of that form.</summary>
    public static bool TryParseErrno(ReadOnlySpan<byte> reply, out int errno)
    {
        errno = -1;
        foreach (var range in reply.Split((byte)'\n'))
        {
            var line = reply[range];
            if (line.StartsWith("errno="u8))
            {
                return int.TryParse(line[6..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out errno);
            }
        }
        return false;
    }
}

/// <summary>WireGuard through a userspace implementation's UAPI socket (Debian's wireguard-go).</summary>
public sealed class UapiWireGuard : IWireGuard
{
    private readonly string _socketDirectory;
    private readonly TimeSpan _timeout;

    public UapiWireGuard(string socketDirectory = DefaultSocketDirectory, TimeSpan? timeout = null)
    {
        _socketDirectory = socketDirectory;
        _timeout = timeout ?? TimeSpan.FromSeconds(5);
    }

    public const string DefaultSocketDirectory = "/var/run/wireguard";

    public string Backend => "userspace";

    public string SocketPath(string name) => Path.Combine(_socketDirectory, name + ".sock");

    public bool EnsureInterface(string name)
    {
        if (!File.Exists(SocketPath(name)))
        {
            throw new SyscallException("connect", SocketPath(name), (int)Errno.ENOENT,
                $"the userspace backend needs its daemon: start `wireguard-go {name}` first (it creates the interface and this socket)");
        }
        return false;
    }

    public WireGuardDevice? Get(string name)
    {
        if (!File.Exists(SocketPath(name)))
        {
            return null;
        }
        var reply = Exchange(name, "get=1\n\n"u8.ToArray());
        try
        {
            if (!UapiProtocol.TryParseGet(reply, name, out var device, out int errno))
            {
                throw new IOException($"UAPI get on {SocketPath(name)}: malformed reply");
            }
            if (errno != 0)
            {
                device!.Dispose();
                throw new SyscallException("UAPI get", SocketPath(name), errno);
            }
            return device;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(reply);
        }
    }

    public void Apply(string name, DeviceChange change)
    {
        var request = UapiProtocol.EncodeSet(change);
        byte[] reply;
        try
        {
            reply = Exchange(name, request);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(request);
        }
        if (!UapiProtocol.TryParseErrno(reply, out int errno))
        {
            throw new IOException($"UAPI set on {SocketPath(name)}: no errno in the reply");
        }
        if (errno != 0)
        {
            throw new SyscallException("UAPI set", SocketPath(name), errno, "the userspace WireGuard refused the configuration");
        }
    }

    private byte[] Exchange(string name, byte[] request)
    {
        var path = SocketPath(name);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.ReceiveTimeout = socket.SendTimeout = (int)_timeout.TotalMilliseconds;
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e)
        {
            throw new SyscallException("connect", path, e.SocketErrorCode == SocketError.AccessDenied ? (int)Errno.EACCES : (int)Errno.ECONNREFUSED,
                $"is `wireguard-go {name}` running? ({e.SocketErrorCode})");
        }
        socket.Send(request);
        // The reply ends with a blank line after "errno=N"; read until then (bounded by the receive timeout).
        var buffer = new byte[64 * 1024];
        int length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                var bigger = new byte[buffer.Length * 2];
                buffer.CopyTo(bigger, 0);
                CryptographicOperations.ZeroMemory(buffer);
                buffer = bigger;
            }
            int n;
            try
            {
                n = socket.Receive(buffer, length, buffer.Length - length, SocketFlags.None);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock)
            {
                CryptographicOperations.ZeroMemory(buffer);
                throw new SyscallException("UAPI read", path, (int)Errno.ETIMEDOUT, "the userspace WireGuard did not answer in time");
            }
            if (n == 0) break;
            length += n;
            var seen = buffer.AsSpan(0, length);
            int errnoAt = seen.IndexOf("errno="u8);
            if (errnoAt >= 0 && seen[errnoAt..].IndexOf("\n\n"u8) >= 0) break;
        }
        var result = buffer.AsSpan(0, length).ToArray();
        CryptographicOperations.ZeroMemory(buffer);
        return result;
    }
}

using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Ppn.Linux.Interop;

namespace Ppn.Genesis.Claim;

/// <summary>
/// Where a technician's claim goes: a holding node's address as printed on its console or found with
/// <c>nc</c>: IPv6 link-local with its interface (<c>fe80::1%eth0</c>, <c>[fe80::1%eth0]:9443</c>), or IPv4
/// (<c>192.0.2.5</c>, <c>192.0.2.5:9443</c>). A link-local address without an interface is ambiguous and refused.
/// </summary>
public static class ClaimTarget
{
    public static bool TryParse(string text, int defaultPort, [NotNullWhen(true)] out IPEndPoint? endpoint, [NotNullWhen(false)] out string? error, Func<string, int>? interfaceIndex = null)
    {
        endpoint = null;
        error = null;
        interfaceIndex ??= name => (int)LibC.if_nametoindex(name);
        string host = text.Trim();
        int port = defaultPort;
        if (host.StartsWith('['))
        {
            int close = host.IndexOf(']');
            if (close < 0 || (close + 1 < host.Length && (host[close + 1] != ':' || !int.TryParse(host.AsSpan(close + 2), NumberStyles.None, CultureInfo.InvariantCulture, out port))))
            {
                error = $"\"{text}\" is not [ADDRESS%IFACE]:PORT";
                return false;
            }
            host = host[1..close];
        }
        else if (host.Count(c => c == ':') == 1)
        {
            var parts = host.Split(':');
            if (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out port))
            {
                error = $"\"{text}\" is not ADDRESS:PORT";
                return false;
            }
            host = parts[0];
        }
        if (port is < 1 or > 65535)
        {
            error = $"port {port} is out of range";
            return false;
        }
        string? scope = null;
        int percent = host.IndexOf('%');
        if (percent >= 0)
        {
            scope = host[(percent + 1)..];
            host = host[..percent];
        }
        if (!IPAddress.TryParse(host, out var address) || (address.AddressFamily == AddressFamily.InterNetworkV6 && host.Contains('.')))
        {
            error = $"\"{text}\" is not an IP address (a holding node has no DNS name: use its link-local address, e.g. fe80::5054:ff:fe12:3456%eth0)";
            return false;
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (address.IsIPv6LinkLocal)
            {
                if (string.IsNullOrEmpty(scope))
                {
                    error = $"{host} is link-local: say which interface it is on, e.g. {host}%eth0";
                    return false;
                }
                int index = int.TryParse(scope, NumberStyles.None, CultureInfo.InvariantCulture, out var numeric) ? numeric : interfaceIndex(scope);
                if (index <= 0)
                {
                    error = $"no network interface \"{scope}\" on this machine (see `ip link`)";
                    return false;
                }
                address = new IPAddress(address.GetAddressBytes(), index);
            }
        }
        else if (scope is not null)
        {
            error = $"\"{text}\": an IPv4 address takes no %interface";
            return false;
        }
        endpoint = new IPEndPoint(address, port);
        return true;
    }
}

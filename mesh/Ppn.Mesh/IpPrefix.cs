using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace Ppn.Mesh;

/// <summary>An address with a prefix length (10.8.0.2/24 as an interface address, 10.8.0.0/24 as allowed IPs).</summary>
public readonly record struct IpPrefix(IPAddress Address, int PrefixLength)
{
    public AddressFamily Family => Address.AddressFamily;
    public int MaxPrefix => Family == AddressFamily.InterNetwork ? 32 : 128;

    /// <summary>The same prefix with host bits cleared (10.8.0.2/24 → 10.8.0.0/24).</summary>
    public IpPrefix Network()
    {
        var bytes = Address.GetAddressBytes();
        for (int bit = PrefixLength; bit < bytes.Length * 8; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }
        return new IpPrefix(new IPAddress(bytes), PrefixLength);
    }

    public bool Contains(IpPrefix other) =>
        other.Family == Family && other.PrefixLength >= PrefixLength && new IpPrefix(other.Address, PrefixLength).Network() == Network();

    public static bool TryParse(string? text, out IpPrefix prefix)
    {
        prefix = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        text = text.Trim();
        int slash = text.IndexOf('/');
        var addressText = slash < 0 ? text : text[..slash];
        if (!IPAddress.TryParse(addressText, out var address) || (address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)))
        {
            return false;
        }
        if (address.IsIPv4MappedToIPv6)
        {
            return false;
        }
        int max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        int length = max;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), System.Globalization.NumberStyles.None, null, out length) || length > max))
        {
            return false;
        }
        prefix = new IpPrefix(address, length);
        return true;
    }

    public static IpPrefix Parse(string text) =>
        TryParse(text, out var p) ? p : throw new FormatException($"'{text}' is not an address with an optional /prefix");

    public override string ToString() => $"{Address}/{PrefixLength}";
}

public static class EndpointText
{
    /// <summary>Parses "192.168.77.1:51820" or "[fd00::1]:51820" (no DNS: the node has none by design).</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out IPEndPoint? endpoint)
    {
        endpoint = null;
        if (string.IsNullOrWhiteSpace(text) || !IPEndPoint.TryParse(text.Trim(), out var parsed) || parsed.Port == 0)
        {
            return false;
        }
        if (parsed.AddressFamily == AddressFamily.InterNetworkV6 && !text.TrimStart().StartsWith('['))
        {
            return false;
        }
        endpoint = parsed;
        return true;
    }

    public static string Format(IPEndPoint endpoint) =>
        endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]:{endpoint.Port}" : $"{endpoint.Address}:{endpoint.Port}";
}

using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Ppn.Linux.Interop;

namespace Ppn.Linux;

/// <summary>
/// The kernel's socket addresses as bytes (linux/in.h, linux/in6.h), the one codec every part uses: bind(2) and
/// sendto(2) take them, and WireGuard's netlink carries a peer endpoint as one (WGPEER_A_ENDPOINT).
/// <code>
///   sockaddr_in  (16): family u16 (host order) | port u16 (network order) | address 4 | zero 8
///   sockaddr_in6 (28): family u16 (host order) | port u16 (network order) | flowinfo u32 | address 16 | scope id u32 (host order)
/// </code>
/// </summary>
public static class SockaddrCodec
{
    public const int IPv4Length = 16, IPv6Length = 28;

    /// <summary>Large enough for either family.</summary>
    public const int MaxLength = IPv6Length;

    /// <summary>Writes <paramref name="endpoint"/> (the scope id of a link-local IPv6 address included); the length written.</summary>
    public static int Write(IPEndPoint endpoint, Span<byte> destination)
    {
        bool v4 = endpoint.AddressFamily == AddressFamily.InterNetwork;
        int length = v4 ? IPv4Length : IPv6Length;
        destination[..length].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(destination, (ushort)(v4 ? LibC.AF_INET : LibC.AF_INET6));
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)endpoint.Port);
        if (v4)
        {
            endpoint.Address.TryWriteBytes(destination[4..8], out _);
        }
        else
        {
            endpoint.Address.TryWriteBytes(destination[8..24], out _);
            BinaryPrimitives.WriteUInt32LittleEndian(destination[24..], (uint)endpoint.Address.ScopeId);
        }
        return length;
    }

    /// <summary>Reads a sockaddr_in or sockaddr_in6; false for another family or a short buffer (never throws on hostile bytes).</summary>
    public static bool TryRead(ReadOnlySpan<byte> value, out IPEndPoint? endpoint)
    {
        endpoint = null;
        if (value.Length < 2)
        {
            return false;
        }
        ushort family = BinaryPrimitives.ReadUInt16LittleEndian(value);
        if (family == LibC.AF_INET && value.Length >= IPv4Length)
        {
            endpoint = new IPEndPoint(new IPAddress(value[4..8]), BinaryPrimitives.ReadUInt16BigEndian(value[2..]));
            return true;
        }
        if (family == LibC.AF_INET6 && value.Length >= IPv6Length)
        {
            var address = new IPAddress(value[8..24], BinaryPrimitives.ReadUInt32LittleEndian(value[24..]));
            endpoint = new IPEndPoint(address, BinaryPrimitives.ReadUInt16BigEndian(value[2..]));
            return true;
        }
        return false;
    }
}

using Ppn.Linux;
using Ppn.Linux.Netlink;
using Ppn.Mesh.Links;

namespace Ppn.Mesh.WireGuard;

/// <summary>WireGuard through the kernel module's generic netlink family "wireguard".</summary>
public sealed class KernelWireGuard : IWireGuard
{
    public const string NoModuleAdvice = "no wireguard kernel module: load it (modprobe wireguard) or use the userspace backend (--backend userspace with wireguard-go)";
    public const string NeedsNetAdmin = "configuring WireGuard needs CAP_NET_ADMIN: run as root";

    private readonly ILinkConfigurator _links;

    public KernelWireGuard(ILinkConfigurator links) => _links = links;

    public string Backend => "kernel";

    /// <summary>Errno → what to do, for the family lookup and the device commands.</summary>
    public static string? Advice(int errno) => (Errno)errno switch
    {
        Errno.ENOENT or Errno.EOPNOTSUPP or Errno.ENOPKG => NoModuleAdvice,
        Errno.EPERM or Errno.EACCES => NeedsNetAdmin,
        Errno.ENODEV => "no such WireGuard interface",
        _ => null,
    };

    /// <summary>Resolves the family; a missing family becomes the clear "no wireguard kernel module" error.</summary>
    public static ushort ResolveFamily(NetlinkSocket socket) =>
        GenericNetlink.ResolveFamily(socket, WireGuardNetlink.FamilyName, Advice);

    public bool EnsureInterface(string name)
    {
        if (_links.Get(name) is not null)
        {
            return false;
        }
        _links.CreateWireGuard(name);
        return true;
    }

    public WireGuardDevice? Get(string name)
    {
        using var socket = new NetlinkSocket(Linux.Interop.NetlinkSocketConstants.NETLINK_GENERIC);
        ushort family = ResolveFamily(socket);
        using var request = WireGuardNetlink.GetDeviceRequest(family, name);
        var builder = new WireGuardDeviceBuilder { Name = name };
        bool malformed = false;
        try
        {
            socket.Request(request, "netlink WG_CMD_GET_DEVICE", name, (in NetlinkHeader _, ReadOnlySpan<byte> payload) =>
            {
                malformed |= !WireGuardNetlink.TryMergeGetReply(payload, builder);
            }, Advice);
        }
        catch (NetlinkException e) when (e.Is(Errno.ENODEV) || (e.Is(Errno.ENOENT) && e.Call.Contains("WG_CMD")))
        {
            builder.PrivateKey?.Dispose();
            return null;
        }
        catch
        {
            // Any other failure after a reply part carried the private key: its pinned copy is zeroed, not left to the GC.
            builder.PrivateKey?.Dispose();
            throw;
        }
        if (malformed)
        {
            builder.PrivateKey?.Dispose();
            throw new NetlinkException("netlink WG_CMD_GET_DEVICE", name, (int)Errno.EIO, "malformed reply from the wireguard family");
        }
        return builder.Build();
    }

    public void Apply(string name, DeviceChange change)
    {
        using var socket = new NetlinkSocket(Linux.Interop.NetlinkSocketConstants.NETLINK_GENERIC);
        ushort family = ResolveFamily(socket);
        var messages = WireGuardNetlink.SetDeviceRequests(family, name, change);
        try
        {
            foreach (var message in messages)
            {
                socket.Request(message, "netlink WG_CMD_SET_DEVICE", name, null, Advice);
            }
        }
        finally
        {
            foreach (var message in messages)
            {
                message.Dispose();
            }
        }
    }
}

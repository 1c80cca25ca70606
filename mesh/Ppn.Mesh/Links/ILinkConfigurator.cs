namespace Ppn.Mesh.Links;

public sealed record LinkState(int Index, string Name, int Mtu, bool Up, string? Kind);

public sealed record RouteEntry(IpPrefix Destination, int OutputInterface, byte Protocol);

/// <summary>Links, addresses and routes (rtnetlink on Linux; an in-memory twin in tests).</summary>
public interface ILinkConfigurator
{
    LinkState? Get(string name);
    /// <summary>RTM_NEWLINK with IFLA_INFO_KIND "wireguard" (needs the kernel module).</summary>
    void CreateWireGuard(string name);
    void Delete(string name);
    void SetMtu(int index, int mtu);
    void SetUp(int index, bool up);
    IReadOnlyList<IpPrefix> Addresses(int index);
    void AddAddress(int index, IpPrefix address);
    void DeleteAddress(int index, IpPrefix address);
    /// <summary>Routes of the main table leaving through <paramref name="index"/>.</summary>
    IReadOnlyList<RouteEntry> Routes(int index);
    void AddRoute(int index, IpPrefix destination);
    void DeleteRoute(int index, IpPrefix destination);
    /// <summary>net.ipv4.conf.&lt;name&gt;.forwarding: the hub forwards between spokes on ppn0.</summary>
    bool GetForwarding(string name);
    void SetForwarding(string name, bool enabled);
}

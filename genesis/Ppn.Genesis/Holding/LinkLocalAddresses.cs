using System.Diagnostics;
using System.Globalization;
using System.Net;
using Ppn.Linux.Netlink;

namespace Ppn.Genesis.Holding;

/// <summary>An IPv6 address of this node as /proc/net/if_inet6 lists it.</summary>
public sealed record InterfaceAddress(IPAddress Address, int InterfaceIndex, int PrefixLength, int Scope, int Flags, string InterfaceName)
{
    public const int ScopeLink = 0x20;
    public const int IFA_F_OPTIMISTIC = 0x04;
    public const int IFA_F_DADFAILED = 0x08;
    public const int IFA_F_TENTATIVE = 0x40;

    public bool IsLinkLocal => Scope == ScopeLink;
    public bool IsTentative => (Flags & IFA_F_TENTATIVE) != 0;
    /// <summary>
    /// Optimistic DAD (RFC 4429, net.ipv6.conf.*.optimistic_dad): the address is usable — bindable and answering
    /// neighbour solicitations — while duplicate address detection still runs (the kernel reports it
    /// OPTIMISTIC|TENTATIVE and treats it as not tentative for bind, net/ipv6/addrconf.c ipv6_chk_addr_and_flags).
    /// </summary>
    public bool IsOptimistic => (Flags & IFA_F_OPTIMISTIC) != 0;
    public bool DadFailed => (Flags & IFA_F_DADFAILED) != 0;
    /// <summary>Not tentative, or tentative but optimistic; DAD not failed; not loopback.</summary>
    public bool IsUsable => IsLinkLocal && (!IsTentative || IsOptimistic) && !DadFailed && InterfaceName != "lo";
    /// <summary>A link-local address still in plain (not optimistic) duplicate address detection: it will become usable.</summary>
    public bool IsPending => IsLinkLocal && IsTentative && !IsOptimistic && !DadFailed && InterfaceName != "lo";

    public IPEndPoint EndPoint(int port) => new(new IPAddress(Address.GetAddressBytes(), InterfaceIndex), port);
}

public interface IInterfaceAddressSource
{
    IReadOnlyList<InterfaceAddress> Read();

    /// <summary>
    /// A wake-up for address and link changes, opened before the first <see cref="Read"/> so no change between
    /// them is missed. The real source waits on rtnetlink notifications.
    /// </summary>
    IAddressChanges SubscribeToChanges();
}

/// <summary>Blocks until addresses or links may have changed.</summary>
public interface IAddressChanges : IDisposable
{
    /// <summary>True when something may have changed, false when <paramref name="timeout"/> passed first.</summary>
    bool Wait(TimeSpan timeout);
}

/// <summary>rtnetlink notifications (RTM_NEWADDR/RTM_DELADDR for IPv6 addresses, RTM_NEWLINK for carrier) as the wake-up.</summary>
public sealed class RtnetlinkAddressChanges : IAddressChanges
{
    private readonly NetlinkEvents _events = new(NetlinkEvents.Ipv6AddressGroup | NetlinkEvents.LinkGroup);

    public bool Wait(TimeSpan timeout) => _events.Wait(timeout);

    public void Dispose() => _events.Dispose();
}

/// <summary>
/// /proc/net/if_inet6: "fe800000000000005054fffe12345602 02 40 20 80 eth0" = address, ifindex, prefix length,
/// scope, flags, name (all hex). Lines that do not parse are skipped.
/// </summary>
public sealed class ProcNetIfInet6 : IInterfaceAddressSource
{
    private readonly string _path;

    public ProcNetIfInet6(string path = "/proc/net/if_inet6") => _path = path;

    public IReadOnlyList<InterfaceAddress> Read() => File.Exists(_path) ? Parse(File.ReadAllText(_path)) : [];

    /// <summary>Notifications of the calling thread's network namespace (the one whose /proc/net this reads).</summary>
    public IAddressChanges SubscribeToChanges() => new RtnetlinkAddressChanges();

    public static IReadOnlyList<InterfaceAddress> Parse(string text)
    {
        var result = new List<InterfaceAddress>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length != 6 || f[0].Length != 32)
            {
                continue;
            }
            var bytes = new byte[16];
            bool ok = true;
            for (int i = 0; i < 16 && ok; i++)
            {
                ok = byte.TryParse(f[0].AsSpan(i * 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out bytes[i]);
            }
            if (ok
                && int.TryParse(f[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int index)
                && int.TryParse(f[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int prefix)
                && int.TryParse(f[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int scope)
                && int.TryParse(f[4], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int flags))
            {
                result.Add(new InterfaceAddress(new IPAddress(bytes), index, prefix, scope, flags, f[5]));
            }
        }
        return result;
    }

    /// <summary>
    /// Usable link-local addresses: waits (bounded) while an address is still in plain duplicate address detection
    /// (tentative and not optimistic: it cannot be bound yet) or none exists yet (no carrier). An optimistic
    /// address is usable at once, while DAD still runs. The wait sleeps until the kernel reports an address or link
    /// change (rtnetlink), then reads again. Returns what is usable at the deadline.
    /// </summary>
    public static IReadOnlyList<InterfaceAddress> WaitForLinkLocal(IInterfaceAddressSource source, TimeSpan deadline)
    {
        var clock = Stopwatch.StartNew();
        using var changes = source.SubscribeToChanges();
        while (true)
        {
            var all = source.Read();
            var usable = all.Where(a => a.IsUsable).ToList();
            bool pending = all.Any(a => a.IsPending);
            var left = deadline - clock.Elapsed;
            if ((usable.Count > 0 && !pending) || left <= TimeSpan.Zero)
            {
                return usable;
            }
            if (!changes.Wait(left))
            {
                return source.Read().Where(a => a.IsUsable).ToList(); // the deadline passed: what is usable now
            }
        }
    }
}

using System.Runtime.InteropServices;
using Ppn.Linux;
using Ppn.Linux.Interop;
using Ppn.Nic.Ethtool;

namespace Ppn.Appliance.Init;

/// <summary>Network interfaces as PID 1 needs them: list, bring up; and the sysctls of blind boot.</summary>
public interface ILinkControl
{
    /// <summary>Interface names present now (from sysfs), sorted.</summary>
    IReadOnlyList<string> List();

    void SetUp(string name);

    /// <summary>
    /// Whether the link has carrier, asked the way ethtool asks (ETHTOOL_GLINK). Asked right after
    /// <see cref="SetUp"/> for its side effect: since Linux 6.8 the query runs the link's pending linkwatch event
    /// (net/ethtool/ioctl.c ethtool_op_get_link, commit facd15dfd691). A driver that turned carrier on before the
    /// link was up (virtio_net does at probe) leaves a non-urgent event that linkwatch otherwise runs up to a
    /// second later (one non-urgent run per second, net/core/link_watch.c), and until it runs operstate stays
    /// down and IPv6 adds no link-local address. Older kernels (Debian 12's 6.1) answer without running it.
    /// </summary>
    /// <exception cref="IOException">The query failed (a driver without get_link: EOPNOTSUPP).</exception>
    bool QueryCarrier(string name);

    /// <summary>Writes a value under /proc/sys (path relative to it, e.g. net/ipv6/conf/all/accept_ra).</summary>
    void WriteSysctl(string relativePath, string value);
}

public sealed class SystemLinkControl : ILinkControl
{
    private const nuint SIOCGIFFLAGS = 0x8913; // linux/sockios.h
    private const nuint SIOCSIFFLAGS = 0x8914;
    private const short IFF_UP = 0x1;          // linux/if.h
    internal const int IfreqSize = 40;         // struct ifreq on 64-bit: IFNAMSIZ (16) + a 24-byte union
    internal const int IfNameSize = 16;

    private readonly string _sysfsRoot;
    private readonly string _procSysRoot;
    private readonly IEthtool _ethtool;

    public SystemLinkControl(string sysfsRoot = "/sys", string procSysRoot = "/proc/sys", IEthtool? ethtool = null)
    {
        _sysfsRoot = sysfsRoot;
        _procSysRoot = procSysRoot;
        _ethtool = ethtool ?? new SystemEthtool();
    }

    public IReadOnlyList<string> List()
    {
        var dir = Path.Combine(_sysfsRoot, "class", "net");
        if (!Directory.Exists(dir))
        {
            return [];
        }
        var names = Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).OfType<string>().ToList();
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    public unsafe void SetUp(string name)
    {
        if (name.Length == 0 || name.Length >= IfNameSize)
        {
            throw new ArgumentException($"interface name '{name}' is not 1..15 characters", nameof(name));
        }
        int s = SyscallException.ThrowIfFailed(LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0), "socket", "AF_INET/SOCK_DGRAM");
        using var socket = new SafeFd(s);
        byte* ifr = stackalloc byte[IfreqSize];
        new Span<byte>(ifr, IfreqSize).Clear();
        System.Text.Encoding.ASCII.GetBytes(name, new Span<byte>(ifr, IfNameSize - 1));
        SyscallException.ThrowIfFailed(LibC.ioctl(socket.Fd, SIOCGIFFLAGS, ifr), "ioctl(SIOCGIFFLAGS)", name);
        short* flags = (short*)(ifr + IfNameSize);
        if ((*flags & IFF_UP) != 0)
        {
            return;
        }
        *flags |= IFF_UP;
        SyscallException.ThrowIfFailed(LibC.ioctl(socket.Fd, SIOCSIFFLAGS, ifr), "ioctl(SIOCSIFFLAGS)", name);
    }

    public bool QueryCarrier(string name) => _ethtool.GetLink(name);

    public void WriteSysctl(string relativePath, string value)
    {
        var path = Path.Combine(_procSysRoot, relativePath);
        using var fd = SafeFd.Open(path, OpenFlags.O_WRONLY);
        FileDescriptorIo.WriteOnce(fd, System.Text.Encoding.ASCII.GetBytes(value + "\n"), path);
    }
}

/// <summary>
/// Blind boot (design page, Genesis Protocol step 2): the node configures nothing from the network.
/// No DHCP client exists in the image; these sysctls stop the kernel itself from taking router
/// advertisements (routes, SLAAC addresses, RDNSS). IPv6 link-local addresses stay: they are how the
/// holding pattern is reached.
/// </summary>
public static class BlindBoot
{
    public static IEnumerable<(string Path, string Value)> Sysctls(string scope)
    {
        yield return ($"net/ipv6/conf/{scope}/accept_ra", "0");
        yield return ($"net/ipv6/conf/{scope}/autoconf", "0");
        yield return ($"net/ipv6/conf/{scope}/accept_redirects", "0");
        yield return ($"net/ipv4/conf/{scope}/accept_redirects", "0");
        // Optimistic DAD (RFC 4429): the link-local address is usable at once while duplicate address detection
        // still runs, instead of after it (about 1.6 s of the boot); use_optimistic lets it be a source address.
        // Written before the link comes up: the kernel decides when it adds the address.
        yield return ($"net/ipv6/conf/{scope}/optimistic_dad", "1");
        yield return ($"net/ipv6/conf/{scope}/use_optimistic", "1");
    }
}

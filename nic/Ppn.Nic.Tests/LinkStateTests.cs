using System.Text;
using Ppn.Linux;
using Ppn.Linux.Interop;
using Ppn.Nic.Ethtool;
using Xunit.Abstractions;

namespace Ppn.Nic.Tests;

/// <summary>
/// Host test: ETHTOOL_GLINK against interfaces in a namespace each test creates (a veth pair, taps), compared with
/// what Debian's ethtool and sysfs report. Needs root (the project's test machines have it).
/// </summary>
public sealed class LinkStateTests : IDisposable
{
    private const nuint SIOCGIFFLAGS = 0x8913; // linux/sockios.h
    private const nuint SIOCSIFFLAGS = 0x8914;
    private const nuint TUNSETIFF = 0x400454ca; // _IOW('T', 202, int), linux/if_tun.h
    private const short IFF_UP = 0x1;
    private const short IFF_TAP = 0x0002;
    private const short IFF_NO_PI = 0x1000;

    private readonly NetnsFixture _ns = new();
    private readonly SystemEthtool _ethtool = new();
    private readonly ITestOutputHelper _output;
    private readonly List<SafeFd> _taps = [];

    public LinkStateTests(ITestOutputHelper output) => _output = output;

    public void Dispose()
    {
        foreach (var tap in _taps) tap.Dispose();
        _ns.Dispose();
    }

    [Fact]
    public void Link_state_agrees_with_ethtool_link_detected()
    {
        Assert.True(_ns.InNamespace(() => _ethtool.GetLink("va")));
        Assert.Equal("yes", NetnsFixture.KeyValues(_ns.Ethtool("va"))["Link detected"]);
    }

    [Fact]
    public void A_veth_whose_peer_is_down_has_no_link()
    {
        NetnsFixture.Run("ip", "-n", _ns.Namespace, "link", "set", "vb", "down");
        Assert.False(_ns.InNamespace(() => _ethtool.GetLink("va")));
        Assert.Equal("no", NetnsFixture.KeyValues(_ns.Ethtool("va"))["Link detected"]);
    }

    [Fact]
    public void An_interface_that_does_not_exist_is_named_in_the_error()
    {
        var e = Assert.Throws<EthtoolException>(() => _ns.InNamespace(() => _ethtool.GetLink("nosuch0")));
        Assert.Equal(EthtoolErrorKind.NoSuchInterface, e.Kind);
        Assert.Equal("GLINK", e.Command);
    }

    /// <summary>
    /// What PID 1 relies on at boot: carrier turned on while the link was down leaves a non-urgent linkwatch event
    /// that the kernel runs at most once a second (net/core/link_watch.c); until then operstate lags (down, or unknown
    /// when the device registered with carrier). t1's
    /// carrier event starts that second, t0's carrier then waits in it; after IFF_UP (an ioctl: `ip link` would ask
    /// RTM_GETLINK, which syncs by itself), GLINK runs t0's event at once.
    /// </summary>
    [KernelAtLeastFact(6, 8, "ethtool_op_get_link syncs linkwatch since Linux 6.8 (commit facd15dfd691)")]
    public void Asking_for_the_link_state_brings_operstate_up_at_once()
    {
        NetnsFixture.Run("ip", "-n", _ns.Namespace, "tuntap", "add", "mode", "tap", "name", "t0");
        NetnsFixture.Run("ip", "-n", _ns.Namespace, "tuntap", "add", "mode", "tap", "name", "t1");

        _ns.InNamespace(() =>
        {
            _taps.Add(AttachTap("t1"));
            _taps.Add(AttachTap("t0")); // carrier on while t0 is down: a non-urgent linkwatch event
            SetUp("t0");
            return 0;
        });
        _output.WriteLine($"t0 operstate after IFF_UP, before GLINK: {Operstate("t0")} (not yet up unless the kernel's second had passed)");

        Assert.True(_ns.InNamespace(() => _ethtool.GetLink("t0")));
        Assert.Equal("up", Operstate("t0"));
    }

    /// <summary>sysfs operstate from a sysfs mounted in the namespace (reading it runs no linkwatch event).</summary>
    private string Operstate(string iface) => NetnsFixture.Run("ip", "netns", "exec", _ns.Namespace, "cat", $"/sys/class/net/{iface}/operstate").Trim();

    /// <summary>Opens a queue of a persistent tap (TUNSETIFF), which turns its carrier on; the calling thread's namespace.</summary>
    private static unsafe SafeFd AttachTap(string name)
    {
        var fd = SafeFd.Open("/dev/net/tun", OpenFlags.O_RDWR);
        byte* ifr = stackalloc byte[40];
        new Span<byte>(ifr, 40).Clear();
        Encoding.ASCII.GetBytes(name, new Span<byte>(ifr, 15));
        *(short*)(ifr + 16) = IFF_TAP | IFF_NO_PI;
        SyscallException.ThrowIfFailed(LibC.ioctl(fd.Fd, TUNSETIFF, ifr), "ioctl(TUNSETIFF)", name);
        return fd;
    }

    private static unsafe void SetUp(string name)
    {
        using var socket = new SafeFd(SyscallException.ThrowIfFailed(LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0), "socket", "AF_INET"));
        byte* ifr = stackalloc byte[40];
        new Span<byte>(ifr, 40).Clear();
        Encoding.ASCII.GetBytes(name, new Span<byte>(ifr, 15));
        SyscallException.ThrowIfFailed(LibC.ioctl(socket.Fd, SIOCGIFFLAGS, ifr), "ioctl(SIOCGIFFLAGS)", name);
        *(short*)(ifr + 16) |= IFF_UP;
        SyscallException.ThrowIfFailed(LibC.ioctl(socket.Fd, SIOCSIFFLAGS, ifr), "ioctl(SIOCSIFFLAGS)", name);
    }
}

/// <summary>A fact skipped on a host kernel older than the one whose behaviour it checks.</summary>
public sealed class KernelAtLeastFactAttribute : FactAttribute
{
    public KernelAtLeastFactAttribute(int major, int minor, string why)
    {
        var kernel = Environment.OSVersion.Version;
        if (!OperatingSystem.IsLinux() || kernel < new Version(major, minor))
        {
            Skip = $"host kernel {kernel} is older than {major}.{minor}: {why}";
        }
    }
}

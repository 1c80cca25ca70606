using Ppn.Linux;
using Ppn.Nic.Ethtool;

namespace Ppn.Nic.Tests;

/// <summary>Every errno a driver's ethtool op returns in practice maps to the kind callers act on, with advice in the message.</summary>
public class ErrnoMappingTests
{
    [Theory]
    [InlineData(Errno.EOPNOTSUPP, EthtoolErrorKind.NotSupported, "the driver does not do that (SEEE)")]
    [InlineData(Errno.EINVAL, EthtoolErrorKind.OutOfRange, "out of the driver's range")]
    [InlineData(Errno.ERANGE, EthtoolErrorKind.OutOfRange, "out of the driver's range")]
    [InlineData(Errno.EPERM, EthtoolErrorKind.PermissionDenied, "needs root/CAP_NET_ADMIN")]
    [InlineData(Errno.EACCES, EthtoolErrorKind.PermissionDenied, "needs root/CAP_NET_ADMIN")]
    [InlineData(Errno.ENODEV, EthtoolErrorKind.NoSuchInterface, "no such interface")]
    [InlineData(Errno.ENXIO, EthtoolErrorKind.NoSuchInterface, "no such interface")]
    [InlineData(Errno.EBUSY, EthtoolErrorKind.Busy, "retry")]
    [InlineData(Errno.EAGAIN, EthtoolErrorKind.Busy, "retry")]
    [InlineData(Errno.EIO, EthtoolErrorKind.Other, "unexpected driver error")]
    public void Errno_maps_to_a_kind_and_the_message_says_what_to_do(Errno errno, EthtoolErrorKind kind, string advice)
    {
        var e = new EthtoolException("SEEE", "eth0", (int)errno);
        Assert.Equal(kind, e.Kind);
        Assert.Equal(kind, EthtoolException.Classify((int)errno));
        Assert.Contains(advice, e.Message);
        Assert.StartsWith("ioctl(SIOCETHTOOL, SEEE)(eth0) failed: ", e.Message);
        Assert.Contains($"({ErrnoNames.Name((int)errno)})", e.Message);
        Assert.True(e.Is(errno));
        Assert.Equal("SEEE", e.Command);
        Assert.Equal("eth0", e.Interface);
    }

    [Fact]
    public void An_ethtool_failure_is_a_syscall_exception_so_generic_callers_still_see_the_errno()
    {
        IOException e = new EthtoolException("GDRVINFO", "eth9", (int)Errno.ENODEV);
        var syscall = Assert.IsAssignableFrom<SyscallException>(e);
        Assert.Equal((int)Errno.ENODEV, syscall.Errno);
    }
}

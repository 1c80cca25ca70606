using Ppn.Linux;
using Ppn.UefiVars.Efivarfs;

namespace Ppn.UefiVars.Tests;

public sealed class ErrnoMappingTests
{
    private static readonly VariableName Name = VariableName.Ppn("PpnIdentity");

    [Theory]
    [InlineData(Errno.ENOSPC, VariableErrorKind.NvramFull, "free NVRAM: delete unused variables")]
    [InlineData(Errno.EINVAL, VariableErrorKind.InvalidAttributes, "NV,BS,RT")]
    [InlineData(Errno.EPERM, VariableErrorKind.PermissionDenied, "chattr -i")]
    [InlineData(Errno.EACCES, VariableErrorKind.PermissionDenied, "run as root")]
    [InlineData(Errno.EROFS, VariableErrorKind.PermissionDenied, "remount,rw")]
    [InlineData(Errno.ENOENT, VariableErrorKind.NotFound, "does not exist")]
    [InlineData(Errno.EEXIST, VariableErrorKind.AlreadyExists, "already exists")]
    [InlineData(Errno.EOPNOTSUPP, VariableErrorKind.Unavailable, "efi=noruntime")]
    [InlineData(Errno.EIO, VariableErrorKind.Io, "device error")]
    [InlineData(Errno.ENOMEM, VariableErrorKind.Io, "retry")]
    public void Errno_maps_to_a_kind_and_a_message_that_says_what_where_and_what_to_do(Errno errno, VariableErrorKind kind, string advice)
    {
        var e = EfivarfsErrors.From(new SyscallException("write", "/x", (int)errno), "writing", Name, "/sys/firmware/efi/efivars",
            VariableAttributes.NonVolatileBootRuntime);
        Assert.Equal(kind, e.Kind);
        Assert.Contains("writing UEFI variable PpnIdentity-5d6b8a4e-9c1f-4f2a-8e57-3b0c2d9a7f11", e.Message);
        Assert.Contains("/sys/firmware/efi/efivars", e.Message);
        Assert.Contains(errno.ToString(), e.Message);
        Assert.Contains(advice, e.Message);
        Assert.IsType<SyscallException>(e.InnerException);
    }

    [Fact]
    public void Unknown_errno_is_Io()
        => Assert.Equal(VariableErrorKind.Io, EfivarfsErrors.KindOf(4242));

    [Theory]
    [InlineData(MountState.Missing, "does not exist")]
    [InlineData(MountState.NotEfivarfs, "is not an efivarfs mount")]
    public void Unavailable_says_how_to_mount(MountState state, string why)
    {
        var e = EfivarfsErrors.Unavailable("/sys/firmware/efi/efivars", state);
        Assert.Equal(VariableErrorKind.Unavailable, e.Kind);
        Assert.Contains(why, e.Message);
        Assert.Contains("mount -t efivarfs efivarfs /sys/firmware/efi/efivars", e.Message);
        Assert.Contains("booted via UEFI", e.Message);
    }
}

using System.Buffers.Binary;
using Ppn.Linux;
using Ppn.UefiVars.Efivarfs;
using Ppn.UefiVars.Testing;

namespace Ppn.UefiVars.Tests;

public sealed class EfivarfsStoreTests : IDisposable
{
    private const VariableAttributes Nbr = VariableAttributes.NonVolatileBootRuntime;
    private readonly TempDirEfivarfs nvram = new();
    private readonly VariableName id = VariableName.Ppn("PpnIdentity");

    public void Dispose() => nvram.Dispose();

    private static VariableStoreException Fails(VariableErrorKind kind, Action action)
    {
        var e = Assert.Throws<VariableStoreException>(action);
        Assert.Equal(kind, e.Kind);
        return e;
    }

    [Fact]
    public void File_holds_the_little_endian_attribute_prefix_then_the_value()
    {
        nvram.Write(id, Nbr, [1, 2, 3], WriteMode.Create);
        Assert.Equal(new byte[] { 7, 0, 0, 0, 1, 2, 3 }, nvram.ReadRaw(id));
        var file = Path.Combine(nvram.Root, "PpnIdentity-5d6b8a4e-9c1f-4f2a-8e57-3b0c2d9a7f11");
        Assert.True(File.Exists(file));
    }

    [Fact]
    public void Read_returns_attributes_and_value_without_the_prefix()
    {
        nvram.Seed(id, Nbr, [9, 8]);
        var v = nvram.TryRead(id)!;
        Assert.Equal(Nbr, v.Attributes);
        Assert.Equal(new byte[] { 9, 8 }, v.Data);
        Assert.Equal(id, v.Name);
    }

    [Fact]
    public void Absent_variable_reads_as_null()
        => Assert.Null(nvram.TryRead(id));

    [Fact]
    public void Uncommitted_zero_length_file_reads_as_null_and_is_not_listed()
    {
        File.WriteAllBytes(Path.Combine(nvram.Root, id.FileName), []);
        Assert.Null(nvram.TryRead(id));
        Assert.DoesNotContain(id, nvram.List());
    }

    [Fact]
    public void Create_over_an_uncommitted_file_succeeds()
    {
        File.WriteAllBytes(Path.Combine(nvram.Root, id.FileName), []);
        nvram.Write(id, Nbr, [5], WriteMode.Create);
        Assert.Equal(new byte[] { 5 }, nvram.TryRead(id)!.Data);
    }

    [Fact]
    public void File_shorter_than_the_prefix_is_corrupt()
    {
        File.WriteAllBytes(Path.Combine(nvram.Root, id.FileName), [7, 0]);
        var e = Fails(VariableErrorKind.Corrupt, () => nvram.TryRead(id));
        Assert.Contains(id.FileName, e.Message);
    }

    [Fact]
    public void Large_value_is_read_whole()
    {
        var big = new byte[20000];
        Random.Shared.NextBytes(big);
        nvram.Write(id, Nbr, big, WriteMode.Create);
        Assert.Equal(big, nvram.TryRead(id)!.Data);
    }

    [Fact]
    public void Create_fails_with_AlreadyExists_and_keeps_the_value()
    {
        nvram.Write(id, Nbr, [1], WriteMode.Create);
        Fails(VariableErrorKind.AlreadyExists, () => nvram.Write(id, Nbr, [2], WriteMode.Create));
        Assert.Equal(new byte[] { 1 }, nvram.TryRead(id)!.Data);
    }

    [Fact]
    public void Replace_stores_the_whole_new_value()
    {
        nvram.Write(id, Nbr, [1, 2, 3, 4], WriteMode.Create);
        nvram.Write(id, Nbr, [9], WriteMode.CreateOrReplace);
        Assert.Equal(new byte[] { 7, 0, 0, 0, 9 }, nvram.ReadRaw(id));
    }

    [Fact]
    public void Append_adds_to_the_end_and_does_not_store_the_append_bit()
    {
        nvram.Write(id, Nbr, [1], WriteMode.Create);
        nvram.Write(id, Nbr, [2, 3], WriteMode.Append);
        Assert.Equal(new byte[] { 7, 0, 0, 0, 1, 2, 3 }, nvram.ReadRaw(id));
    }

    [Fact]
    public void Append_of_nothing_changes_nothing_and_creates_nothing()
    {
        nvram.Write(id, Nbr, [], WriteMode.Append);
        Assert.Null(nvram.TryRead(id));
        Assert.Equal(0, nvram.Kernel.Calls(EfivarfsOperation.Write));
    }

    [Fact]
    public void Empty_value_is_refused_because_it_would_delete()
    {
        nvram.Write(id, Nbr, [1], WriteMode.Create);
        var e = Fails(VariableErrorKind.InvalidValue, () => nvram.Write(id, Nbr, [], WriteMode.CreateOrReplace));
        Assert.Contains("Delete", e.Message);
        Assert.NotNull(nvram.TryRead(id));
    }

    [Fact]
    public void Variable_from_an_earlier_boot_is_immutable_and_a_raw_write_is_refused()
    {
        nvram.Seed(id, Nbr, [1]);
        Assert.True(nvram.IsImmutable(id));
        var e = Assert.Throws<SyscallException>(() =>
            nvram.Kernel.Open(Path.Combine(nvram.Root, id.FileName), OpenFlags.O_WRONLY, 0));
        Assert.True(e.Is(Errno.EPERM));
        Assert.Throws<SyscallException>(() => nvram.Kernel.Unlink(Path.Combine(nvram.Root, id.FileName)));
    }

    [Fact]
    public void Rewrite_and_delete_clear_the_immutable_flag_and_writes_set_it_back()
    {
        nvram.Seed(id, Nbr, [1]);
        nvram.Write(id, Nbr, [2], WriteMode.CreateOrReplace);
        Assert.True(nvram.IsImmutable(id));
        Assert.Equal(new byte[] { 2 }, nvram.TryRead(id)!.Data);
        nvram.Delete(id);
        Assert.Null(nvram.TryRead(id));
    }

    [Fact]
    public void New_variable_is_immutable_right_after_creation()
    {
        nvram.Write(id, Nbr, [1], WriteMode.Create);
        Assert.True(nvram.IsImmutable(id));
    }

    [Fact]
    public void Well_known_global_variable_is_not_immutable()
    {
        var bootOrder = new VariableName("BootOrder", VariableName.EfiGlobal);
        nvram.Seed(bootOrder, Nbr, [0, 0]);
        Assert.False(nvram.IsImmutable(bootOrder));
    }

    [Fact]
    public void Immutable_flag_is_set_back_when_the_rewrite_fails()
    {
        nvram.Seed(id, Nbr, [1]);
        nvram.FailWrite(1, Errno.EIO);
        Fails(VariableErrorKind.Io, () => nvram.Write(id, Nbr, [2], WriteMode.CreateOrReplace));
        Assert.True(nvram.IsImmutable(id));
        Assert.Equal(new byte[] { 1 }, nvram.TryRead(id)!.Data);
    }

    [Fact]
    public void Immutable_flag_is_set_back_when_the_delete_fails()
    {
        nvram.Seed(id, Nbr, [1]);
        nvram.InjectFault(EfivarfsOperation.Unlink, 1, Errno.EIO);
        Fails(VariableErrorKind.Io, () => nvram.Delete(id));
        Assert.True(nvram.IsImmutable(id));
        Assert.NotNull(nvram.TryRead(id));
    }

    [Fact]
    public void Without_CAP_LINUX_IMMUTABLE_a_rewrite_is_PermissionDenied_with_advice()
    {
        nvram.Seed(id, Nbr, [1]);
        nvram.Kernel.Privileged = false;
        var e = Fails(VariableErrorKind.PermissionDenied, () => nvram.Write(id, Nbr, [2], WriteMode.CreateOrReplace));
        Assert.Contains("root", e.Message);
        Assert.Contains(id.FileName, e.Message);
        Fails(VariableErrorKind.PermissionDenied, () => nvram.Delete(id));
        Assert.Equal(new byte[] { 1 }, nvram.TryRead(id)!.Data);
    }

    [Fact]
    public void Read_only_mount_is_PermissionDenied()
    {
        nvram.Kernel.ReadOnlyMount = true;
        var e = Fails(VariableErrorKind.PermissionDenied, () => nvram.Write(id, Nbr, [2], WriteMode.Create));
        Assert.Contains("remount", e.Message);
    }

    [Fact]
    public void Reboot_makes_variables_immutable_again_and_drops_uncommitted_files()
    {
        nvram.Write(id, Nbr, [1], WriteMode.Create);
        var store = nvram.Store;
        nvram.Kernel.InjectFault(EfivarfsOperation.SetFlags, 2, Errno.EIO); // 1st clears, 2nd (the restore) fails
        var warnings = new List<string>();
        var logging = nvram.OpenStore(warnings.Add);
        logging.Write(id, Nbr, [2], WriteMode.CreateOrReplace);
        Assert.Contains("could not set the immutable flag", Assert.Single(warnings));
        Assert.False(store.IsImmutable(id));
        var uncommitted = Path.Combine(nvram.Root, VariableName.Ppn("Half").FileName);
        File.WriteAllBytes(uncommitted, []);
        nvram.Reboot();
        Assert.True(store.IsImmutable(id));
        Assert.False(File.Exists(uncommitted));
        Assert.Equal(new byte[] { 2 }, store.TryRead(id)!.Data);
    }

    [Fact]
    public void Secret_variable_is_created_0600_and_public_one_0644()
    {
        var key = VariableName.Ppn("PpnKey");
        nvram.Write(key, Nbr, [1], WriteMode.Create, secret: true);
        nvram.Write(id, Nbr, [1], WriteMode.Create);
        Assert.Equal(EfivarfsStore.SecretMode, nvram.GetFileMode(key));
        Assert.Equal(EfivarfsStore.PublicMode, nvram.GetFileMode(id));
    }

    [Fact]
    public void After_reboot_a_secret_is_0644_until_restricted_again()
    {
        var key = VariableName.Ppn("PpnKey");
        nvram.Write(key, Nbr, [1], WriteMode.Create, secret: true);
        nvram.Reboot();
        Assert.Equal(EfivarfsStore.PublicMode, nvram.GetFileMode(key));
        nvram.RestrictToOwner(key);
        Assert.Equal(EfivarfsStore.SecretMode, nvram.GetFileMode(key));
        Assert.True(nvram.IsImmutable(key));
        nvram.Write(key, Nbr, [2], WriteMode.CreateOrReplace, secret: true);
        Assert.Equal(EfivarfsStore.SecretMode, nvram.GetFileMode(key));
    }

    [Fact]
    public void Full_nvram_is_NvramFull_and_keeps_the_old_value()
    {
        nvram.CapacityBytes = 300;
        nvram.Write(id, Nbr, new byte[100], WriteMode.Create);
        var e = Fails(VariableErrorKind.NvramFull, () => nvram.Write(id, Nbr, new byte[300], WriteMode.CreateOrReplace));
        Assert.Contains("free NVRAM: delete unused variables", e.Message);
        Assert.Equal(100, nvram.TryRead(id)!.Data.Length);
    }

    [Fact]
    public void Failed_create_leaves_no_file_behind()
    {
        nvram.CapacityBytes = 100;
        Fails(VariableErrorKind.NvramFull, () => nvram.Write(id, Nbr, new byte[300], WriteMode.Create));
        Assert.Null(nvram.ReadRaw(id));
        Assert.Empty(nvram.List());
        nvram.CapacityBytes = 10_000;
        nvram.Write(id, Nbr, new byte[300], WriteMode.Create);
    }

    [Fact]
    public void Used_bytes_count_header_name_and_value()
    {
        nvram.Write(id, Nbr, new byte[10], WriteMode.Create);
        Assert.Equal(EmulatedEfivarfsKernel.VariableHeaderBytes + ("PpnIdentity".Length + 1) * 2 + 10, nvram.UsedBytes);
    }

    [Theory]
    [InlineData(VariableAttributes.NonVolatile | VariableAttributes.RuntimeAccess)]
    [InlineData(VariableAttributes.NonVolatile | VariableAttributes.BootServiceAccess)]
    [InlineData(VariableAttributes.BootServiceAccess | VariableAttributes.RuntimeAccess)]
    [InlineData(VariableAttributes.None)]
    [InlineData(VariableAttributes.NonVolatileBootRuntime | VariableAttributes.AuthenticatedWriteAccess)]
    public void Attributes_the_firmware_refuses_are_InvalidAttributes_and_leave_nothing(VariableAttributes attributes)
    {
        var e = Fails(VariableErrorKind.InvalidAttributes, () => nvram.Write(id, attributes, [1], WriteMode.Create));
        Assert.Contains("NV,BS,RT", e.Message);
        Assert.Null(nvram.ReadRaw(id));
    }

    [Fact]
    public void Attribute_bits_outside_the_kernel_mask_never_reach_the_kernel()
    {
        Fails(VariableErrorKind.InvalidAttributes, () => nvram.Write(id, (VariableAttributes)0x80 | Nbr, [1], WriteMode.Create));
        Assert.Equal(0, nvram.Kernel.Calls(EfivarfsOperation.Open));
    }

    [Fact]
    public void Append_bit_in_the_attributes_is_refused_in_favour_of_WriteMode_Append()
        => Fails(VariableErrorKind.InvalidAttributes, () => nvram.Write(id, Nbr | VariableAttributes.AppendWrite, [1], WriteMode.CreateOrReplace));

    [Fact]
    public void Existing_variable_keeps_its_attributes()
    {
        nvram.Write(id, Nbr, [1], WriteMode.Create);
        Fails(VariableErrorKind.InvalidAttributes, () =>
            nvram.Write(id, VariableAttributes.NonVolatile | VariableAttributes.BootServiceAccess, [2], WriteMode.CreateOrReplace));
        Assert.Equal(new byte[] { 1 }, nvram.TryRead(id)!.Data);
    }

    [Fact]
    public void Variable_over_the_maximum_size_is_InvalidAttributes()
    {
        nvram.Kernel.MaxVariableSize = 200;
        Fails(VariableErrorKind.InvalidAttributes, () => nvram.Write(id, Nbr, new byte[200], WriteMode.Create));
    }

    [Fact]
    public void Nth_write_fault_fails_exactly_that_write_and_stores_nothing()
    {
        nvram.FailWrite(2, Errno.EIO);
        nvram.Write(VariableName.Ppn("First"), Nbr, [1], WriteMode.Create);
        var e = Fails(VariableErrorKind.Io, () => nvram.Write(VariableName.Ppn("Second"), Nbr, [2], WriteMode.Create));
        Assert.IsType<SyscallException>(e.InnerException);
        nvram.Write(VariableName.Ppn("Third"), Nbr, [3], WriteMode.Create);
        Assert.Equal(new[] { "First", "Third" }, nvram.List().Select(n => n.Name));
    }

    [Theory]
    [InlineData(Errno.ENOSPC, VariableErrorKind.NvramFull)]
    [InlineData(Errno.EINVAL, VariableErrorKind.InvalidAttributes)]
    [InlineData(Errno.EPERM, VariableErrorKind.PermissionDenied)]
    [InlineData(Errno.EACCES, VariableErrorKind.PermissionDenied)]
    [InlineData(Errno.EIO, VariableErrorKind.Io)]
    public void Injected_write_errno_maps_to_its_kind(Errno errno, VariableErrorKind kind)
    {
        nvram.Seed(id, Nbr, [1]);
        nvram.FailWrite(1, errno);
        Fails(kind, () => nvram.Write(id, Nbr, [2], WriteMode.CreateOrReplace));
        Assert.Equal(new byte[] { 1 }, nvram.TryRead(id)!.Data);
    }

    [Fact]
    public void Delete_of_a_missing_variable_is_NotFound()
    {
        var e = Fails(VariableErrorKind.NotFound, () => nvram.Delete(id));
        Assert.Contains(id.FileName, e.Message);
    }

    [Fact]
    public void List_is_sorted_by_vendor_then_name_and_skips_foreign_files()
    {
        var other = new Guid("00000000-0000-0000-0000-000000000001");
        nvram.Seed(VariableName.Ppn("b"), Nbr, [1]);
        nvram.Seed(VariableName.Ppn("a"), Nbr, [1]);
        nvram.Seed(new VariableName("z", other), Nbr, [1]);
        File.WriteAllBytes(Path.Combine(nvram.Root, "not-a-variable"), [1, 2, 3, 4]);
        Assert.Equal(new[] { "z", "a", "b" }, nvram.List().Select(n => n.Name));
    }

    [Fact]
    public void Missing_root_is_Unavailable_with_mount_advice()
    {
        var store = new EfivarfsStore(Path.Combine(nvram.Root, "nope"), nvram.Kernel);
        foreach (var action in new Action[]
                 {
                     () => store.List(), () => store.TryRead(id), () => store.Delete(id),
                     () => store.Write(id, Nbr, [1], WriteMode.Create),
                 })
        {
            var e = Fails(VariableErrorKind.Unavailable, action);
            Assert.Contains("mount -t efivarfs efivarfs", e.Message);
            Assert.Contains("UEFI", e.Message);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    [InlineData("spa ce")]
    [InlineData("caf\u00e9")]
    public void Name_efivarfs_cannot_store_is_InvalidName(string name)
        => Fails(VariableErrorKind.InvalidName, () => nvram.Write(VariableName.Ppn(name), Nbr, [1], WriteMode.Create));

    [Fact]
    public void Second_store_instance_sees_the_same_variables()
    {
        nvram.Write(id, Nbr, [4], WriteMode.Create);
        var other = nvram.OpenStore();
        other.Write(id, Nbr, [5], WriteMode.CreateOrReplace);
        Assert.Equal(new byte[] { 5 }, nvram.TryRead(id)!.Data);
    }

    [Fact]
    public void Raw_prefix_decodes_as_little_endian()
    {
        nvram.Write(id, Nbr, [1], WriteMode.Create);
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32LittleEndian(nvram.ReadRaw(id)));
    }
}

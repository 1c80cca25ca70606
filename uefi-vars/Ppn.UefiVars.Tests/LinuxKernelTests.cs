using Ppn.UefiVars.Efivarfs;

namespace Ppn.UefiVars.Tests;

/// <summary>The real syscalls where they can run on a build host: statfs on directories that are not efivarfs.</summary>
public sealed class LinuxKernelTests
{
    [Fact]
    public void Missing_root_probes_as_Missing_and_the_store_is_Unavailable()
    {
        var root = Path.Combine(Path.GetTempPath(), $"ppn-no-efivarfs-{Guid.NewGuid():N}");
        Assert.Equal(MountState.Missing, LinuxEfivarfsKernel.Instance.Probe(root));
        var e = Assert.Throws<VariableStoreException>(() => new EfivarfsStore(root).List());
        Assert.Equal(VariableErrorKind.Unavailable, e.Kind);
    }

    [Fact]
    public void Plain_directory_is_not_efivarfs_and_the_store_refuses_to_write_there()
    {
        var root = Directory.CreateTempSubdirectory("ppn-not-efivarfs-").FullName;
        try
        {
            Assert.Equal(MountState.NotEfivarfs, LinuxEfivarfsKernel.Instance.Probe(root));
            var store = new EfivarfsStore(root);
            var e = Assert.Throws<VariableStoreException>(() => store.List());
            Assert.Equal(VariableErrorKind.Unavailable, e.Kind);
            Assert.Contains("is not an efivarfs mount", e.Message);
            e = Assert.Throws<VariableStoreException>(() => store.TryRead(VariableName.Ppn("Absent")));
            Assert.Equal(VariableErrorKind.Unavailable, e.Kind);
            e = Assert.Throws<VariableStoreException>(() => store.Write(VariableName.Ppn("New"), VariableAttributes.NonVolatileBootRuntime, [1], WriteMode.Create));
            Assert.Equal(VariableErrorKind.Unavailable, e.Kind);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Real_syscalls_read_write_and_flag_a_plain_file()
    {
        // The I/O half of LinuxEfivarfsKernel works on any file system; immutability needs efivarfs or ext4.
        var root = Directory.CreateTempSubdirectory("ppn-syscalls-").FullName;
        try
        {
            var path = Path.Combine(root, VariableName.Ppn("X").FileName);
            var kernel = LinuxEfivarfsKernel.Instance;
            using (var file = kernel.Open(path, Linux.OpenFlags.O_WRONLY | Linux.OpenFlags.O_CREAT | Linux.OpenFlags.O_EXCL, 0x180))
            {
                file.Write([7, 0, 0, 0, 42]);
            }
            using (var file = kernel.Open(path, Linux.OpenFlags.O_RDONLY, 0))
            {
                var buffer = new byte[16];
                Assert.Equal(5, file.Read(buffer));
                file.Chmod(0x1a4);
            }
            Assert.Equal(EfivarfsStore.PublicMode, new EfivarfsStore(root).GetFileMode(VariableName.Ppn("X")));
            Assert.Single(kernel.ReadDirectory(root), e => e.Size == 5);
            kernel.Unlink(path);
            Assert.False(File.Exists(path));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}

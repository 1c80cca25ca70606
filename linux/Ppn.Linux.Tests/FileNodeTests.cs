using Ppn.Linux;
using Ppn.Linux.Interop;

namespace Ppn.Linux.Tests;

public sealed class FileNodeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-filenode-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Statx_tells_regular_files_directories_devices_and_missing_paths_apart()
    {
        var file = Path.Combine(_dir, "f");
        File.WriteAllBytes(file, new byte[1234]);
        Assert.Equal(new FileNode(FileNodeKind.Regular, 1234, 0, 0), FileNode.Stat(file));
        Assert.Equal(FileNodeKind.Directory, FileNode.Stat(_dir).Kind);
        Assert.Equal(new FileNode(FileNodeKind.CharacterDevice, 0, 1, 3), FileNode.Stat("/dev/null")); // mem 1:3 (devices.txt)
        Assert.Equal(FileNodeKind.Missing, FileNode.Stat(Path.Combine(_dir, "none")).Kind);
        Assert.Equal(FileNodeKind.Missing, FileNode.Stat(Path.Combine(file, "below-a-file")).Kind); // ENOTDIR
    }

    [Fact]
    public void Symlinks_are_followed_by_stat_and_resolved_by_realpath()
    {
        var file = Path.Combine(_dir, "target");
        File.WriteAllBytes(file, [1]);
        var link = Path.Combine(_dir, "link");
        File.CreateSymbolicLink(link, "target");
        var chain = Path.Combine(_dir, "chain");
        File.CreateSymbolicLink(chain, link);
        Assert.Equal(FileNodeKind.Regular, FileNode.Stat(chain).Kind);
        Assert.Equal(FileNode.RealPath(file), FileNode.RealPath(chain));
        Assert.Null(FileNode.RealPath(Path.Combine(_dir, "none")));
    }

    [Fact]
    public void The_statx_offsets_match_the_kernel_header()
    {
        // include/uapi/linux/stat.h: struct statx is 0x100 bytes; stx_mode after mask, blksize, attributes,
        // nlink, uid, gid (4+4+8+4+4+4 = 28); stx_size after mode, pad, ino (28+2+2+8 = 40); the device
        // numbers after four 16-byte timestamps and the attributes mask (40+8+8+8+64 = 128).
        Assert.Equal(256, LibC.StatxSize);
        Assert.Equal(28, LibC.StatxModeOffset);
        Assert.Equal(40, LibC.StatxSizeOffset);
        Assert.Equal(128, LibC.StatxRdevMajorOffset);
        Assert.Equal(132, LibC.StatxRdevMinorOffset);
        var header = File.ReadAllText("/usr/include/linux/stat.h");
        Assert.Matches(@"__u16\s+stx_mode;", header);
        Assert.Matches(@"__u32\s+stx_rdev_major;", header);
    }

    [Fact]
    public void The_private_file_rule_refuses_group_or_other_access_and_non_files()
    {
        var key = Path.Combine(_dir, "key");
        File.WriteAllText(key, "x");
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Null(PrivateFile.WhyNotPrivate(key, "holds it"));
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        Assert.Contains("(mode 0604)", PrivateFile.WhyNotPrivate(key, "holds it"));
        Assert.Contains("is a directory", PrivateFile.WhyNotPrivate(_dir, "holds it"));
        Assert.Null(PrivateFile.WhyNotPrivate(Path.Combine(_dir, "none"), "holds it"));
    }

    [Fact]
    public void File_errors_never_show_the_runtime_text()
    {
        Assert.Equal("/x: permission denied", FileErrors.Describe(new UnauthorizedAccessException("UnauthorizedAccess_IODenied_Path, /x"), "/x"));
        Assert.Equal("/x: No space left on device (ENOSPC)", FileErrors.Describe(new IOException("IO_DiskFull_Path_AllocateSize, /x", 28), "/x"));
        Assert.Equal("/x: no such file", FileErrors.Describe(new FileNotFoundException("IO_FileNotFound_FileName, /x"), "/x"));
    }
}

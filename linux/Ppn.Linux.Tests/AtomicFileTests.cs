namespace Ppn.Linux.Tests;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-atomicfile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_replace_writes_the_whole_file_with_its_mode_and_leaves_no_temporary_beside_it()
    {
        var path = Path.Combine(_dir, "sub", "state");
        AtomicFile.Replace(path, "first"u8, AtomicFile.OwnerOnly);
        Assert.Equal("first"u8.ToArray(), File.ReadAllBytes(path));
        Assert.Equal(AtomicFile.OwnerOnly, File.GetUnixFileMode(path));
        AtomicFile.Replace(path, "second, longer"u8, AtomicFile.Public);
        Assert.Equal("second, longer"u8.ToArray(), File.ReadAllBytes(path));
        Assert.Equal(AtomicFile.Public, File.GetUnixFileMode(path));
        Assert.Equal(["state"], Directory.GetFiles(Path.Combine(_dir, "sub")).Select(Path.GetFileName));
    }

    [Fact]
    public void A_temporary_a_cut_save_left_is_never_read_as_the_file_and_is_replaced()
    {
        var path = Path.Combine(_dir, "state");
        File.WriteAllBytes(path, "old"u8.ToArray());
        File.WriteAllBytes(AtomicFile.TemporaryOf(path), "half a new on"u8.ToArray());
        AtomicFile.Replace(path, "new"u8, AtomicFile.Public);
        Assert.Equal("new"u8.ToArray(), File.ReadAllBytes(path));
        Assert.False(File.Exists(AtomicFile.TemporaryOf(path)));
    }

    [Fact]
    public void A_replace_that_fails_leaves_the_old_file_and_no_temporary()
    {
        // A directory where the file should go: the rename fails after the temporary was written whole.
        var path = Path.Combine(_dir, "taken");
        Directory.CreateDirectory(path);
        File.WriteAllBytes(Path.Combine(path, "inside"), [1]);
        Assert.ThrowsAny<IOException>(() => AtomicFile.Replace(path, "new"u8, AtomicFile.Public));
        Assert.True(Directory.Exists(path));
        Assert.False(File.Exists(AtomicFile.TemporaryOf(path)));
    }
}

namespace Ppn.Linux.Tests;

public class SyscallExceptionTests
{
    [Fact]
    public void Opening_a_missing_file_names_the_call_the_path_and_the_errno()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ppn-missing-{Guid.NewGuid():N}");
        var ex = Assert.Throws<SyscallException>(() => SafeFd.Open(path, OpenFlags.O_RDONLY, advice: "create it first"));
        Assert.True(ex.Is(Errno.ENOENT));
        Assert.Contains($"open({path})", ex.Message);
        Assert.Contains("(ENOENT)", ex.Message);
        Assert.EndsWith("create it first", ex.Message);
    }

    [Fact]
    public void Unknown_errno_values_are_named_by_number()
    {
        Assert.Equal("errno 4242", ErrnoNames.Name(4242));
        Assert.Equal("ENOSPC", ErrnoNames.Name(28));
    }
}

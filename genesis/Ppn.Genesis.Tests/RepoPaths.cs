namespace Ppn.Genesis.Tests;

internal static class RepoPaths
{
    /// <summary>The repository root: the directory holding ppn.slnx.</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ppn.slnx"))) return dir.FullName;
        }
        throw new DirectoryNotFoundException("no ppn.slnx above the test binaries");
    }
}

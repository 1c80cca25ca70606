namespace Ppn.TestSupport;

/// <summary>The checkout the tests were built from: the directory holding ppn.slnx above the test binaries.</summary>
public static class Repository
{
    private static readonly Lazy<string> s_root = new(Find);

    public static string Root => s_root.Value;

    /// <summary>A path inside the repository, e.g. <c>docs/protocol/vectors/commands.json</c>.</summary>
    public static string PathOf(string relative) => Path.Combine(Root, relative);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ppn.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException($"no ppn.slnx above the test binaries in {AppContext.BaseDirectory}");
    }
}

using System.Runtime.CompilerServices;

namespace Ppn.ImageBuilder.Tests;

/// <summary>Golden files under golden/; PPN_UPDATE_GOLDEN=1 rewrites them (review the diff like code).</summary>
public static class Golden
{
    public static void MatchBytes(string name, byte[] actual, [CallerFilePath] string callerFile = "")
    {
        var path = Path.Combine(Path.GetDirectoryName(SourceFile(callerFile))!, "golden", name);
        if (Environment.GetEnvironmentVariable("PPN_UPDATE_GOLDEN") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, actual);
            return;
        }
        Assert.True(File.Exists(path), $"no golden file {path}; run the tests once with PPN_UPDATE_GOLDEN=1 and review it");
        var expected = File.ReadAllBytes(path);
        int at = 0;
        while (at < expected.Length && at < actual.Length && expected[at] == actual[at]) at++;
        Assert.True(at == expected.Length && at == actual.Length,
            $"bytes differ from {path} at offset {at} (expected {expected.Length} bytes, got {actual.Length}); if intended, rerun with PPN_UPDATE_GOLDEN=1");
    }

    public static void MatchText(string name, string actual, [CallerFilePath] string callerFile = "")
    {
        var path = Path.Combine(Path.GetDirectoryName(SourceFile(callerFile))!, "golden", name + ".txt");
        if (Environment.GetEnvironmentVariable("PPN_UPDATE_GOLDEN") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual);
            return;
        }
        Assert.True(File.Exists(path), $"no golden file {path}; run the tests once with PPN_UPDATE_GOLDEN=1 and review it");
        Assert.Equal(File.ReadAllText(path), actual);
    }

    /// <summary>
    /// The caller's source file on disk. CI builds are deterministic (ContinuousIntegrationBuild), which maps
    /// source paths to "/_/"; map them back to the repository root (the directory holding ppn.slnx).
    /// </summary>
    private static string SourceFile(string callerFile)
    {
        if (!callerFile.StartsWith("/_/", StringComparison.Ordinal))
        {
            return callerFile;
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ppn.slnx")))
            {
                return Path.Combine(dir.FullName, callerFile[3..]);
            }
        }
        throw new DirectoryNotFoundException($"cannot map {callerFile} to a file: no ppn.slnx above {AppContext.BaseDirectory}");
    }
}

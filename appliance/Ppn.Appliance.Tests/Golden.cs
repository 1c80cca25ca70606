using System.Runtime.CompilerServices;

namespace Ppn.Appliance.Tests;

/// <summary>
/// Golden-file assertions for CLI output: the expected text lives in golden/NAME.txt beside the tests.
/// Run with PPN_UPDATE_GOLDEN=1 to (re)write the files, then review the diff like code.
/// </summary>
public static class Golden
{
    public static void Match(string name, string actual, [CallerFilePath] string callerFile = "")
    {
        var path = Path.Combine(Path.GetDirectoryName(SourceFile(callerFile))!, "golden", name + ".txt");
        actual = actual.Replace("\r\n", "\n");
        if (Environment.GetEnvironmentVariable("PPN_UPDATE_GOLDEN") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual);
            return;
        }
        Assert.True(File.Exists(path), $"no golden file {path}; run the tests once with PPN_UPDATE_GOLDEN=1 and review it");
        var expected = File.ReadAllText(path).Replace("\r\n", "\n");
        if (expected != actual)
        {
            var e = expected.Split('\n');
            var a = actual.Split('\n');
            int line = 0;
            while (line < e.Length && line < a.Length && e[line] == a[line])
            {
                line++;
            }
            Assert.Fail($"""
                output differs from {path} at line {line + 1}:
                  expected: {(line < e.Length ? e[line] : "<end>")}
                  actual:   {(line < a.Length ? a[line] : "<end>")}
                If the change is intended, rerun with PPN_UPDATE_GOLDEN=1 and review the diff.
                """);
        }
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

using System.Runtime.CompilerServices;

namespace Ppn.TestSupport;

/// <summary>
/// Golden-file assertions: the expected output lives in <c>golden/</c> beside the calling test's source file.
/// Run with PPN_UPDATE_GOLDEN=1 to (re)write the files, then review the diff like code.
/// </summary>
public static class Golden
{
    private const string UpdateVariable = "PPN_UPDATE_GOLDEN";

    /// <summary>Text output against <c>golden/NAME.txt</c> (line endings folded); a mismatch names the first differing line.</summary>
    public static void Match(string name, string actual, [CallerFilePath] string callerFile = "")
    {
        var path = PathFor(name + ".txt", callerFile);
        actual = actual.Replace("\r\n", "\n");
        if (Update(path, () => File.WriteAllText(path, actual)))
        {
            return;
        }
        var expected = File.ReadAllText(path).Replace("\r\n", "\n");
        if (expected == actual)
        {
            return;
        }
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
            If the change is intended, rerun with {UpdateVariable}=1 and review the diff.
            """);
    }

    /// <summary>Bytes against <c>golden/NAME</c>; a mismatch names the first differing offset.</summary>
    public static void MatchBytes(string name, byte[] actual, [CallerFilePath] string callerFile = "")
    {
        var path = PathFor(name, callerFile);
        if (Update(path, () => File.WriteAllBytes(path, actual)))
        {
            return;
        }
        var expected = File.ReadAllBytes(path);
        int at = 0;
        while (at < expected.Length && at < actual.Length && expected[at] == actual[at])
        {
            at++;
        }
        Assert.True(at == expected.Length && at == actual.Length,
            $"bytes differ from {path} at offset {at} (expected {expected.Length} bytes, got {actual.Length}); if intended, rerun with {UpdateVariable}=1");
    }

    private static string PathFor(string file, string callerFile) =>
        Path.Combine(Path.GetDirectoryName(SourceFile(callerFile))!, "golden", file);

    private static bool Update(string path, Action write)
    {
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            write();
            return true;
        }
        Assert.True(File.Exists(path), $"no golden file {path}; run the tests once with {UpdateVariable}=1 and review it");
        return false;
    }

    /// <summary>
    /// The caller's source file on disk. Builds are deterministic (ContinuousIntegrationBuild), which maps source
    /// paths to "/_/"; map them back to the repository root (the directory holding ppn.slnx).
    /// </summary>
    private static string SourceFile(string callerFile)
    {
        if (!callerFile.StartsWith("/_/", StringComparison.Ordinal))
        {
            return callerFile;
        }
        return Path.Combine(Repository.Root, callerFile[3..]);
    }
}

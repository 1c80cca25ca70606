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
        var path = Path.Combine(Path.GetDirectoryName(callerFile)!, "golden", name + ".txt");
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
}

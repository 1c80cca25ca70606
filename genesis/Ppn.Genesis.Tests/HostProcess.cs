using System.Diagnostics;

namespace Ppn.Genesis.Tests;

/// <summary>Runs a host tool (ip, wg) for a test, bounded to 30 s; its stdout.</summary>
internal static class HostProcess
{
    public static string Run(string file, string args, bool check = true)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)), $"{file} {args} hung");
        if (check) Assert.True(p.ExitCode == 0, $"{file} {args}: {error.Result}");
        return output.Result;
    }
}

using System.Diagnostics;

namespace Ppn.TestSupport;

/// <summary>What a host tool printed and how it ended.</summary>
public sealed record HostProcessResult(int ExitCode, string StandardOutput, string StandardError);

/// <summary>
/// Runs a host tool (ip, wg, ethtool, losetup …) for a test: argv passed as a list (no shell), stdin closed, every
/// run bounded (default 30 s; a hung tool is killed with its children and named in the failure).
/// </summary>
public static class HostProcess
{
    public static readonly TimeSpan DefaultBound = TimeSpan.FromSeconds(30);

    /// <summary>Runs and returns stdout; a non-zero exit throws, naming the command and its stderr.</summary>
    public static string Run(string file, params string[] arguments) => Run(file, arguments, check: true).StandardOutput;

    /// <summary><c>ip netns exec NS FILE ARGS</c>, or plain FILE ARGS when <paramref name="ns"/> is null; stdout.</summary>
    public static string RunIn(string? ns, string file, params string[] arguments) =>
        ns is null ? Run(file, arguments) : Run("ip", ["netns", "exec", ns, file, .. arguments]);

    public static HostProcessResult Run(string file, IEnumerable<string> arguments, bool check, TimeSpan? bound = null, string? input = null)
    {
        var argv = arguments.ToArray();
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var argument in argv)
        {
            psi.ArgumentList.Add(argument);
        }
        var limit = bound ?? DefaultBound;
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        if (input is not null)
        {
            process.StandardInput.Write(input);
        }
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(TimeSpan.FromSeconds(5));
            throw new TimeoutException($"{Describe(file, argv)} did not finish within {limit.TotalSeconds:0} s");
        }
        process.WaitForExit();
        var result = new HostProcessResult(process.ExitCode, stdout.Result, stderr.Result);
        if (check && result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Describe(file, argv)} exited {result.ExitCode}: {result.StandardError.Trim()}{result.StandardOutput.Trim()}");
        }
        return result;
    }

    /// <summary>True when <paramref name="tool"/> is an executable on PATH (or an absolute path that exists).</summary>
    public static bool IsInstalled(string tool)
    {
        if (tool.Contains('/'))
        {
            return File.Exists(tool);
        }
        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin";
        return path.Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/sbin").Append("/sbin")
            .Any(dir => File.Exists(Path.Combine(dir, tool)));
    }

    private static string Describe(string file, string[] argv) => argv.Length == 0 ? file : $"{file} {string.Join(' ', argv)}";
}

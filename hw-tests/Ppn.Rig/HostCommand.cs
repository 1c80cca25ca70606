using System.Diagnostics;
using System.Text;

namespace Ppn.Rig;

/// <summary>A host tool (ip, qemu) the rig ran that did not succeed; the message has the command line and stderr.</summary>
public sealed class RigCommandException(string message) : Exception(message);

/// <summary>What a finished host command printed.</summary>
public sealed record CommandResult(int ExitCode, string StandardOutput, string StandardError);

/// <summary>Runs host tools with an argument vector (no shell) and a bounded wait.</summary>
public static class HostCommand
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public static CommandResult Run(string file, IEnumerable<string> arguments, TimeSpan? timeout = null, bool check = true)
    {
        var args = arguments.ToArray();
        var shown = Describe(file, args);
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info) ?? throw new RigCommandException($"could not start `{shown}`");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var budget = timeout ?? DefaultTimeout;
        if (!process.WaitForExit(budget))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(TimeSpan.FromSeconds(5));
            throw new RigCommandException($"`{shown}` did not finish within {BoundedWait.Format(budget)} and was killed");
        }
        process.WaitForExit(); // drains the redirected streams (bounded: the process has exited)
        var result = new CommandResult(process.ExitCode, stdout.Result, stderr.Result);
        if (check && result.ExitCode != 0)
        {
            throw new RigCommandException(
                $"`{shown}` failed with exit code {result.ExitCode}: {result.StandardError.Trim()}");
        }
        return result;
    }

    public static CommandResult Run(string file, params string[] arguments) => Run(file, arguments, null, true);

    /// <summary>
    /// Ends a child process the rig started (SIGKILL if still running, then a bounded wait for it to be reaped) and
    /// releases it; one that exited meanwhile is not an error. For Dispose paths: never throws for an ended process.
    /// </summary>
    public static void Stop(System.Diagnostics.Process process, TimeSpan? reap = null)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(reap ?? TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }
        finally
        {
            process.Dispose();
        }
    }

    public static string Describe(string file, IEnumerable<string> args)
    {
        var text = new StringBuilder(file);
        foreach (var a in args)
        {
            text.Append(' ');
            text.Append(a.Contains(' ', StringComparison.Ordinal) || a.Length == 0 ? $"'{a}'" : a);
        }
        return text.ToString();
    }
}

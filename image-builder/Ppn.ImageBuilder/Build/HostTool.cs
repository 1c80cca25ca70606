using System.Diagnostics;

namespace Ppn.ImageBuilder.Build;

/// <summary>
/// Runs a build-host tool (zstd, mkfs.vfat, mtools, sbsign) with a fixed environment: C locale, UTC, the
/// build's SOURCE_DATE_EPOCH, so the tool's output depends on its inputs only. Failures name the tool,
/// its exit code and stderr, and the Debian package to install when it is missing.
/// </summary>
public static class HostTool
{
    public static readonly IReadOnlyDictionary<string, string> Packages = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["zstd"] = "zstd",
        ["mkfs.vfat"] = "dosfstools",
        ["mmd"] = "mtools",
        ["mcopy"] = "mtools",
        ["mdir"] = "mtools",
        ["osslsigncode"] = "osslsigncode",
        ["sbsign"] = "sbsigntool",
        ["sbverify"] = "sbsigntool",
        ["sbattach"] = "sbsigntool",
    };

    public static byte[] Run(string tool, IEnumerable<string> args, long sourceDateEpoch = 0, byte[]? stdin = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(tool)
        {
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        info.Environment["LC_ALL"] = "C";
        info.Environment["TZ"] = "UTC";
        info.Environment["SOURCE_DATE_EPOCH"] = sourceDateEpoch.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["MTOOLS_SKIP_CHECK"] = "1";
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            var package = Packages.TryGetValue(tool, out var p) ? p : tool;
            throw new FileNotFoundException($"{tool} is not installed; apt-get install {package} (scripts/install-deps.sh does)");
        }
        using (process)
        {
            var stderrTask = process.StandardError.ReadToEndAsync();
            using var output = new MemoryStream();
            var stdoutTask = process.StandardOutput.BaseStream.CopyToAsync(output);
            if (stdin is not null)
            {
                process.StandardInput.BaseStream.Write(stdin);
                process.StandardInput.Close();
            }
            var budget = timeout ?? TimeSpan.FromMinutes(5);
            if (!process.WaitForExit(budget))
            {
                process.Kill(entireProcessTree: true);
                throw new IOException($"{tool} did not finish within {budget.TotalSeconds:0} s");
            }
            stdoutTask.Wait(budget);
            var stderr = stderrTask.Result;
            if (process.ExitCode != 0)
            {
                throw new IOException($"{tool} {string.Join(' ', info.ArgumentList)} failed (exit {process.ExitCode}): {stderr.Trim()}");
            }
            return output.ToArray();
        }
    }

    /// <summary>`dotnet --version`: the SDK on this build host (global.json pins its band), for the manifest.</summary>
    public static string DotnetSdkVersion()
    {
        try
        {
            var text = System.Text.Encoding.UTF8.GetString(Run("dotnet", ["--version"], timeout: TimeSpan.FromSeconds(60))).Trim();
            return text.Length > 0 ? text : "unknown";
        }
        catch (Exception e) when (e is IOException or FileNotFoundException or System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }

    /// <summary>The installed Debian package version of a tool, for the manifest ("unknown" off Debian).</summary>
    public static string PackageVersion(string package)
    {
        try
        {
            var text = System.Text.Encoding.UTF8.GetString(Run("dpkg-query", ["-W", "-f=${Version}", package], timeout: TimeSpan.FromSeconds(30))).Trim();
            return text.Length > 0 ? text : "unknown";
        }
        catch (Exception e) when (e is IOException or FileNotFoundException)
        {
            return "unknown";
        }
    }
}

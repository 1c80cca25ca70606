namespace Ppn.Rig;

/// <summary>What the host offers the rig, and where the rig keeps its files.</summary>
public static class RigEnvironment
{
    public const string QemuBinary = "qemu-system-x86_64";
    public const string OvmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd";
    public const string OvmfVarsTemplate = "/usr/share/OVMF/OVMF_VARS_4M.fd";

    public static bool IsRoot => Environment.UserName == "root" || GetEuid() == 0;

    /// <summary>Full path of qemu-system-x86_64 on PATH, or null.</summary>
    public static string? QemuPath => FindOnPath(QemuBinary);

    public static bool HasFirmware => File.Exists(OvmfCode) && File.Exists(OvmfVarsTemplate);

    /// <summary>
    /// Null when an emulated node can run here, else the reason it cannot (for a test's skip reason or
    /// the CLI's error line).
    /// </summary>
    public static string? WhyEmulationUnavailable()
    {
        if (!IsRoot)
        {
            return "the rig needs root (network namespaces, taps); run as root";
        }
        if (QemuPath is null)
        {
            return $"{QemuBinary} is not on PATH; run scripts/install-deps.sh (package qemu-system-x86)";
        }
        if (!HasFirmware)
        {
            return $"OVMF firmware missing ({OvmfCode}, {OvmfVarsTemplate}); run scripts/install-deps.sh (package ovmf)";
        }
        return null;
    }

    /// <summary>Throws <see cref="Model.RigInfrastructureException"/> (which part is missing) when no emulated node can run here.</summary>
    public static void RequireEmulation()
    {
        if (WhyEmulationUnavailable() is not { } why)
        {
            return;
        }
        var fault = !IsRoot ? Model.RigFault.NotRoot : QemuPath is null ? Model.RigFault.EmulatorMissing : Model.RigFault.FirmwareMissing;
        throw new Model.RigInfrastructureException(fault, why);
    }

    /// <summary>The repository root: $PPN_REPO_ROOT (the Makefile exports it), else the nearest parent holding ppn.slnx.</summary>
    public static string RepoRoot
    {
        get
        {
            if (Environment.GetEnvironmentVariable("PPN_REPO_ROOT") is { Length: > 0 } fromEnv)
            {
                return fromEnv;
            }
            foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
            {
                for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                {
                    if (File.Exists(Path.Combine(dir.FullName, "ppn.slnx")))
                    {
                        return dir.FullName;
                    }
                }
            }
            return Environment.CurrentDirectory;
        }
    }

    /// <summary>Where run logs and NVRAM copies go: $PPN_RIG_WORK, else out/rig under the repo root.</summary>
    public static string WorkRoot =>
        Environment.GetEnvironmentVariable("PPN_RIG_WORK") is { Length: > 0 } w ? w : Path.Combine(RepoRoot, "out", "rig");

    /// <summary>True when the long scenarios should run (<c>make hil</c> sets PPN_HIL=full).</summary>
    public static bool FullHil =>
        string.Equals(Environment.GetEnvironmentVariable("PPN_HIL"), "full", StringComparison.OrdinalIgnoreCase);

    private static string? FindOnPath(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    private static uint GetEuid()
    {
        // /proc/self/status "Uid: real effective saved fs"
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                var parts = line[4..].Split('\t', ' ').Where(p => p.Length > 0).ToArray();
                return parts.Length > 1 && uint.TryParse(parts[1], out var euid) ? euid : uint.MaxValue;
            }
        }
        return uint.MaxValue;
    }
}

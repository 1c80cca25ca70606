namespace Ppn.TestSupport;

/// <summary>
/// Why a root-only test cannot run on this host (not root, or a host tool missing), or null when it can. The reason
/// names what is missing and where it comes from, so a skipped test says what to install.
/// </summary>
public static class RootOnly
{
    public static string? WhyNot(IReadOnlyCollection<string> tools)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            return "needs root (network namespaces, loop devices and raw sockets are root-only)";
        }
        var missing = tools.Where(t => !HostProcess.IsInstalled(t)).ToArray();
        return missing.Length == 0 ? null : $"needs {string.Join(", ", missing)} on PATH (scripts/install-deps.sh installs them)";
    }
}

/// <summary>A test that needs root and network namespaces (iproute2), plus any host tools named; skipped, saying why, elsewhere.</summary>
public sealed class NamespaceFactAttribute : FactAttribute
{
    public NamespaceFactAttribute(params string[] tools) => Skip = RootOnly.WhyNot(["ip", .. tools]);
}

/// <summary>The theory form of <see cref="NamespaceFactAttribute"/>.</summary>
public sealed class NamespaceTheoryAttribute : TheoryAttribute
{
    public NamespaceTheoryAttribute(params string[] tools) => Skip = RootOnly.WhyNot(["ip", .. tools]);
}

/// <summary>A test that needs root and the host tools named (e.g. losetup), nothing else; skipped, saying why, elsewhere.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute(params string[] tools) => Skip = RootOnly.WhyNot(tools);
}

using Ppn.Mesh.Testing;

namespace Ppn.Mesh.Tests;

/// <summary>
/// The shared namespace lab (Ppn.TestSupport) plus the mesh's own: wireguard-go daemons inside its namespaces,
/// stopped before the namespaces go. Underlay addresses live only inside these namespaces.
/// </summary>
public sealed class NamespaceLab : Ppn.TestSupport.NamespaceLab
{
    /// <summary>What every mesh namespace test needs on the host besides iproute2.</summary>
    public const string WireGuardGo = "wireguard-go", Wg = "wg", Ping = "ping";

    /// <summary>Starts `wireguard-go -f IFACE` inside the namespace and waits (bounded) for its UAPI socket.</summary>
    public void StartWireGuardGo(string ns, string iface) => Own(WireGuardGoDaemon.Start(ns, iface, TimeSpan.FromSeconds(10)));

    public static string Run(string file, params string[] args) => HostProcess.Run(file, args);

    public static string RunIn(string? ns, string file, params string[] args) => HostProcess.RunIn(ns, file, args);

    /// <summary>Runs <paramref name="file"/> with <paramref name="input"/> on its stdin; its stdout.</summary>
    public static string Pipe(string input, string file, params string[] args) => HostProcess.Run(file, args, check: true, input: input).StandardOutput;
}

using Ppn.Appliance.Init;
using Ppn.Mesh;
using Ppn.Mesh.Links;
using Ppn.Mesh.WireGuard;

namespace Ppn.Appliance;

/// <summary>
/// The relay role (the mesh's hub, 10.8.0.1): an image that carries /etc/ppn/relay.conf (wg-quick format,
/// `Forwarding = true`, one [Peer] per spoke, no endpoints: spokes' endpoints are learned from their handshakes)
/// brings ppn0 up from it instead of running genesis. The relay interprets no commands (design page: a transport
/// layer only). Its private key is in the image, so a relay image is a secret and is built for one relay.
/// </summary>
public sealed class RelayService(ILog log, string configPath = RelayService.ConfigPath) : IApplianceService
{
    public const string ConfigPath = "/etc/ppn/relay.conf";
    /// <summary>Re-converge now and then: a drifted interface is repaired (MeshBringUp changes nothing when it is right).</summary>
    public static readonly TimeSpan ConvergeInterval = TimeSpan.FromMinutes(1);

    public string Name => "relay";

    public void Run(CancellationToken stopping)
    {
        do
        {
            try
            {
                using var config = MeshConfigFile.Load(configPath);
                var links = new RtnetlinkLinkConfigurator();
                var report = new MeshBringUp(new KernelWireGuard(links), links).Up(EnrolledMesh.Interface, config);
                if (report.Changed)
                {
                    log.Write("relay", $"{EnrolledMesh.Interface} up as {config.Address} with {config.Peers.Count} peer(s), forwarding {(config.Forwarding ? "on" : "off")}: {report.Changes.Count} change(s)");
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.Write("relay", $"{configPath}: {e.Message}");
            }
        }
        while (!stopping.WaitHandle.WaitOne(ConvergeInterval));
    }
}

using Ppn.Appliance.Init;

namespace Ppn.Appliance;

/// <summary>Composes the node's long-running services from the libraries (no protocol logic here).</summary>
public static class NodeServices
{
    public static IReadOnlyList<IApplianceService> Create(ILog log, EarlyBootReport report)
    {
        return [];
    }
}

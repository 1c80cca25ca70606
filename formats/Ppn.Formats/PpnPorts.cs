namespace Ppn.Formats;

/// <summary>
/// The mesh's well-known ports, declared once (the design page and docs/protocol name them; every listener, client,
/// capture filter and test takes them from here).
/// </summary>
public static class PpnPorts
{
    /// <summary>UDP: authority commands to a node's mesh address, and the control plane's beacons on the LAN (docs/protocol/commands.md, genesis.md). A node never sends on it.</summary>
    public const int Commands = 8090;

    /// <summary>UDP: the signed beacon a node scans for at blind boot; the same number as <see cref="Commands"/>, by the design page.</summary>
    public const int Beacon = Commands;

    /// <summary>TCP: the unclaimed node's holding listener on its IPv6 link-local address (banner, claim).</summary>
    public const int Holding = 9443;

    /// <summary>UDP: the hub's WireGuard listen port (spokes' endpoint for ppn0).</summary>
    public const int WireGuard = 51820;

    /// <summary>TCP, inside ppn0 only: mesh sync, the authority-signed peer set (docs/protocol/sync.md).</summary>
    public const int Sync = 8091;

    /// <summary>TCP, on the mesh address only: telemetry, GET /metrics (docs/telemetry.md; node_exporter's port).</summary>
    public const int Metrics = 9100;
}

namespace Ppn.Appliance.Tests;

/// <summary>
/// The fixed keys the command-service tests share (authority X25519 pair, node X25519 pair), as in
/// docs/protocol/vectors/commands.json: one copy for the command service, telemetry and lifecycle tests.
/// </summary>
internal static class CommandTestKeys
{
    public static readonly byte[] AuthorityPrivate = Convert.FromHexString("a8abababababababababababababababababababababababababababababab6b");
    public static readonly byte[] AuthorityPublic = Convert.FromHexString("e3712d851a0e5d79b831c5e34ab22b41a198171de209b8b8faca23a11c624859");
    public static readonly byte[] NodePrivate = Convert.FromHexString("c8cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd4d");
    public static readonly byte[] NodePublic = Convert.FromHexString("b5bea823d9c9ff576091c54b7c596c0ae296884f0e150290e88455d7fba6126f");
}

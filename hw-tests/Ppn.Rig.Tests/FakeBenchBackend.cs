using Ppn.Rig.Emulation;
using Ppn.Rig.Model;

namespace Ppn.Rig.Tests;

/// <summary>A bench backend whose boards the test makes (fake power, fake console): no namespace, no hardware.</summary>
public sealed class FakeBenchBackend(Func<string, IRigNode> board) : INodeBackend
{
    public string Name => "bench:fake";

    public NodeAbilities Abilities => NodeAbilities.None;

    public int? Machines => 1;

    public Rig CreateRig(string name) => throw new NotSupportedException("the fake bench has no link; scenarios under test pass no rig");

    public IRigNode NewNode(Rig rig, string name, BootSource boot, NicModel nic) => board(name);
}

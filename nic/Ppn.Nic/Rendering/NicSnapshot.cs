using Ppn.Nic.Discovery;
using Ppn.Nic.Ethtool;
using Ppn.Nic.Tuning;

namespace Ppn.Nic.Rendering;

/// <summary>What `ppn nic show` reports for one NIC: identity, state, and the link (null when not reported).</summary>
public sealed record NicSnapshot(NicIdentity Nic, NicState State, LinkSettings? Link, byte[]? PermanentAddress)
{
    public static NicSnapshot Read(IEthtool ethtool, NicIdentity nic)
    {
        var state = NicState.Read(ethtool, nic.Name);
        var link = NicState.OptionalRef(() => ethtool.GetLinkSettings(nic.Name));
        var address = NicState.OptionalRef(() => ethtool.GetPermanentAddress(nic.Name));
        if (address is not null && address.All(b => b == 0))
        {
            address = null; // the driver never set one (veth, some virtual NICs); ethtool -P says "not set"
        }
        return new NicSnapshot(nic, state, link, address);
    }
}

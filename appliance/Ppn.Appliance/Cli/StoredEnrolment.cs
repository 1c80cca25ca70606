using Ppn.Genesis;
using Ppn.Formats;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Entropy;
using Ppn.Genesis.Identity;
using Ppn.Mesh;
using Ppn.UefiVars;

namespace Ppn.Appliance.Cli;

/// <summary>
/// The enrolment `ppn mesh status` shows: the PpnEnrolment variable, checked as the node checks it at boot
/// (bound to this node's key by a pinned authority key from the image's configuration).
/// </summary>
public sealed class StoredEnrolment(Func<IVariableStore> openStore, string configPath = NodeConfig.ImagePath) : IEnrolmentSource
{
    public string Describe()
    {
        try
        {
            var store = openStore();
            using var identity = new IdentityStore(store, EntropyMixer.ForThisMachine()).TryLoad();
            if (identity is null) return "not enrolled (no identity yet: the node has not run genesis)";
            if (!NodeConfig.TryLoad(configPath, out var config, out var errors))
            {
                return $"unknown (no pinned authority to check an enrolment against: {errors[0].Field} {errors[0].Problem})";
            }
            var trust = new AuthorityTrust(config.AuthorityBeaconKeysEd25519.Select(k => k.ToArray()), config.AuthorityNoiseKeysX25519.Select(k => k.ToArray()));
            var grant = new EnrolmentStore(store).TryLoad(identity.Keys.PublicKey, trust, out var origin, out var problem);
            if (grant is null)
            {
                return problem is null ? "not enrolled (holding for a claim or scanning for a beacon)" : $"not used: {problem}";
            }
            return $"node {grant.NodeId} at {grant.Address}/{EnrolmentGrant.PrefixLength} by {origin.ToString().ToLowerInvariant()}, hub {grant.HubEndpoint}, command-key epoch {grant.CommandKeyEpoch}, receipt verified";
        }
        catch (Exception e) when (e is VariableStoreException or IdentityException or IOException)
        {
            return $"unknown ({e.Message})";
        }
    }
}

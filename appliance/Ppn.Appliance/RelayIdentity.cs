using Ppn.Appliance.Init;
using Ppn.Genesis.Entropy;
using Ppn.Genesis.Identity;
using Ppn.Mesh.WireGuard;
using Ppn.UefiVars;

namespace Ppn.Appliance;

/// <summary>
/// The relay's WireGuard key is its own identity, made and kept exactly as a spoke's (Genesis step 1,
/// <see cref="IdentityStore"/>: hardware entropy on the first boot, written to the UEFI variable PpnIdentity and read
/// back before its public key is shown; restored on every later boot; a damaged record waits for a technician). No
/// relay image carries a key: the operator gives the authority the public key this logs (or `ppn identity show`).
/// </summary>
public sealed class RelayIdentity(IVariableStore? store, ILog log)
{
    /// <summary>The relay's key (the caller owns and disposes it). Throws <see cref="IdentityException"/>.</summary>
    public WireGuardPrivateKey Load()
    {
        if (store is null)
        {
            throw new IdentityException(IdentityErrorKind.StorageFailed,
                "this node has no UEFI variable storage (efivarfs) to keep the relay's own identity: boot it on UEFI firmware");
        }
        using var identity = new IdentityStore(store, EntropyMixer.ForThisMachine(), m => log.Write("relay", m)).LoadOrCreate();
        log.Write("relay", identity.Origin == IdentityOrigin.Created
            ? $"identity {identity.PublicKeyBase64} created from {identity.Sources}: give the authority this key as the hub's"
            : $"identity {identity.PublicKeyBase64} restored from {IdentityStore.Variable.FileName}");
        return new WireGuardPrivateKey(identity.Keys.PrivateKey);
    }
}

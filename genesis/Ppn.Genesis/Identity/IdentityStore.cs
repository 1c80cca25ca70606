using System.Security.Cryptography;
using Ppn.Genesis.Entropy;
using Ppn.UefiVars;
using Ppn.UefiVars.Efivarfs;

namespace Ppn.Genesis.Identity;

public enum IdentityOrigin
{
    /// <summary>Made on this boot (first boot, or after a deliberate reset).</summary>
    Created,
    /// <summary>Read back from UEFI variable storage.</summary>
    Restored,
}

public enum IdentityErrorKind
{
    /// <summary>The stored record is damaged or foreign: a technician must look before anything is replaced.</summary>
    Corrupt,
    /// <summary>The firmware refused or failed the write (NVRAM full, no efivarfs, EIO...).</summary>
    StorageFailed,
    /// <summary>The write returned success but reading it back gave other bytes.</summary>
    VerifyFailed,
}

public sealed class IdentityException : Exception
{
    public IdentityException(IdentityErrorKind kind, string message, Exception? inner = null) : base(message, inner) => Kind = kind;

    public IdentityErrorKind Kind { get; }
}

/// <summary>The node's identity, loaded or created. Dispose zeroes the private key.</summary>
public sealed class NodeIdentity : IDisposable
{
    internal NodeIdentity(NodeKeyPair keys, IdentityOrigin origin, EntropySources sources)
    {
        Keys = keys;
        Origin = origin;
        Sources = sources;
    }

    public NodeKeyPair Keys { get; }
    public IdentityOrigin Origin { get; }
    public EntropySources Sources { get; }
    public string PublicKeyBase64 => Keys.PublicKeyBase64;

    public void Dispose() => Keys.Dispose();
}

/// <summary>
/// First-boot identity (Genesis Protocol step 1) over UEFI variable storage. The rules, in order:
/// an existing record is restored, never replaced; a damaged one is an error that waits for a technician,
/// never a silent new identity; a new key is written (create-only), read back and compared byte for byte
/// BEFORE anyone may see its public key. A power cut before the write leaves no variable (nothing was
/// shown, the next boot starts afresh); SetVariable writes a variable whole or not at all.
/// </summary>
public sealed class IdentityStore
{
    public static readonly VariableName Variable = VariableName.Ppn("PpnIdentity");
    public const VariableAttributes Attributes = VariableAttributes.NonVolatileBootRuntime;

    private readonly IVariableStore _store;
    private readonly EntropyMixer _mixer;
    private readonly Action<string> _log;

    public IdentityStore(IVariableStore store, EntropyMixer mixer, Action<string>? log = null)
    {
        _store = store;
        _mixer = mixer;
        _log = log ?? (_ => { });
    }

    /// <summary>The stored identity, or null when there is none. Throws <see cref="IdentityException"/> (Corrupt).</summary>
    public NodeIdentity? TryLoad()
    {
        Variable? variable;
        try
        {
            variable = _store.TryRead(Variable);
        }
        catch (VariableStoreException e)
        {
            throw new IdentityException(e.Kind == VariableErrorKind.Corrupt ? IdentityErrorKind.Corrupt : IdentityErrorKind.StorageFailed,
                $"cannot read {Variable}: {e.Message}", e);
        }
        if (variable is null)
        {
            return null;
        }
        try
        {
            if ((variable.Attributes & VariableAttributes.NonVolatile) == 0)
            {
                throw new IdentityException(IdentityErrorKind.Corrupt,
                    $"{Variable} in {_store.Location} is not non-volatile (attributes {variable.Attributes}): it would vanish at power-off, so it is not this node's identity. " +
                    "Inspect it (`ppn uefi get PpnIdentity`), then `ppn identity reset --confirm`");
            }
            if (!IdentityRecord.TryParse(variable.Data, out var record, out var error))
            {
                throw new IdentityException(IdentityErrorKind.Corrupt,
                    $"{Variable} in {_store.Location}: {error}. The node will not invent a new identity over it: " +
                    "inspect it (`ppn identity show`), then reset deliberately (`ppn identity reset --confirm`) if it is beyond repair");
            }
            try
            {
                RestrictToOwner();
                return new NodeIdentity(NodeKeyPair.FromPrivateKey(record.PrivateKey), IdentityOrigin.Restored, record.Sources);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(record.PrivateKey);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(variable.Data);
        }
    }

    public NodeIdentity LoadOrCreate()
    {
        var existing = TryLoad();
        if (existing is not null)
        {
            return existing;
        }

        Span<byte> seed = stackalloc byte[EntropyMixer.SeedSize];
        var mixed = _mixer.Mix(seed);
        foreach (var problem in mixed.Problems)
        {
            _log($"entropy source not used: {problem}");
        }
        var keys = NodeKeyPair.FromSeed(seed);
        CryptographicOperations.ZeroMemory(seed);
        var buffer = GC.AllocateArray<byte>(IdentityRecord.Size, pinned: true);
        var privateCopy = keys.PrivateKey.ToArray();
        try
        {
            new IdentityRecord(IdentityRecord.CurrentVersion, mixed.Sources, privateCopy, keys.PublicKey).WriteTo(buffer);
            try
            {
                _store.Write(Variable, Attributes, buffer, WriteMode.Create, secret: true);
            }
            catch (VariableStoreException e) when (e.Kind == VariableErrorKind.AlreadyExists)
            {
                // Someone wrote it between our read and our write: theirs stands, ours is discarded.
                keys.Dispose();
                return TryLoad() ?? throw new IdentityException(IdentityErrorKind.StorageFailed, $"{Variable} appeared and vanished while genesis wrote it", e);
            }
            catch (VariableStoreException e)
            {
                keys.Dispose();
                throw new IdentityException(IdentityErrorKind.StorageFailed, $"could not store the new identity: {e.Message}", e);
            }

            ReadBack readBack;
            try
            {
                readBack = _store.ReadBack(Variable, buffer);
            }
            catch (VariableStoreException e)
            {
                keys.Dispose();
                throw new IdentityException(IdentityErrorKind.VerifyFailed, $"{Variable} was written but could not be read back: {e.Message}", e);
            }
            if (readBack != ReadBack.Same)
            {
                keys.Dispose();
                throw new IdentityException(IdentityErrorKind.VerifyFailed,
                    $"{Variable} read back {readBack.Describe()}: this firmware's variable storage is not reliable; the node holds without an identity");
            }
            RestrictToOwner();
            return new NodeIdentity(keys, IdentityOrigin.Created, mixed.Sources);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
            CryptographicOperations.ZeroMemory(privateCopy);
        }
    }

    /// <summary>Deletes the stored identity: the next genesis makes a new one. Only on a technician's explicit order.</summary>
    public bool Reset()
    {
        if (_store.TryRead(Variable) is not { } v)
        {
            return false;
        }
        CryptographicOperations.ZeroMemory(v.Data);
        _store.Delete(Variable);
        return true;
    }

    // efivarfs shows every variable as 0644 after each mount; the identity holds a private key.
    private void RestrictToOwner()
    {
        if (_store is EfivarfsStore efivarfs)
        {
            try
            {
                efivarfs.RestrictToOwner(Variable);
            }
            catch (VariableStoreException e)
            {
                _log($"could not restrict {Variable} to mode 0600: {e.Message}");
            }
        }
    }
}

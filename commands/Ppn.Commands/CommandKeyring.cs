using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Geralt;

namespace Ppn.Commands;

/// <summary>
/// The per-node command keys for all 16 epochs (docs/protocol/commands.md §Keys):
/// shared = X25519(own private, peer public);
/// key(e) = BLAKE2b-256(key = shared, message = "ppn-command-key-v1" || e || authority_pk || node_pk).
/// Both sides derive the same keys: the node from (node private, authority public), the authority from
/// (authority private, node public). Keys live in one pinned buffer, and each key's tag state
/// (<see cref="CommandTagState"/>, as secret as the key) in another; both are zeroed on <see cref="Dispose"/>.
/// </summary>
public sealed class CommandKeyring : IDisposable
{
    public const int KeySize = 32;
    public const int PublicKeySize = 32;
    public const int PrivateKeySize = 32;
    public const int EpochCount = 16;
    /// <summary>The tag is the first 8 bytes of a 32-byte BLAKE2b output (the output length is a hash parameter).</summary>
    public const int HashSize = 32;
    public static ReadOnlySpan<byte> Label => "ppn-command-key-v1"u8;

    private readonly byte[] _keys = GC.AllocateArray<byte>(EpochCount * KeySize, pinned: true);
    private readonly ulong[]? _tagStates; // the node side only: the authority seals and never verifies
    private volatile bool _disposed; // closed: by Dispose, or by Retire without zeroing
    private bool _zeroed;

    private CommandKeyring(bool verifies)
    {
        if (verifies) _tagStates = GC.AllocateArray<ulong>(EpochCount * CommandTagState.Words, pinned: true);
    }

    /// <summary>The node side: its own static X25519 private key and the authority's public key.</summary>
    public static CommandKeyring ForNode(ReadOnlySpan<byte> nodePrivateKey, ReadOnlySpan<byte> authorityPublicKey)
    {
        Span<byte> nodePublic = stackalloc byte[PublicKeySize];
        X25519.ComputePublicKey(nodePublic, nodePrivateKey);
        return Derive(nodePrivateKey, authorityPublicKey, authorityPublicKey, nodePublic, verifies: true);
    }

    /// <summary>The authority side: its static X25519 private key and the node's public key.</summary>
    public static CommandKeyring ForAuthority(ReadOnlySpan<byte> authorityPrivateKey, ReadOnlySpan<byte> nodePublicKey)
    {
        Span<byte> authorityPublic = stackalloc byte[PublicKeySize];
        X25519.ComputePublicKey(authorityPublic, authorityPrivateKey);
        return Derive(authorityPrivateKey, nodePublicKey, authorityPublic, nodePublicKey, verifies: false);
    }

    private static CommandKeyring Derive(ReadOnlySpan<byte> ownPrivate, ReadOnlySpan<byte> peerPublic,
        ReadOnlySpan<byte> authorityPublic, ReadOnlySpan<byte> nodePublic, bool verifies)
    {
        if (ownPrivate.Length != PrivateKeySize) throw new ArgumentException("X25519 private keys are 32 bytes", nameof(ownPrivate));
        if (peerPublic.Length != PublicKeySize) throw new ArgumentException("X25519 public keys are 32 bytes", nameof(peerPublic));
        var ring = new CommandKeyring(verifies);
        Span<byte> shared = stackalloc byte[X25519.SharedSecretSize];
        try
        {
            // Geralt rejects an all-zero shared secret (a low-order peer key: all zeros, or one of the few
            // small-subgroup points, RFC 7748 §6.1) with CryptographicException: that is bad input, not a fault.
            try
            {
                X25519.ComputeSharedSecret(shared, ownPrivate, peerPublic);
            }
            catch (CryptographicException e)
            {
                throw new ArgumentException("the peer's X25519 public key is a low-order point (all zeros or another small-subgroup key), not a real key", e);
            }
            for (byte e = 0; e < EpochCount; e++)
            {
                var key = ring._keys.AsSpan(e * KeySize, KeySize);
                DeriveCommandKey(key, shared, e, authorityPublic, nodePublic);
                if (ring._tagStates is { } states)
                {
                    var state = states.AsSpan(e * CommandTagState.Words, CommandTagState.Words);
                    CommandTagState.Precompute(state, key);
                    SelfTest(state, key, e);
                }
            }
            return ring;
        }
        catch
        {
            ring.Dispose();
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(shared);
        }
    }

    /// <summary>key(e) from an X25519 shared secret; exposed for the vectors and for other implementations' tests.</summary>
    public static void DeriveCommandKey(Span<byte> key, ReadOnlySpan<byte> sharedSecret, byte epoch,
        ReadOnlySpan<byte> authorityPublic, ReadOnlySpan<byte> nodePublic)
    {
        if (epoch >= EpochCount) throw new ArgumentOutOfRangeException(nameof(epoch));
        Span<byte> info = stackalloc byte[18 + 1 + PublicKeySize + PublicKeySize];
        Label.CopyTo(info);
        info[18] = epoch;
        authorityPublic.CopyTo(info[19..]);
        nodePublic.CopyTo(info[(19 + PublicKeySize)..]);
        BLAKE2b.ComputeTag(key[..KeySize], info, sharedSecret);
    }

    /// <summary>Whether this keyring checks tags (a node keyring); an authority keyring only seals.</summary>
    public bool Verifies => _tagStates is not null;

    /// <summary>
    /// A known-answer check of each key's tag state against libsodium when the keyring is made: the shipped binary's
    /// compression (Native AOT, size-optimised) is then proven on the node itself, not only by the tests' JIT build.
    /// A mismatch fails closed: no keyring, no command accepted.
    /// </summary>
    private static void SelfTest(ReadOnlySpan<ulong> state, ReadOnlySpan<byte> key, byte epoch)
    {
        Span<byte> header = stackalloc byte[CommandPacket.AuthenticatedSize];
        Span<byte> expected = stackalloc byte[CommandPacket.TagSize];
        bool same = true;
        foreach (byte fill in (ReadOnlySpan<byte>)[0x00, 0xA5, 0xFF])
        {
            header.Fill(fill);
            header[0] = (byte)(0x10 | epoch);
            ComputeTag(expected, header, key);
            // CommandTagState.Tag is never inlined, so this runs the very code the verifier calls.
            same &= CommandTagState.Tag(state, BinaryPrimitives.ReadUInt64LittleEndian(header)) == BinaryPrimitives.ReadUInt64LittleEndian(expected);
        }
        CryptographicOperations.ZeroMemory(expected);
        if (!same) throw new InvalidOperationException($"the command tag computed from the key's state disagrees with libsodium for epoch {epoch}: this build of ppn is broken; no command can be verified");
    }

    /// <summary>The 32-byte key for <paramref name="epoch"/> (0..15).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<byte> Key(int epoch)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)epoch >= EpochCount) ThrowEpoch(epoch);
        return _keys.AsSpan(epoch * KeySize, KeySize);
    }

    /// <summary>tag = first 8 bytes of BLAKE2b-256(key, header[0..8]), by libsodium through Geralt. Allocation-free.</summary>
    public static void ComputeTag(Span<byte> tag, ReadOnlySpan<byte> header, ReadOnlySpan<byte> key)
    {
        Span<byte> full = stackalloc byte[HashSize];
        BLAKE2b.ComputeTag(full, header[..CommandPacket.AuthenticatedSize], key);
        full[..CommandPacket.TagSize].CopyTo(tag);
        CryptographicOperations.ZeroMemory(full);
    }

    /// <summary>
    /// Whether bytes 8–15 of <paramref name="datagram"/> (16 bytes) are the tag of its bytes 0–7 under the key of
    /// <paramref name="epoch"/> (0..15). The 8090 hot path (<see cref="CommandVerifier"/>): one call per datagram the
    /// prefilter passes, one BLAKE2b compression from the key's state (<see cref="CommandTagState"/>). Constant time:
    /// the 8-byte tags are compared as one 64-bit XOR, no branch before the single result. A datagram that is not 16
    /// bytes long matches nothing. Only a node keyring (<see cref="ForNode"/>) verifies. The expected tag lives in a
    /// register for the compare and is not zeroed (there is no buffer to zero; the compression's working words are the
    /// same, see <see cref="CommandTagState"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TagMatches(ReadOnlySpan<byte> datagram, int epoch)
    {
        if (datagram.Length != CommandPacket.Size) return false;
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)epoch >= EpochCount) ThrowEpoch(epoch);
        if (_tagStates is null) ThrowNotVerifying();
        var state = _tagStates.AsSpan(epoch * CommandTagState.Words, CommandTagState.Words);
        ulong tag = CommandTagState.Tag(state, BinaryPrimitives.ReadUInt64LittleEndian(datagram));
        return (tag ^ BinaryPrimitives.ReadUInt64LittleEndian(datagram.Slice(CommandPacket.AuthenticatedSize, CommandPacket.TagSize))) == 0;
    }

    /// <summary>
    /// Whether bytes 8–15 of <paramref name="datagram"/> (16 bytes) are the tag of its bytes 0–7 under
    /// <paramref name="key"/>, computed by libsodium through Geralt (the reference the keyring's own <see cref="TagMatches(ReadOnlySpan{byte}, int)"/>
    /// is tested against). Constant time: the 8-byte tags are compared as one 64-bit XOR, no branch before the
    /// single result. The hash is made and compared in one buffer, then zeroed (its first 8 bytes are the valid tag
    /// for this header). Used by the packet decoder, which checks any key it is given. A datagram that is not 16 bytes
    /// long matches nothing.
    /// </summary>
    public static bool TagMatches(ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> key)
    {
        if (datagram.Length != CommandPacket.Size) return false;
        Span<byte> full = stackalloc byte[HashSize];
        BLAKE2b.ComputeTag(full, datagram[..CommandPacket.AuthenticatedSize], key);
        ulong difference = BinaryPrimitives.ReadUInt64LittleEndian(full) ^
            BinaryPrimitives.ReadUInt64LittleEndian(datagram.Slice(CommandPacket.AuthenticatedSize, CommandPacket.TagSize));
        CryptographicOperations.ZeroMemory(full);
        return difference == 0;
    }

    [DoesNotReturn]
    private static void ThrowEpoch(int epoch) => throw new ArgumentOutOfRangeException(nameof(epoch), epoch, $"command epochs are 0..{EpochCount - 1}");

    [DoesNotReturn]
    private static void ThrowNotVerifying() => throw new InvalidOperationException("an authority keyring seals and does not verify: use CommandKeyring.ForNode to check tags");

    /// <summary>The key buffer itself, for the tests of <see cref="Retire"/> and <see cref="Dispose"/>.</summary>
    internal ReadOnlyMemory<byte> KeyMemoryForTests() => _keys;

    /// <summary>
    /// Closes the keyring without zeroing it: every later <see cref="Key"/> or <see cref="TagMatches(ReadOnlySpan{byte}, int)"/>
    /// throws <see cref="ObjectDisposedException"/>. For a receive thread that outlived its join: it must neither go
    /// on accepting with live keys nor compute tags under zeroed ones (which anyone could forge); the keys stay in
    /// memory until the process ends.
    /// </summary>
    public void Retire() => _disposed = true;

    public void Dispose()
    {
        if (_zeroed) return;
        _zeroed = true;
        _disposed = true;
        CryptographicOperations.ZeroMemory(_keys);
        if (_tagStates is not null) CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(_tagStates.AsSpan()));
    }

}

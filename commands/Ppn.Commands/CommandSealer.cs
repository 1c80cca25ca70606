using System.Buffers.Binary;

namespace Ppn.Commands;

/// <summary>
/// The authority side: seals commands for ONE node (keys are per node, so an "all" or group command is sealed
/// once per recipient). Used by the tests, the hw-tests authority simulator and `ppn packet seal`.
/// </summary>
public sealed class CommandSealer : IDisposable
{
    private readonly CommandKeyring _keys;
    private readonly bool _ownsKeys;

    public CommandSealer(CommandKeyring authorityKeyring, bool ownsKeyring = false)
    {
        _keys = authorityKeyring;
        _ownsKeys = ownsKeyring;
    }

    /// <summary>A sealer for the node whose X25519 public key is <paramref name="nodePublicKey"/>.</summary>
    public static CommandSealer ForNode(ReadOnlySpan<byte> authorityPrivateKey, ReadOnlySpan<byte> nodePublicKey) =>
        new(CommandKeyring.ForAuthority(authorityPrivateKey, nodePublicKey), ownsKeyring: true);

    /// <summary>Writes the 16 sealed bytes into <paramref name="destination"/> and returns the packet.</summary>
    public CommandPacket Seal(byte epoch, CommandIntent intent, byte argument, TargetSelector target, uint counter, Span<byte> destination) =>
        Seal(_keys.Key(epoch), CommandPacket.CurrentVersion, epoch, (byte)intent, argument, target, counter, destination);

    /// <summary>Seals with an explicit command key and raw fields (vectors and negative tests need odd versions and intents).</summary>
    public static CommandPacket Seal(ReadOnlySpan<byte> commandKey, byte version, byte epoch, byte intentCode, byte argument,
        TargetSelector target, uint counter, Span<byte> destination)
    {
        var unsealed = new CommandPacket(version, epoch, intentCode, argument, target, counter, 0);
        unsealed.WriteHeader(destination);
        CommandKeyring.ComputeTag(destination.Slice(CommandPacket.AuthenticatedSize, CommandPacket.TagSize), destination, commandKey);
        return unsealed.WithTag(BinaryPrimitives.ReadUInt64BigEndian(destination[8..]));
    }

    public void Dispose()
    {
        if (_ownsKeys) _keys.Dispose();
    }
}

/// <summary>
/// The authority's counter for one (node, epoch), following the batch rule of docs/protocol/commands.md §Replay:
/// every batch starts at a fresh block boundary, so it is always above any floor the node may have persisted,
/// whether or not the node rebooted. Persist <see cref="Last"/> on the authority side before sending.
/// </summary>
public sealed class AuthorityCounter(uint last = 0)
{
    public uint Last { get; private set; } = last;

    /// <summary>The first counter of a new batch: 1 for the first batch of an epoch, else the next multiple of 256.</summary>
    public uint BeginBatch()
    {
        ulong next = Last == 0 ? 1 : ((ulong)(Last / CommandVerifier.BlockSize) + 1) * CommandVerifier.BlockSize;
        return Take(next);
    }

    /// <summary>The next counter inside the current batch.</summary>
    public uint Next() => Last == 0 ? BeginBatch() : Take((ulong)Last + 1);

    private uint Take(ulong next)
    {
        if (next > uint.MaxValue) throw new InvalidOperationException("counter space of this epoch is exhausted; rotate to the next epoch");
        Last = (uint)next;
        return Last;
    }
}

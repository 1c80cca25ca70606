using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using Ppn.UefiVars;

namespace Ppn.Genesis.Enrolment;

public enum EnrolmentOrigin : ushort
{
    Join = 1,
    Claim = 2,
}

/// <summary>
/// UEFI variable PpnEnrolment (docs/protocol/genesis.md §Enrolment record), like the identity record:
/// <code>
///   0   4  magic "PPNE"
///   4   2  version (LE) = 1
///   6   2  origin (LE): 1 join, 2 claim
///   8 180  the grant, receipt included
/// 188  32  checksum = BLAKE2b-256("PPN-ENROLMENT-RECORD-v1" || bytes 0..187)
/// </code>
/// </summary>
public static class EnrolmentRecord
{
    public const int Size = 220;
    public const ushort CurrentVersion = 1;
    public static ReadOnlySpan<byte> Magic => "PPNE"u8;
    private static ReadOnlySpan<byte> ChecksumDomain => "PPN-ENROLMENT-RECORD-v1"u8;

    public static byte[] Encode(EnrolmentGrant grant, EnrolmentOrigin origin)
    {
        var d = new byte[Size];
        Magic.CopyTo(d);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(4), CurrentVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(6), (ushort)origin);
        grant.WriteTo(d.AsSpan(8));
        Checksum(d.AsSpan(0, 188), d.AsSpan(188, 32));
        return d;
    }

    public static bool TryParse(ReadOnlySpan<byte> d, [NotNullWhen(true)] out EnrolmentGrant? grant, out EnrolmentOrigin origin, [NotNullWhen(false)] out string? error)
    {
        grant = null;
        origin = default;
        if (d.Length != Size) { error = $"enrolment record is {d.Length} bytes, expected {Size}"; return false; }
        if (!d[..4].SequenceEqual(Magic)) { error = "enrolment record has a bad magic (not PPNE)"; return false; }
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(d[4..]);
        if (version != CurrentVersion) { error = $"enrolment record version {version} is not supported"; return false; }
        Span<byte> expected = stackalloc byte[32];
        Checksum(d[..188], expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, d.Slice(188, 32))) { error = "enrolment record checksum mismatch: the stored bytes are damaged"; return false; }
        origin = (EnrolmentOrigin)BinaryPrimitives.ReadUInt16LittleEndian(d[6..]);
        if (origin is not (EnrolmentOrigin.Join or EnrolmentOrigin.Claim)) { error = $"enrolment record origin {(ushort)origin} is unknown"; return false; }
        if (!EnrolmentGrant.TryParse(d.Slice(8, EnrolmentGrant.Size), out grant, out error) || grant!.Status != GrantStatus.Granted)
        {
            error ??= "enrolment record holds a refusal";
            grant = null;
            return false;
        }
        return true;
    }

    private static void Checksum(ReadOnlySpan<byte> body, Span<byte> output)
    {
        using var h = new Geralt.IncrementalBLAKE2b(32);
        h.Update(ChecksumDomain);
        h.Update(body);
        h.Finalize(output);
    }
}

public sealed class EnrolmentException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Keeps the enrolment in UEFI variable storage. Save writes, reads back and compares before the caller
/// may use the grant; Load re-verifies the receipt against the pinned keys and the node's own key, so a
/// record from another node or another authority is never used.
/// </summary>
public sealed class EnrolmentStore
{
    public static readonly VariableName Variable = VariableName.Ppn("PpnEnrolment");
    public const VariableAttributes Attributes = VariableAttributes.NonVolatileBootRuntime;
    private readonly IVariableStore _store;
    // Concurrent claims (HoldingOptions.MaxConcurrentHandshakes) store in turn: a write and its read-back are one step.
    private readonly object _gate = new();

    public EnrolmentStore(IVariableStore store) => _store = store;

    public void Save(EnrolmentGrant grant, EnrolmentOrigin origin)
    {
        lock (_gate)
        {
            SaveAndReadBack(grant, origin);
        }
    }

    private void SaveAndReadBack(EnrolmentGrant grant, EnrolmentOrigin origin)
    {
        var bytes = EnrolmentRecord.Encode(grant, origin);
        try
        {
            _store.Write(Variable, Attributes, bytes, WriteMode.CreateOrReplace);
            if (_store.ReadBack(Variable, bytes) is var back and not ReadBack.Same)
            {
                throw new EnrolmentException($"{Variable} read back {back.Describe()}: the enrolment is not used");
            }
        }
        catch (VariableStoreException e)
        {
            throw new EnrolmentException($"could not store the enrolment in {_store.Location}: {e.Message}", e);
        }
    }

    /// <summary>The stored enrolment if it is intact, signed by a pinned key and bound to this node; else null with a reason.</summary>
    public EnrolmentGrant? TryLoad(ReadOnlySpan<byte> nodePublicKey, AuthorityTrust trust, out EnrolmentOrigin origin, out string? problem)
    {
        origin = default;
        problem = null;
        var v = _store.TryRead(Variable);
        if (v is null) return null;
        if (!EnrolmentRecord.TryParse(v.Data, out var grant, out origin, out problem)) return null;
        if (!grant.IsBoundTo(nodePublicKey, trust))
        {
            problem = "the stored enrolment is not bound to this node's key by a pinned authority";
            return null;
        }
        return grant;
    }

    public bool Delete()
    {
        if (_store.TryRead(Variable) is null) return false;
        _store.Delete(Variable);
        return true;
    }
}

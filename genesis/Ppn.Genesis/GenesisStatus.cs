using System.Globalization;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Entropy;
using Ppn.Genesis.Identity;
using Ppn.UefiVars;

namespace Ppn.Genesis;

/// <summary>Where a node is in the Genesis Protocol, as `ppn genesis status` reports it.</summary>
public enum GenesisState
{
    /// <summary>No usable enrolment and nothing holding on 9443 (not booted yet, between boot steps, or the scan is running).</summary>
    Unenrolled,
    /// <summary>Self-genesis: no usable enrolment, the holding listener is up on 9443 waiting for a claim.</summary>
    Holding,
    /// <summary>A stored enrolment that is intact, bound to this node's key and signed by a pinned authority.</summary>
    Enrolled,
}

public enum ReceiptCheck
{
    /// <summary>No enrolment record to check.</summary>
    None,
    /// <summary>The receipt verifies under a pinned authority key and binds this node's key.</summary>
    Verified,
    /// <summary>The record is damaged, or its receipt does not verify / is for another key: the node will not use it.</summary>
    Failed,
    /// <summary>No pinned authority is known (no readable node configuration), so the receipt could not be checked.</summary>
    Unchecked,
}

/// <summary>What the node's UEFI variables say about its genesis, checked as the boot path checks it.</summary>
public sealed record GenesisStatus(
    GenesisState State,
    string? PublicKeyBase64,
    string? IdentityProblem,
    bool EnrolmentPresent,
    EnrolmentOrigin? Origin,
    EnrolmentGrant? Grant,
    ReceiptCheck Receipt,
    string? EnrolmentProblem,
    bool HoldingListenerUp)
{
    /// <param name="trust">The pinned authority (from the node configuration), or null when none could be read.</param>
    /// <param name="holdingListenerUp">Whether something listens on the holding port (see <see cref="ProcNetTcp.IsListening"/>).</param>
    public static GenesisStatus Read(IVariableStore store, AuthorityTrust? trust, bool holdingListenerUp)
    {
        string? publicKey = null, identityProblem = null;
        try
        {
            using var identity = new IdentityStore(store, EntropyMixer.ForThisMachine()).TryLoad();
            publicKey = identity?.PublicKeyBase64;
        }
        catch (IdentityException e)
        {
            identityProblem = e.Message;
        }

        var raw = store.TryRead(EnrolmentStore.Variable);
        EnrolmentGrant? grant = null;
        EnrolmentOrigin? origin = null;
        var receipt = ReceiptCheck.None;
        string? enrolmentProblem = null;
        if (raw is not null)
        {
            if (!EnrolmentRecord.TryParse(raw.Data, out grant, out var o, out var error))
            {
                receipt = ReceiptCheck.Failed;
                enrolmentProblem = error;
            }
            else
            {
                origin = o;
                if (trust is null)
                {
                    receipt = ReceiptCheck.Unchecked;
                }
                else if (publicKey is null)
                {
                    receipt = ReceiptCheck.Failed;
                    enrolmentProblem = "there is no usable identity to check the binding against";
                }
                else if (grant.IsBoundTo(Convert.FromBase64String(publicKey), trust))
                {
                    receipt = ReceiptCheck.Verified;
                }
                else
                {
                    receipt = ReceiptCheck.Failed;
                    enrolmentProblem = "the receipt is not a pinned authority's signature over this node's key (another node's or another authority's record)";
                }
            }
        }
        var state = receipt == ReceiptCheck.Verified ? GenesisState.Enrolled : holdingListenerUp ? GenesisState.Holding : GenesisState.Unenrolled;
        return new GenesisStatus(state, publicKey, identityProblem, raw is not null, origin, grant, receipt, enrolmentProblem, holdingListenerUp);
    }
}

/// <summary>/proc/net/tcp6 (and tcp): is a socket in LISTEN on a local port?</summary>
public static class ProcNetTcp
{
    private const string Listen = "0A";

    public static bool IsListening(int port, params string[] paths)
    {
        foreach (var path in paths.Length == 0 ? ["/proc/net/tcp6", "/proc/net/tcp"] : paths)
        {
            if (File.Exists(path) && IsListeningIn(File.ReadAllText(path), port)) return true;
        }
        return false;
    }

    /// <summary>Lines: "sl local_address rem_address st ..." with local_address "HEXADDR:HEXPORT".</summary>
    public static bool IsListeningIn(string text, int port)
    {
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 4 || f[3] != Listen) continue;
            int colon = f[1].LastIndexOf(':');
            if (colon > 0 && int.TryParse(f[1].AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int p) && p == port) return true;
        }
        return false;
    }
}

using Ppn.Genesis.Beacon;
using Ppn.Genesis.Entropy;
using Ppn.Genesis.Holding;
using Ppn.Genesis.Identity;
using Ppn.UefiVars;

namespace Ppn.Genesis;

public enum GenesisPhase
{
    Starting,
    Holding,
    /// <summary>No usable identity (corrupt record, failed storage): holding with an error banner.</summary>
    HoldingWithoutIdentity,
}

/// <summary>Listens for an authority beacon for at most <c>window</c>; a verified beacon or null (nothing heard, or only rogue ones).</summary>
public interface IBeaconScanner
{
    VerifiedBeacon? Scan(TimeSpan window, CancellationToken cancellation);
}

/// <summary>For images without pinned authority keys: reports honestly that it heard nothing, so the node self-geneses.</summary>
public sealed class NoBeaconScanner : IBeaconScanner
{
    public VerifiedBeacon? Scan(TimeSpan window, CancellationToken cancellation) => null;
}

/// <summary>
/// The self-genesis path of the Genesis Protocol: identity (restore or create), no beacon → hold on
/// TCP 9443 on the link-local addresses until cancelled, re-binding when addresses change.
/// </summary>
public sealed class SelfGenesis
{
    private readonly IVariableStore _store;
    private readonly EntropyMixer _mixer;
    private readonly IInterfaceAddressSource _addresses;
    private readonly IBeaconScanner _scanner;
    private readonly HoldingOptions _options;
    private readonly Action<string> _log;

    public SelfGenesis(IVariableStore store, EntropyMixer mixer, IInterfaceAddressSource addresses, IBeaconScanner scanner, HoldingOptions options, Action<string> log)
    {
        _store = store;
        _mixer = mixer;
        _addresses = addresses;
        _scanner = scanner;
        _options = options;
        _log = log;
    }

    public GenesisPhase Phase { get; private set; } = GenesisPhase.Starting;
    public string? PublicKeyBase64 { get; private set; }
    public HoldingListener? Listener { get; private set; }

    public void Run(CancellationToken cancellation)
    {
        NodeIdentity? identity = null;
        string banner;
        try
        {
            identity = new IdentityStore(_store, _mixer, _log).LoadOrCreate();
            PublicKeyBase64 = identity.PublicKeyBase64;
            _log($"identity {identity.Origin.ToString().ToLowerInvariant()}: {identity.PublicKeyBase64} (entropy: {identity.Sources})");
            banner = GenesisBanner.Format(identity.PublicKeyBase64);
        }
        catch (IdentityException e)
        {
            _log($"no usable identity ({e.Kind}): {e.Message}");
            banner = GenesisBanner.FormatError(e.Kind == IdentityErrorKind.Corrupt ? "identity-corrupt" : "identity-storage-failed");
        }

        try
        {
            if (_scanner.Scan(TimeSpan.Zero, cancellation) is not null)
            {
                _log("beacon found, but the mesh-join handshake is not part of this build: holding instead");
            }
            Hold(banner, cancellation, identity is null ? GenesisPhase.HoldingWithoutIdentity : GenesisPhase.Holding);
        }
        finally
        {
            identity?.Dispose();
        }
    }

    private void Hold(string banner, CancellationToken cancellation, GenesisPhase phase)
    {
        while (!cancellation.IsCancellationRequested)
        {
            var addresses = ProcNetIfInet6.WaitForLinkLocal(_addresses, TimeSpan.FromSeconds(10));
            if (addresses.Count == 0)
            {
                _log("no usable IPv6 link-local address yet (links down or DAD pending); retrying");
                cancellation.WaitHandle.WaitOne(TimeSpan.FromSeconds(5));
                continue;
            }
            var endpoints = addresses.Select(a => a.EndPoint(_options.Port)).ToList();
            using var listener = HoldingListener.Start(endpoints, () => banner, _options, new NoClaimYet(), _log);
            Listener = listener;
            Phase = phase;
            foreach (var a in addresses)
            {
                _log($"holding on [{a.Address}%{a.InterfaceName}]:{_options.Port}");
            }
            // Re-check the addresses now and then: a link that comes up later gets its listener too.
            var bound = addresses.Select(a => (a.Address, a.InterfaceIndex)).ToHashSet();
            while (!cancellation.WaitHandle.WaitOne(TimeSpan.FromSeconds(30)))
            {
                var now = _addresses.Read().Where(a => a.IsUsable).Select(a => (a.Address, a.InterfaceIndex)).ToHashSet();
                if (!now.SetEquals(bound))
                {
                    _log("link-local addresses changed: re-binding the holding listener");
                    break;
                }
            }
            Listener = null;
        }
    }
}

using System.Runtime.InteropServices;
using Ppn.Genesis;
using Ppn.Genesis.Beacon;
using Ppn.Formats;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Entropy;
using Ppn.Genesis.Holding;
using Ppn.UefiVars.Efivarfs;
using Ppn.UefiVars.Testing;

// Usage: Ppn.Rig.GenesisNode --nvram DIR --config node.json [--announce-seconds N]
// Runs genesis as NodeServices does on a node (same library, same defaults except the enrolled banner), logging
// "ppn: genesis: ..." lines to stdout; on enrolment prints one "ppn: genesis: RESULT ..." line read back from the
// (emulated) UEFI variable and exits 0: at once, or after a claim once 9443 has answered with the enrolled banner
// for N seconds (default 0: no enrolled banner, so tests that wait for the exit need not wait 10 minutes).
// SIGTERM ends it (exit 3 before enrolment). Bad usage or config: exit 2.
string? nvram = null, configPath = null;
int announceSeconds = 0;
for (int i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--nvram": nvram = args[i + 1]; break;
        case "--config": configPath = args[i + 1]; break;
        case "--announce-seconds" when int.TryParse(args[i + 1], out announceSeconds) && announceSeconds >= 0: break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}
if (nvram is null || configPath is null)
{
    Console.Error.WriteLine("usage: Ppn.Rig.GenesisNode --nvram DIR --config node.json");
    return 2;
}

var gate = new object();
void Log(string message)
{
    lock (gate)
    {
        Console.Out.WriteLine($"ppn: genesis: {message}");
        Console.Out.Flush();
    }
}

if (!NodeConfig.TryLoad(configPath, out var config, out var errors))
{
    foreach (var e in errors) Console.Error.WriteLine($"{configPath}: {e}");
    return 2;
}
Directory.CreateDirectory(nvram);
var store = new EfivarfsStore(nvram, new EmulatedEfivarfsKernel(nvram));
var trust = new AuthorityTrust(config.AuthorityBeaconKeysEd25519.Select(k => k.ToArray()), config.AuthorityNoiseKeysX25519.Select(k => k.ToArray()));
var scanner = new PacketBeaconScanner(trust, config.BeaconPeriod, Log);
var plan = new GenesisPlan(trust, config.ScanWindow);

using var stop = new CancellationTokenSource();
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});

var holding = new HoldingOptions { EnrolledAnnouncement = TimeSpan.FromSeconds(announceSeconds) };
var genesis = new GenesisProtocol(store, EntropyMixer.ForThisMachine(), new ProcNetIfInet6(), scanner, holding, Log, plan);
genesis.Run(stop.Token);
if (genesis.Enrolment is null)
{
    Log("RESULT stopped without enrolment");
    return 3;
}
var stored = new EnrolmentStore(store).TryLoad(Convert.FromBase64String(genesis.PublicKeyBase64!), trust, out var origin, out var problem);
if (stored is null)
{
    Log($"RESULT enrolled but the stored record does not load: {problem}");
    return 1;
}
Log($"RESULT enrolled origin={origin.ToString().ToLowerInvariant()} node={stored.NodeId} address={stored.Address} key={genesis.PublicKeyBase64} beacons-rogue={scanner.Verifier.Rogue} join-attempts={genesis.JoinAttempts}");
if (genesis.Announcement is { } announcement)
{
    using (stop.Token.Register(announcement.Dispose))
    {
        announcement.Ended.Wait();
    }
}
return 0;

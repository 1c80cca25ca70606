using Ppn.Commands;

namespace Ppn.Appliance.Tests;

/// <summary>An <see cref="ICommandEffects"/> twin that counts health probes and reboots (the command service tests).</summary>
internal sealed class RecordingEffects : ICommandEffects
{
    private int _probes, _reboots;
    public int Probes => Volatile.Read(ref _probes);
    public int Reboots => Volatile.Read(ref _reboots);
    public void HealthProbe() => Interlocked.Increment(ref _probes);
    public void Identify(int seconds) { }
    public void Reboot() => Interlocked.Increment(ref _reboots);
    public void Poweroff() { }
    public void RetuneNic() { }
    public void RescanBeacon() { }
    public void GenesisReset() { }
}

namespace Ppn.Commands.Testing;

/// <summary>
/// The <see cref="ICommandEffects"/> twin that does nothing: for the bench, where <see cref="RecordingEffects"/>'
/// lock and growing call list would sit on the hot path being measured (every accepted noop is one effect).
/// </summary>
public sealed class DiscardingEffects : ICommandEffects
{
    public void HealthProbe() { }
    public void Identify(int seconds) { }
    public void Reboot() { }
    public void Poweroff() { }
    public void RetuneNic() { }
    public void RescanBeacon() { }
    public void GenesisReset() { }
}

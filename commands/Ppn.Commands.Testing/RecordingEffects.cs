namespace Ppn.Commands.Testing;

/// <summary>
/// The <see cref="ICommandEffects"/> twin: records every effect in order (<see cref="Calls"/>, named as the intents
/// are), counts them, and can hold each call (<see cref="BlockEach"/>) or refuse a reboot to test the executor.
/// </summary>
public sealed class RecordingEffects : ICommandEffects
{
    private readonly Lock _lock = new();
    private readonly List<string> _calls = [];
    private int _healthProbes, _reboots, _count;

    /// <summary>When set, every effect waits (at most 30 s) for it before it is recorded.</summary>
    public ManualResetEventSlim? BlockEach { get; set; }

    /// <summary>When true, <see cref="Reboot"/> throws (the reboot syscall refused).</summary>
    public bool ThrowOnReboot { get; set; }

    public IReadOnlyList<string> Calls
    {
        get
        {
            lock (_lock) return _calls.ToArray();
        }
    }

    public int HealthProbes => Volatile.Read(ref _healthProbes);
    public int Reboots => Volatile.Read(ref _reboots);

    /// <summary>Every effect of any kind.</summary>
    public int Count => Volatile.Read(ref _count);

    public void HealthProbe()
    {
        Interlocked.Increment(ref _healthProbes);
        Add("noop");
    }

    public void Identify(int seconds) => Add($"identify {seconds}");

    public void Reboot()
    {
        if (ThrowOnReboot) throw new IOException("reboot refused");
        Interlocked.Increment(ref _reboots);
        Add("reboot");
    }

    public void Poweroff() => Add("poweroff");
    public void RetuneNic() => Add("nic-retune");
    public void RescanBeacon() => Add("beacon-rescan");
    public void GenesisReset() => Add("genesis-reset");

    private void Add(string call)
    {
        BlockEach?.Wait(TimeSpan.FromSeconds(30));
        Interlocked.Increment(ref _count);
        lock (_lock) _calls.Add(call);
    }
}

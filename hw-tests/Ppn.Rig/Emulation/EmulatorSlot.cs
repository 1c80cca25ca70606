namespace Ppn.Rig.Emulation;

/// <summary>
/// One emulated node at a time on this machine (TCG on 2 shared cores): a lock file every rig process
/// takes while its VM runs, so test projects running in parallel queue instead of slowing each other's
/// boots past their deadlines. The kernel drops the lock when the holder dies.
/// </summary>
public sealed class EmulatorSlot : IDisposable
{
    public static readonly string LockPath = Path.Combine(Path.GetTempPath(), "ppn-rig-emulator.lock");
    public static readonly TimeSpan DefaultWait = TimeSpan.FromMinutes(15);

    private readonly FileStream _lock;

    private EmulatorSlot(FileStream held) => _lock = held;

    /// <summary>Takes the slot, waiting (bounded) while another rig holds it.</summary>
    public static EmulatorSlot Acquire(TimeSpan? wait = null)
    {
        FileStream? held = null;
        var budget = wait ?? DefaultWait;
        BoundedWait.Until(() =>
        {
            try
            {
                // FileShare.None is an exclusive flock(2) on Unix: free again when the holder closes or dies.
                held = new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                return true;
            }
            catch (IOException)
            {
                return false;
            }
        }, budget, $"the emulator slot ({LockPath}) held by another rig process", TimeSpan.FromMilliseconds(250));
        return new EmulatorSlot(held!);
    }

    public void Dispose() => _lock.Dispose();
}

namespace Ppn.Commands;

/// <summary>
/// What an accepted command does to the machine. The appliance implements it over syscalls
/// (reboot(2), ethtool ETHTOOL_PHYS_ID, ...); tests use a recording fake. Calls come from the executor thread,
/// one at a time, never from the receive thread.
/// </summary>
public interface ICommandEffects
{
    /// <summary>noop: a health probe; its only effect is the journal entry. Implementations may count it.</summary>
    void HealthProbe();
    /// <summary>Blink the NIC LED for <paramref name="seconds"/> (10..150); 0 stops a blink in progress.</summary>
    void Identify(int seconds);
    void Reboot();
    void Poweroff();
    void RetuneNic();
    void RescanBeacon();
    /// <summary>Erase the node identity and return to genesis; called only after a matching arm + confirm.</summary>
    void GenesisReset();
}

/// <summary>An accepted command as handed from the receive thread to the executor.</summary>
public readonly record struct AcceptedCommand(CommandPacket Packet, ulong Sequence, CommandSource Source, long ReceivedNanoseconds);

/// <summary>
/// Runs accepted commands in order and holds the genesis-reset arm/confirm state machine
/// (docs/protocol/commands.md §genesis-reset): the confirm must be the very next accepted command after the arm
/// (accepted-sequence + 1), carry the same 4-bit pairing code, and arrive within
/// <see cref="GenesisResetWindowNanoseconds"/> of the arm by the monotonic receive timestamps. Anything else disarms.
/// </summary>
public sealed class CommandDispatcher(ICommandEffects effects, CommandJournal journal)
{
    public const long GenesisResetWindowNanoseconds = 30L * 1_000_000_000;

    private bool _armed;
    private ulong _armSequence;
    private long _armNanoseconds;
    private byte _armCode;

    public bool IsArmed => _armed;

    public DispatchOutcome Dispatch(in AcceptedCommand command)
    {
        _failure = null;
        var outcome = Decide(command);
        var p = command.Packet;
        journal.Record(new CommandJournalEntry(command.ReceivedNanoseconds, CommandVerdict.Accepted, outcome,
            p.IntentCode, p.Argument, p.Target, p.Counter, p.Epoch, command.Source, _failure));
        return outcome;
    }

    // Why the last effect failed (an exception's message): carried into the journal, status.json and the console.
    private string? _failure;

    private DispatchOutcome Decide(in AcceptedCommand command)
    {
        var p = command.Packet;
        if (p.Intent == CommandIntent.GenesisResetArm)
        {
            _armed = true;
            _armSequence = command.Sequence;
            _armNanoseconds = command.ReceivedNanoseconds;
            _armCode = p.Argument;
            return DispatchOutcome.Armed;
        }
        if (p.Intent == CommandIntent.GenesisResetConfirm)
        {
            bool wasArmed = _armed;
            _armed = false;
            if (!wasArmed) return DispatchOutcome.ConfirmWithoutArm;
            if (command.Sequence != _armSequence + 1) return DispatchOutcome.ConfirmNotNext;
            if (command.ReceivedNanoseconds - _armNanoseconds > GenesisResetWindowNanoseconds) return DispatchOutcome.ConfirmExpired;
            if (p.Argument != _armCode) return DispatchOutcome.ConfirmMismatch;
            return Run(effects.GenesisReset);
        }

        _armed = false;
        return p.Intent switch
        {
            CommandIntent.Noop => Run(effects.HealthProbe),
            CommandIntent.Identify => Run(() => effects.Identify(CommandPacket.IdentifySeconds(p.Argument))),
            CommandIntent.Reboot => Run(effects.Reboot),
            CommandIntent.Poweroff => Run(effects.Poweroff),
            CommandIntent.NicRetune => Run(effects.RetuneNic),
            CommandIntent.BeaconRescan => Run(effects.RescanBeacon),
            _ => Failed($"no effect for intent code {p.IntentCode}"),
        };
    }

    private DispatchOutcome Failed(string reason)
    {
        _failure = reason;
        return DispatchOutcome.EffectFailed;
    }

    private DispatchOutcome Run(Action effect)
    {
        try
        {
            effect();
            return DispatchOutcome.Executed;
        }
        catch (Exception e)
        {
            // The journal records that it did not happen, and why.
            return Failed(e.Message.Length > 0 ? e.Message : e.GetType().Name);
        }
    }
}

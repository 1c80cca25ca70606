using Ppn.Appliance.Lifecycle;
using Ppn.Commands;
using Ppn.Genesis.Enrolment;
using Ppn.UefiVars;

namespace Ppn.Appliance.Commands;

/// <summary>The node's private X25519 key (its genesis identity), read when an intake starts and not kept.</summary>
public delegate ReadOnlySpan<byte> NodePrivateKeySource();

/// <summary>
/// The lifecycle's command intake: a <see cref="CommandService"/> per grant (bound to the grant's mesh address,
/// keyed for its node id), with fresh effects each time. <see cref="Current"/> is the service running now.
/// </summary>
public sealed class CommandServiceIntake(
    Func<EnrolmentGrant, CommandServiceSetup> setup,
    NodePrivateKeySource nodePrivateKey,
    Func<ICommandEffects> effects,
    Action<string> log) : ICommandIntake
{
    public CommandService? Current { get; private set; }

    public IRunningIntake Start(EnrolmentGrant grant)
    {
        var service = CommandService.Start(setup(grant), nodePrivateKey(), effects(), log);
        Current = service;
        return service;
    }
}

/// <summary>The replay rule (docs/protocol/commands.md §Enrolment and the replay state) over the UEFI-backed replay store.</summary>
public sealed class UefiCommandState(IVariableStore store) : ICommandState
{
    /// <summary>
    /// How the replay record was found when an enrolment in this run moved the epoch (missing or corrupt), else null.
    /// The rule leaves a valid record behind, so the listener's own load reads ok; this keeps the loss reportable
    /// (§Lost replay state: the authority learns the new epoch from the node's telemetry).
    /// </summary>
    public ReplayStateLoad? LossFoundAtEnrolment { get; private set; }

    public ReplayEnrolmentOutcome OnEnrolment(EnrolmentGrant grant, out ReplayState state)
    {
        var outcome = ReplayEnrolment.Apply(new UefiReplayStateStore(store), (byte)grant.CommandKeyEpoch, out state, out var found);
        if (outcome == ReplayEnrolmentOutcome.LostState) LossFoundAtEnrolment ??= found;
        return outcome;
    }
}

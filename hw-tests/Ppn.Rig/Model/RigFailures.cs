using Ppn.Rig.Emulation;

namespace Ppn.Rig.Model;

/// <summary>What part of the rig is broken, so a report can say "fix the rig", not "the product failed".</summary>
public enum RigFault
{
    NotRoot,
    EmulatorMissing,
    FirmwareMissing,
    EmulatorDidNotStart,
    EmulatorSlotBusy,
    ImageMissing,
    ConfigInvalid,
    HubNotFound,
    HubNotSwitchable,
    PowerSwitchFailed,
    PowerNotConfirmed,
    ConsoleGone,
    CaptureFailed,
    LibraryMissing,
    LinkMissing,
}

/// <summary>
/// The rig itself cannot do its part (QEMU missing, hub not found, console gone, image missing ...). Never a
/// verdict on the product: reports list these apart from product failures, with what to fix.
/// </summary>
public class RigInfrastructureException(RigFault fault, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public RigFault Fault { get; } = fault;
}

/// <summary>A check on what the node did failed (a wrong, missing or replaced identity; a packet it must not send).</summary>
public sealed class ProductCheckException(string message) : Exception(message);

public enum FailureKind
{
    /// <summary>The rig could not run the scenario: fix the bench or the host, not the product.</summary>
    Infrastructure,
    /// <summary>The node did not do what the scenario requires: a product bug (or a wrong expectation).</summary>
    Product,
    /// <summary>Neither: an exception from the rig's or the scenario's own code.</summary>
    RigCode,
}

public static class FailureClassifier
{
    public static FailureKind Classify(Exception e) => e switch
    {
        RigInfrastructureException => FailureKind.Infrastructure,
        NodeFailureException or ProductCheckException => FailureKind.Product,
        AggregateException { InnerExceptions.Count: > 0 } a => a.InnerExceptions.Select(Classify).Min(),
        TimeoutException t when t.Message.Contains("emulator slot", StringComparison.Ordinal) => FailureKind.Infrastructure,
        _ => FailureKind.RigCode,
    };

    /// <summary>One line for reports: which side has to act.</summary>
    public static string Describe(FailureKind kind) => kind switch
    {
        FailureKind.Infrastructure => "RIG INFRASTRUCTURE (not a product verdict: fix the rig and rerun)",
        FailureKind.Product => "PRODUCT FAILURE (the node did not do what the scenario requires)",
        _ => "RIG/SCENARIO CODE ERROR (an exception in the test code itself)",
    };

    /// <summary>A check on the product; throws <see cref="ProductCheckException"/> when it does not hold.</summary>
    public static void Require(bool condition, string whatFailed)
    {
        if (!condition)
        {
            throw new ProductCheckException(whatFailed);
        }
    }
}

namespace Ppn.Appliance.Cli;

/// <summary>An error a verb reports to the user: one line saying what failed and what to do, and an exit code.</summary>
public sealed class CliError : Exception
{
    public CliError(int exitCode, string message, Exception? inner = null) : base(message, inner) => ExitCode = exitCode;

    public int ExitCode { get; }
}

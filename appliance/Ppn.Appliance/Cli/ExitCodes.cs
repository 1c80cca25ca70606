namespace Ppn.Appliance.Cli;

/// <summary>Stable exit codes, documented in `ppn --help`. Scripts may rely on them; never renumber.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int BadInput = 1;
    public const int NotFound = 2;
    public const int Unavailable = 3;
    public const int Integrity = 4;
    public const int PermissionDenied = 5;
    public const int Conflict = 6;
    public const int NoSpace = 7;
    public const int Failed = 8;
    /// <summary>The request went out but its answer was lost: it may have taken effect (check, then retry).</summary>
    public const int OutcomeUnknown = 9;
    public const int Internal = 70;

    public const string HelpText = """
        Exit codes:
          0  success
          1  bad input (usage, unparsable value)
          2  not found (variable, identity, interface)
          3  unavailable (no efivarfs, not a UEFI node, missing kernel or driver support)
          4  integrity failure (corrupt record, verification failed)
          5  permission denied (run as root; immutable variable)
          6  conflict (already exists; use the documented flag to replace)
          7  no space (UEFI NVRAM full)
          8  operation failed (see the message)
          9  outcome unknown (the request was sent, the answer lost: check before retrying)
          70 internal error (a bug: report it with --verbose output)
        """;
}

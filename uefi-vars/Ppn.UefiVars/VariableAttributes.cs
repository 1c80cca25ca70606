namespace Ppn.UefiVars;

/// <summary>EFI_VARIABLE_* attribute bits (UEFI spec 2.10 §8.2, GetVariable/SetVariable).</summary>
[Flags]
public enum VariableAttributes : uint
{
    None = 0,
    NonVolatile = 0x1,
    BootServiceAccess = 0x2,
    RuntimeAccess = 0x4,
    HardwareErrorRecord = 0x8,
    AuthenticatedWriteAccess = 0x10,
    TimeBasedAuthenticatedWriteAccess = 0x20,
    AppendWrite = 0x40,

    /// <summary>What the appliance uses for its own variables: persistent and visible to the OS.</summary>
    NonVolatileBootRuntime = NonVolatile | BootServiceAccess | RuntimeAccess,
}

namespace Ppn.Linux.Interop;

/// <summary>Namespace types for setns(2) (linux/sched.h).</summary>
public static class NamespaceTypes
{
    public const int CLONE_NEWNET = 0x40000000;
}

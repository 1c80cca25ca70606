using System.Buffers.Binary;
using Ppn.UefiVars;

namespace Ppn.Appliance.Telemetry;

/// <summary>
/// How many times this node's PID 1 started, kept in the UEFI variable <c>PpnBootCount</c> (8 bytes, little-endian,
/// docs/telemetry.md): one write per boot, so a reboot loop shows as <c>ppn_boots_total</c> climbing. A missing or
/// damaged record starts again at 1 (the count is telemetry, nothing depends on it).
/// </summary>
public sealed class BootCounter(IVariableStore store)
{
    public static readonly VariableName Variable = VariableName.Ppn("PpnBootCount");

    /// <summary>Counts this boot and returns the total, or null when the store refused (the console says why).</summary>
    public ulong? CountThisBoot(Action<string> log)
    {
        try
        {
            ulong previous = store.TryRead(Variable) is { Data: { Length: 8 } data } ? BinaryPrimitives.ReadUInt64LittleEndian(data) : 0;
            ulong now = previous == ulong.MaxValue ? previous : previous + 1;
            Span<byte> record = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(record, now);
            store.Write(Variable, VariableAttributes.NonVolatileBootRuntime, record, WriteMode.CreateOrReplace);
            return now;
        }
        catch (Exception e)
        {
            // Whatever the store throws, the boot goes on: the count is telemetry.
            log($"boot count not recorded ({e.Message}); ppn_boots_total is not exported this boot");
            return null;
        }
    }
}

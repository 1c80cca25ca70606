using System.Text.Json;
using Ppn.Appliance.Commands;
using Ppn.Commands;
using Ppn.UefiVars;
using Ppn.UefiVars.Testing;

namespace Ppn.Appliance.Tests;

/// <summary>
/// The appliance's own UEFI records against the spec's vectors, on the temp-dir efivarfs twin: `PpnCommandEpoch` and
/// `PpnReplayState` (commands.json `epochMemory`, `replayRecords`; commands.md §Enrolment and the replay state) and
/// `PpnPeerSetSerial` (mesh-sync.json `serialFloorRecords`; sync.md §Node state). Each value is read through the real
/// store and reaches the file's verdict; each valid one is exactly what the store writes.
/// </summary>
public class NodeVariableVectorTests
{
    private static JsonElement Vectors(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Repository.PathOf($"docs/protocol/vectors/{file}")));
        return doc.RootElement.Clone();
    }

    private static byte[] Hex(JsonElement e, string name) => Convert.FromHexString(e.GetProperty(name).GetString()!);

    [Fact]
    public void Every_epoch_memory_vector_reads_as_its_verdict_and_the_valid_ones_are_what_the_store_writes()
    {
        int count = 0;
        foreach (var c in Vectors("commands.json").GetProperty("epochMemory").EnumerateArray())
        {
            var name = c.GetProperty("name").GetString();
            using var efivarfs = new TempDirEfivarfs();
            efivarfs.Write(UefiReplayStateStore.EpochVariable, VariableAttributes.NonVolatileBootRuntime, Hex(c, "value"), WriteMode.CreateOrReplace);
            var read = new UefiReplayStateStore(efivarfs).LastKnownEpoch();
            if (c.GetProperty("verdict").GetString() == "ok")
            {
                byte epoch = (byte)c.GetProperty("epoch").GetInt32();
                Assert.True(read == epoch, name);
                using var fresh = new TempDirEfivarfs();
                new UefiReplayStateStore(fresh).Save(new ReplayState(epoch, 0));
                Assert.Equal(Hex(c, "value"), fresh.TryRead(UefiReplayStateStore.EpochVariable)!.Data);
            }
            else
            {
                Assert.True(read is null, name);
            }
            count++;
        }
        Assert.Equal(7, count);
    }

    [Fact]
    public void Every_replay_record_vector_loads_as_its_verdict_and_the_valid_ones_are_what_the_store_writes()
    {
        int count = 0;
        foreach (var c in Vectors("commands.json").GetProperty("replayRecords").EnumerateArray())
        {
            var name = c.GetProperty("name").GetString();
            using var efivarfs = new TempDirEfivarfs();
            efivarfs.Write(UefiReplayStateStore.ReplayVariable, VariableAttributes.NonVolatileBootRuntime, Hex(c, "record"), WriteMode.CreateOrReplace);
            var load = new UefiReplayStateStore(efivarfs).Load(out var state);
            if (c.GetProperty("verdict").GetString() == "ok")
            {
                Assert.True(load == ReplayStateLoad.Ok, name);
                Assert.Equal((c.GetProperty("epoch").GetInt32(), c.GetProperty("floor").GetUInt32()), (state.Epoch, state.Floor));
                using var fresh = new TempDirEfivarfs();
                new UefiReplayStateStore(fresh).Save(state);
                Assert.Equal(Hex(c, "record"), fresh.TryRead(UefiReplayStateStore.ReplayVariable)!.Data);
            }
            else
            {
                Assert.True(load == ReplayStateLoad.Corrupt, name);
            }
            count++;
        }
        Assert.Equal(8, count);
    }

    [Fact]
    public void Every_serial_floor_vector_reads_as_its_verdict_and_the_valid_ones_are_what_the_floor_writes()
    {
        int count = 0;
        foreach (var c in Vectors("mesh-sync.json").GetProperty("serialFloorRecords").EnumerateArray())
        {
            var name = c.GetProperty("name").GetString();
            using var efivarfs = new TempDirEfivarfs();
            efivarfs.Write(UefiSerialFloor.Variable, VariableAttributes.NonVolatileBootRuntime, Hex(c, "value"), WriteMode.CreateOrReplace);
            ulong read = new UefiSerialFloor(efivarfs).Load();
            if (c.GetProperty("verdict").GetString() == "ok")
            {
                ulong serial = c.GetProperty("serial").GetUInt64();
                Assert.True(read == serial, name);
                using var fresh = new TempDirEfivarfs();
                new UefiSerialFloor(fresh).Save(serial);
                Assert.Equal(Hex(c, "value"), fresh.TryRead(UefiSerialFloor.Variable)!.Data);
            }
            else
            {
                Assert.True(read == 0, name); // "none": no floor
            }
            count++;
        }
        Assert.Equal(7, count);
    }
}

using System.Net;
using Ppn.Mesh;
using Ppn.Mesh.Sync;
using Ppn.Mesh.WireGuard;
using Ppn.UefiVars;
using Ppn.UefiVars.Testing;

namespace Ppn.Appliance.Tests;

/// <summary>The relay roster in UEFI variables (docs/protocol/sync.md §Relay roster), on the temp-dir efivarfs twin.</summary>
public class UefiRelayRosterStoreTests
{
    private static readonly byte[] Hub = Enumerable.Range(0xa0, 32).Select(i => (byte)i).ToArray();

    private static RelayRoster Roster(ulong serial, int spokes) => new(serial, Hub,
        Enumerable.Range(2, spokes).Select(i => new RosterSpoke(new WireGuardKey(Enumerable.Range(0, 32).Select(j => (byte)(j == 0 ? i : j + 1)).ToArray()), new IPAddress([10, 8, 0, (byte)i]))));

    [Fact]
    public void A_full_roster_survives_a_reboot_under_the_strict_8_KiB_variable_limit()
    {
        using var efivarfs = new TempDirEfivarfs();
        efivarfs.Kernel.MaxVariableSize = 0x2000; // PcdMaxVariableSize of the smaller OVMF builds, header and name included
        RelayRosterKeeping.Save(new UefiRelayRosterStore(efivarfs), Roster(9, 253));
        efivarfs.Reboot();
        var verdict = RelayRosterKeeping.Load(new UefiRelayRosterStore(efivarfs.OpenStore()), Hub, 9, out var back, out var detail);
        Assert.True(verdict == RosterVerdict.Accepted, detail);
        Assert.Equal(253, back!.Spokes.Count);
        Assert.Equal(3, UefiRelayRosterStore.Variables.Count(v => efivarfs.TryRead(v) is not null));
    }

    [Fact]
    public void A_write_cut_after_the_first_chunk_is_refused_as_mixed_not_read_as_part_of_a_roster()
    {
        using var efivarfs = new TempDirEfivarfs();
        var store = new UefiRelayRosterStore(efivarfs);
        RelayRosterKeeping.Save(store, Roster(9, 253));
        efivarfs.FailWrite(2, Ppn.Linux.Errno.EIO); // the second chunk's write of the next roster fails (EIO): chunk 0 is new, 1 and 2 old
        Assert.ThrowsAny<IOException>(() => RelayRosterKeeping.Save(store, Roster(10, 253)));
        Assert.Equal(RosterVerdict.Mixed, RelayRosterKeeping.Load(store, Hub, 9, out var roster, out _));
        Assert.Null(roster);
    }

    [Fact]
    public void Genesis_reset_erases_the_roster_with_the_serial_floor()
    {
        using var efivarfs = new TempDirEfivarfs();
        new UefiSerialFloor(efivarfs).Save(9);
        RelayRosterKeeping.Save(new UefiRelayRosterStore(efivarfs), Roster(9, 253));
        UefiRelayRosterStore.EraseWithFloor(efivarfs);
        Assert.Equal(0UL, new UefiSerialFloor(efivarfs).Load());
        Assert.All(UefiRelayRosterStore.Variables, v => Assert.Null(efivarfs.TryRead(v)));
        Assert.Equal(RosterVerdict.None, RelayRosterKeeping.Load(new UefiRelayRosterStore(efivarfs), Hub, 0, out _, out _));
        UefiRelayRosterStore.EraseWithFloor(efivarfs); // nothing left: no error
    }

    [Fact]
    public void A_new_enrolment_starts_without_the_floor_and_roster_of_the_one_before_and_a_restored_one_keeps_them()
    {
        using var efivarfs = new TempDirEfivarfs();
        var log = new List<string>();
        new UefiSerialFloor(efivarfs).Save(41);
        RelayRosterKeeping.Save(new UefiRelayRosterStore(efivarfs), Roster(41, 3));

        Assert.False(UefiRelayRosterStore.ForgetAtNewEnrolment(efivarfs, enrolledThisRun: false, log.Add));
        Assert.Equal(41UL, new UefiSerialFloor(efivarfs).Load());

        Assert.True(UefiRelayRosterStore.ForgetAtNewEnrolment(efivarfs, enrolledThisRun: true, log.Add));
        Assert.Equal(0UL, new UefiSerialFloor(efivarfs).Load());
        Assert.All(UefiRelayRosterStore.Variables, v => Assert.Null(efivarfs.TryRead(v)));
        Assert.Equal(["new enrolment: the peer-set serial floor (41) and relay roster of the enrolment before it are erased"], log);

        Assert.False(UefiRelayRosterStore.ForgetAtNewEnrolment(efivarfs, enrolledThisRun: true, log.Add)); // nothing held: nothing said
        Assert.Single(log);
    }

    [Fact]
    public void A_floor_that_cannot_be_erased_at_a_new_enrolment_is_said_not_thrown()
    {
        using var efivarfs = new TempDirEfivarfs();
        var log = new List<string>();
        new UefiSerialFloor(efivarfs).Save(7);
        efivarfs.InjectFault(Ppn.UefiVars.Testing.EfivarfsOperation.Unlink, 1, Ppn.Linux.Errno.EIO);
        Assert.False(UefiRelayRosterStore.ForgetAtNewEnrolment(efivarfs, enrolledThisRun: true, log.Add));
        Assert.Single(log, l => l.StartsWith("new enrolment: the peer-set serial floor of the enrolment before it cannot be erased (", StringComparison.Ordinal));
    }
}

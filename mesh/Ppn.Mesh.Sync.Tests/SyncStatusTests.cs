using System.Text;

namespace Ppn.Mesh.Sync.Tests;

/// <summary>/run/ppn/sync.json (docs/protocol/sync.md §Status): what the agents publish for `ppn mesh status`.</summary>
public class SyncStatusTests
{
    [Fact]
    public async Task The_publisher_writes_the_status_when_it_changes_and_the_reader_gets_it_back()
    {
        var dir = Directory.CreateTempSubdirectory("ppn-sync-status-");
        try
        {
            var path = Path.Combine(dir.FullName, "run", "sync.json");
            var serial = 7UL;
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var publishing = SyncStatusFile.PublishAsync(() => new SyncStatus("relay", Volatile.Read(ref serial), 3, SyncStatus.Roster,
                new SortedDictionary<string, long>(StringComparer.Ordinal) { ["NotNewer"] = 1, ["RosterTorn"] = 0 }), path, _ => { }, stop.Token, TimeSpan.FromMilliseconds(20));
            await SyncLab.Eventually(() => SyncStatusFile.TryRead(path, out _)?.Serial == 7, TimeSpan.FromSeconds(30), "the first status is written");
            Volatile.Write(ref serial, 8UL);
            await SyncLab.Eventually(() => SyncStatusFile.TryRead(path, out _)?.Serial == 8, TimeSpan.FromSeconds(30), "a changed status is written again");
            stop.Cancel();
            await publishing.WaitAsync(TimeSpan.FromSeconds(30));
            var read = SyncStatusFile.TryRead(path, out var error)!;
            Assert.Equal("", error);
            Assert.Equal(("relay", 3, "roster", 1L), (read.Role, read.Peers, read.Source, read.Refusals["NotNewer"]));
            Assert.Equal("""
                {
                  "role": "relay",
                  "serial": 8,
                  "peers": 3,
                  "source": "roster",
                  "refusals": {
                    "NotNewer": 1,
                    "RosterTorn": 0
                  }
                }

                """.ReplaceLineEndings("\n"), File.ReadAllText(path));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_missing_or_damaged_status_file_is_null_with_the_reason()
    {
        var dir = Directory.CreateTempSubdirectory("ppn-sync-status-");
        try
        {
            var path = Path.Combine(dir.FullName, "sync.json");
            Assert.Null(SyncStatusFile.TryRead(path, out var missing));
            Assert.Contains("does not exist", missing);
            File.WriteAllText(path, "{\"role\":", Encoding.UTF8);
            Assert.Null(SyncStatusFile.TryRead(path, out var broken));
            Assert.Contains("is not a sync status", broken);
            File.WriteAllText(path, "{\"serial\": 3}", Encoding.UTF8);
            Assert.Null(SyncStatusFile.TryRead(path, out var partial));
            Assert.Contains("is not a sync status", partial);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_spoke_holding_no_set_reports_none_and_every_refusal_reason_at_zero()
    {
        using var authority = SyncVectorTests.Authority();
        var state = new PeerSetState(authority.Trust, authority.HubPublicKey, new MemoryPeerSetStore());
        state.Offer([1, 2, 3], out _);
        var status = new SyncStatus("spoke", state.Current?.Serial ?? 0, 1, SyncStatus.NoSet, SyncStatus.SetRefusals(state));
        Assert.Equal(1, status.Refusals["Malformed"]);
        Assert.Equal(0, status.Refusals["NotNewer"]);
        Assert.DoesNotContain("Accepted", status.Refusals.Keys);
        Assert.Equal(Enum.GetValues<SetVerdict>().Length - 1, status.Refusals.Count);
    }
}

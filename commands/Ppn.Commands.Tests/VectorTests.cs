using System.Text;
using System.Text.Json;
using Geralt;

namespace Ppn.Commands.Tests;

/// <summary>
/// docs/protocol/vectors/commands.json: the control plane's conformance script. <see cref="Generate"/> writes it
/// from the code (PPN_WRITE_VECTORS=1); the other tests read it back like a foreign implementation would.
/// </summary>
public class VectorTests
{
    private const ushort NodeId = 42;
    private static readonly ushort[] Groups = [7, 300];

    [Fact]
    public void Vectors_file_is_what_the_code_produces()
    {
        var generated = Generate();
        if (Environment.GetEnvironmentVariable("PPN_WRITE_VECTORS") == "1")
        {
            File.WriteAllText(Repo.VectorsPath, generated);
        }
        Assert.Equal(generated, File.ReadAllText(Repo.VectorsPath).ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Key_derivation_matches_the_vectors()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Repo.VectorsPath));
        var keys = doc.RootElement.GetProperty("keys");
        var authorityPrivate = Hex(keys, "authorityPrivate");
        var nodePrivate = Hex(keys, "nodePrivate");
        Assert.Equal(Hex(keys, "authorityPublic"), TestKeys.Public(authorityPrivate));
        Assert.Equal(Hex(keys, "nodePublic"), TestKeys.Public(nodePrivate));
        var shared = new byte[32];
        X25519.ComputeSharedSecret(shared, nodePrivate, Hex(keys, "authorityPublic"));
        Assert.Equal(Hex(keys, "sharedSecret"), shared);
        using var nodeRing = CommandKeyring.ForNode(nodePrivate, Hex(keys, "authorityPublic"));
        using var authorityRing = CommandKeyring.ForAuthority(authorityPrivate, Hex(keys, "nodePublic"));
        foreach (var entry in keys.GetProperty("commandKeys").EnumerateObject())
        {
            int epoch = int.Parse(entry.Name);
            Assert.Equal(Convert.FromHexString(entry.Value.GetString()!), nodeRing.Key(epoch).ToArray());
            Assert.Equal(Convert.FromHexString(entry.Value.GetString()!), authorityRing.Key(epoch).ToArray());
        }
        var kdfInput = Hex(keys, "kdfInputEpoch0");
        var key0 = new byte[32];
        BLAKE2b.ComputeTag(key0, kdfInput, shared);
        Assert.Equal(nodeRing.Key(0).ToArray(), key0);
    }

    [Fact]
    public void Every_vector_step_gets_its_expected_verdict_and_state()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Repo.VectorsPath));
        var root = doc.RootElement;
        var keys = root.GetProperty("keys");
        var node = root.GetProperty("node");
        var addressing = new NodeAddressing((ushort)node.GetProperty("nodeId").GetInt32(),
            node.GetProperty("groupIds").EnumerateArray().Select(g => (ushort)g.GetInt32()).ToArray());
        using var ring = CommandKeyring.ForNode(Hex(keys, "nodePrivate"), Hex(keys, "authorityPublic"));
        var store = new InMemoryReplayStateStore();
        var initial = root.GetProperty("initialState");
        store.Save(new ReplayState((byte)initial.GetProperty("epoch").GetInt32(), initial.GetProperty("floor").GetUInt32()));
        var verifier = new CommandVerifier(ring, addressing, store, lastKnownEpoch: 0);
        int checkedSteps = 0;
        foreach (var step in root.GetProperty("steps").EnumerateArray())
        {
            var name = step.GetProperty("name").GetString();
            if (step.TryGetProperty("action", out var action))
            {
                switch (action.GetString())
                {
                    case "restart":
                        break;
                    case "lose-record":
                        store.LoseRecord();
                        break;
                    case "enrol":
                        var outcome = ReplayEnrolment.Apply(store, (byte)step.GetProperty("grantEpoch").GetInt32(), out _);
                        Assert.True(OutcomeToken(outcome) == step.GetProperty("outcome").GetString(), $"{name}: enrolment {OutcomeToken(outcome)}");
                        break;
                    default:
                        Assert.Fail($"{name}: unknown action {action.GetString()}");
                        break;
                }
                verifier = new CommandVerifier(ring, addressing, store, store.LastKnownEpoch() ?? 0);
            }
            else
            {
                var packet = Hex(step, "packet");
                var verdict = verifier.Verify(packet, out _);
                Assert.True(verdict.Token() == step.GetProperty("expect").GetString(), $"{name}: got {verdict.Token()}");
                checkedSteps++;
            }
            var after = step.GetProperty("stateAfter");
            Assert.True(store.Load(out var state) == ReplayStateLoad.Ok, name);
            Assert.True(after.GetProperty("epoch").GetInt32() == state.Epoch, $"{name}: epoch");
            Assert.True(after.GetProperty("floor").GetUInt32() == state.Floor, $"{name}: floor");
            Assert.True(after.GetProperty("lastKnownEpoch").GetInt32() == store.LastKnownEpoch(), $"{name}: epoch memory");
        }
        Assert.True(checkedSteps >= 20);
    }

    [Fact]
    public void Vectors_cover_every_verdict_the_brief_names()
    {
        var text = File.ReadAllText(Repo.VectorsPath);
        foreach (var token in new[] { "accept", "bad-tag", "replay", "wrong-target", "stale-epoch", "bad-version", "wrong-length", "bad-intent" })
        {
            Assert.Contains($"\"expect\": \"{token}\"", text);
        }
    }

    private static byte[] Hex(JsonElement e, string name) => Convert.FromHexString(e.GetProperty(name).GetString()!);

    [Fact]
    public void Every_replay_record_vector_reads_as_its_verdict_and_the_valid_ones_are_what_the_writer_writes()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Repo.VectorsPath));
        int count = 0;
        foreach (var c in doc.RootElement.GetProperty("replayRecords").EnumerateArray())
        {
            var name = c.GetProperty("name").GetString();
            var record = Hex(c, "record");
            bool ok = ReplayState.TryReadRecord(record, out var state);
            Assert.True((ok ? "ok" : "corrupt") == c.GetProperty("verdict").GetString(), name);
            if (ok)
            {
                Assert.Equal((c.GetProperty("epoch").GetInt32(), c.GetProperty("floor").GetUInt32()), (state.Epoch, state.Floor));
                var written = new byte[ReplayState.RecordSize];
                state.WriteRecord(written);
                Assert.Equal(record, written);
            }
            count++;
        }
        Assert.Equal(8, count);
    }

    /// <summary>"PRS1" records (commands.md §Enrolment and the replay state): written by the real writer, plus damaged ones.</summary>
    private static void WriteReplayRecords(Utf8JsonWriter json)
    {
        static byte[] Record(byte epoch, uint floor) { var r = new byte[ReplayState.RecordSize]; new ReplayState(epoch, floor).WriteRecord(r); return r; }
        // Bytes 0..11 changed and the check recomputed over them: only the field rule can refuse such a record.
        static byte[] Resealed(byte[] record, Action<byte[]> change)
        {
            var r = record.ToArray();
            change(r);
            var hash = new byte[32];
            BLAKE2b.ComputeHash(hash, r.AsSpan(0, 12));
            hash.AsSpan(0, 4).CopyTo(r.AsSpan(12));
            return r;
        }
        var flipped = Record(1, 511); flipped[15] ^= 0x01;
        var cases = new (string Name, byte[] Record)[]
        {
            ("epoch-0-floor-0", Record(0, 0)),
            ("epoch-1-floor-511", Record(1, 511)),
            ("epoch-15-floor-max", Record(15, uint.MaxValue)),
            ("check-flipped", flipped),
            ("epoch-16", Record(16, 255)),
            ("padding-set", Resealed(Record(1, 511), r => r[6] = 1)),
            ("bad-magic", Resealed(Record(1, 511), r => r[3] = (byte)'2')),
            ("truncated", Record(1, 511)[..15]),
        };
        json.WriteStartArray("replayRecords");
        foreach (var (name, record) in cases)
        {
            json.WriteStartObject();
            json.WriteString("name", name);
            json.WriteString("record", Convert.ToHexStringLower(record));
            bool ok = ReplayState.TryReadRecord(record, out var state);
            json.WriteString("verdict", ok ? "ok" : "corrupt");
            if (ok)
            {
                json.WriteNumber("epoch", state.Epoch);
                json.WriteNumber("floor", state.Floor);
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    /// <summary>
    /// PpnCommandEpoch values (commands.md §Lost replay state), epoch | ~epoch. The codec lives in the appliance
    /// (UefiReplayStateStore), whose tests read these cases back through it; written here from the rule.
    /// </summary>
    private static void WriteEpochMemory(Utf8JsonWriter json)
    {
        var cases = new (string Name, byte[] Value, int? Epoch)[]
        {
            ("epoch-0", [0x00, 0xff], 0),
            ("epoch-3", [0x03, 0xfc], 3),
            ("epoch-15", [0x0f, 0xf0], 15),
            ("epoch-16-with-its-complement", [0x10, 0xef], null),
            ("complement-wrong", [0x03, 0xfd], null),
            ("one-byte", [0x03], null),
            ("three-bytes", [0x03, 0xfc, 0x00], null),
        };
        json.WriteStartArray("epochMemory");
        foreach (var (name, value, epoch) in cases)
        {
            json.WriteStartObject();
            json.WriteString("name", name);
            json.WriteString("value", Convert.ToHexStringLower(value));
            json.WriteString("verdict", epoch is null ? "missing" : "ok");
            if (epoch is { } e) json.WriteNumber("epoch", e);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    internal static string OutcomeToken(ReplayEnrolmentOutcome outcome) => outcome switch
    {
        ReplayEnrolmentOutcome.FirstEnrolment => "first-enrolment",
        ReplayEnrolmentOutcome.Kept => "kept",
        _ => "lost-state",
    };

    internal static string Generate()
    {
        using var authorityRing = CommandKeyring.ForAuthority(TestKeys.AuthorityPrivate, TestKeys.NodePublic);
        using var nodeRing = TestKeys.NodeRing();
        var addressing = new NodeAddressing(NodeId, Groups);
        var store = new InMemoryReplayStateStore();
        store.Save(new ReplayState(0, 0));
        var verifier = new CommandVerifier(nodeRing, addressing, store, 0);

        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("spec", "docs/protocol/commands.md");
            json.WriteString("description", "Run the steps in order against one node whose replay state starts as initialState; 'restart' rebuilds the node from its persisted state; 'lose-record' deletes the replay record (the epoch memory stays), then restarts; 'enrol' stores an enrolment with grantEpoch (commands.md, Enrolment and the replay state), expecting outcome, then restarts. Every packet is hex of the UDP payload.");
            json.WriteStartObject("keys");
            json.WriteString("authorityPrivate", Convert.ToHexStringLower(TestKeys.AuthorityPrivate));
            json.WriteString("authorityPublic", Convert.ToHexStringLower(TestKeys.AuthorityPublic));
            json.WriteString("nodePrivate", Convert.ToHexStringLower(TestKeys.NodePrivate));
            json.WriteString("nodePublic", Convert.ToHexStringLower(TestKeys.NodePublic));
            var shared = new byte[32];
            X25519.ComputeSharedSecret(shared, TestKeys.NodePrivate, TestKeys.AuthorityPublic);
            json.WriteString("sharedSecret", Convert.ToHexStringLower(shared));
            var kdf = new List<byte>();
            kdf.AddRange(CommandKeyring.Label.ToArray());
            kdf.Add(0);
            kdf.AddRange(TestKeys.AuthorityPublic);
            kdf.AddRange(TestKeys.NodePublic);
            json.WriteString("kdfInputEpoch0", Convert.ToHexStringLower(kdf.ToArray()));
            json.WriteStartObject("commandKeys");
            for (int e = 0; e < 3; e++) json.WriteString(e.ToString(), Convert.ToHexStringLower(nodeRing.Key(e)));
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteStartObject("node");
            json.WriteNumber("nodeId", NodeId);
            json.WriteStartArray("groupIds");
            foreach (var g in Groups) json.WriteNumberValue(g);
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteStartObject("initialState");
            json.WriteNumber("epoch", 0);
            json.WriteNumber("floor", 0);
            json.WriteEndObject();
            json.WriteStartArray("steps");

            void Step(string name, byte[] packet, string? expectOverride = null)
            {
                var verdict = verifier!.Verify(packet, out _);
                if (expectOverride is not null && verdict.Token() != expectOverride)
                {
                    throw new InvalidOperationException($"vector '{name}' produced {verdict.Token()}, expected {expectOverride}");
                }
                json.WriteStartObject();
                json.WriteString("name", name);
                json.WriteString("packet", Convert.ToHexStringLower(packet));
                json.WriteString("expect", verdict.Token());
                WriteState();
                json.WriteEndObject();
            }
            void Restart(string name, string action = "restart", byte? grantEpoch = null, string? expectOutcome = null)
            {
                json.WriteStartObject();
                json.WriteString("name", name);
                json.WriteString("action", action);
                if (action == "lose-record") store.LoseRecord();
                if (grantEpoch is { } epoch)
                {
                    var outcome = OutcomeToken(ReplayEnrolment.Apply(store, epoch, out _));
                    if (outcome != expectOutcome) throw new InvalidOperationException($"vector '{name}' gave {outcome}, expected {expectOutcome}");
                    json.WriteNumber("grantEpoch", epoch);
                    json.WriteString("outcome", outcome);
                }
                verifier = new CommandVerifier(nodeRing, addressing, store, store.LastKnownEpoch() ?? 0);
                WriteState();
                json.WriteEndObject();
            }
            void WriteState()
            {
                store.Load(out var s);
                json.WriteStartObject("stateAfter");
                json.WriteNumber("epoch", s.Epoch);
                json.WriteNumber("floor", s.Floor);
                json.WriteNumber("lastKnownEpoch", store.LastKnownEpoch()!.Value);
                json.WriteEndObject();
            }
            byte[] Seal(byte epoch, CommandIntent intent, byte arg, TargetSelector target, uint counter, byte version = 1, byte? rawIntent = null)
            {
                var b = new byte[16];
                CommandSealer.Seal(authorityRing.Key(epoch), version, epoch, rawIntent ?? (byte)intent, arg, target, counter, b);
                return b;
            }

            var me = TargetSelector.Node(NodeId);
            var first = Seal(0, CommandIntent.Noop, 0, me, 1);
            Step("noop to this node, counter 1: accepted; floor reserved through 255", first, "accept");
            Step("the same packet again", first, "replay");
            Step("identify 30 s (argument 3) to group 7, counter 2", Seal(0, CommandIntent.Identify, 3, TargetSelector.Group(7), 2), "accept");
            Step("beacon-rescan to all, counter 3", Seal(0, CommandIntent.BeaconRescan, 0, TargetSelector.All, 3), "accept");
            var tampered = Seal(0, CommandIntent.Reboot, 0, me, 4);
            tampered[15] ^= 0x01;
            Step("reboot with the last tag bit flipped", tampered, "bad-tag");
            var forgedIntent = Seal(0, CommandIntent.Noop, 0, me, 5);
            forgedIntent[1] = 0x20; // noop's tag on a reboot
            Step("noop's valid tag moved onto a reboot", forgedIntent, "bad-tag");
            Step("validly sealed for node 43", Seal(0, CommandIntent.Reboot, 0, TargetSelector.Node(43), 6), "wrong-target");
            Step("validly sealed for group 8", Seal(0, CommandIntent.Reboot, 0, TargetSelector.Group(8), 7), "wrong-target");
            Step("all with a non-zero id", Seal(0, CommandIntent.Noop, 0, new TargetSelector(TargetKind.All, 5), 8), "wrong-target");
            Step("reserved selector kind 3", Seal(0, CommandIntent.Noop, 0, new TargetSelector(TargetKind.Reserved, NodeId), 9), "wrong-target");
            Step("version 2", Seal(0, CommandIntent.Noop, 0, me, 10, version: 2), "bad-version");
            Step("version 0", Seal(0, CommandIntent.Noop, 0, me, 11, version: 0), "bad-version");
            Step("15 bytes", first[..15], "wrong-length");
            Step("17 bytes", [.. first, 0], "wrong-length");
            Step("empty datagram", [], "wrong-length");
            Step("epoch 5 while the node is in epoch 0", Seal(5, CommandIntent.Noop, 0, me, 12), "stale-epoch");
            Step("unknown intent code 9", Seal(0, CommandIntent.Noop, 0, me, 13, rawIntent: 9), "bad-intent");
            Step("reboot with a non-zero argument", Seal(0, CommandIntent.Reboot, 1, me, 14), "bad-intent");
            Step("nic-retune, counter 15 (a counter whose earlier uses were rejected before the tag is still fresh)", Seal(0, CommandIntent.NicRetune, 0, me, 15), "accept");
            Step("next batch starts at block boundary 256: floor becomes 511", Seal(0, CommandIntent.Identify, 0, me, 256), "accept");
            Step("late counter 100, inside the window and unseen", Seal(0, CommandIntent.Noop, 0, me, 100), "accept");
            Step("late counter 100 again", Seal(0, CommandIntent.Noop, 0, me, 100), "replay");
            Restart("node restarts; the persisted floor is 511");
            Step("counter 300: never seen, but at or below the floor after restart", Seal(0, CommandIntent.Noop, 0, me, 300), "replay");
            Step("the first packet, captured before the restart", first, "replay");
            Step("authority's next batch starts at 512", Seal(0, CommandIntent.Reboot, 0, me, 512), "accept");
            Step("counter 513 in the same batch: no new reservation", Seal(0, CommandIntent.Poweroff, 0, me, 513), "accept");
            Step("rotation: epoch 1 (current + 1), counter 1", Seal(1, CommandIntent.Noop, 0, me, 1), "accept");
            Step("epoch 0 after the rotation, fresh counter 600", Seal(0, CommandIntent.Noop, 0, me, 600), "stale-epoch");
            Step("genesis-reset-arm with pairing code 9, epoch 1 counter 2", Seal(1, CommandIntent.GenesisResetArm, 9, me, 2), "accept");
            Step("genesis-reset-confirm with pairing code 9, counter 3", Seal(1, CommandIntent.GenesisResetConfirm, 9, me, 3), "accept");
            // Re-enrolment of the same identity (the node kept its key: a damaged enrolment record, a rescan, a
            // second claim). The registrar returns the same grant, epoch 0: the record (1, 255) must win.
            var armBeforeReenrol = Seal(1, CommandIntent.GenesisResetArm, 9, me, 2);
            Restart("re-enrolment with the same grant (epoch 0): the replay record is kept", "enrol", grantEpoch: 0, expectOutcome: "kept");
            Step("the arm captured before the re-enrolment", armBeforeReenrol, "replay");
            Step("the first packet of epoch 0, captured long ago", first, "stale-epoch");
            Step("epoch 0 counter 2, never sent: epoch 0 stays closed", Seal(0, CommandIntent.Noop, 0, me, 2), "stale-epoch");
            Restart("re-enrolment with a grant naming epoch 7: the node's epoch is kept", "enrol", grantEpoch: 7, expectOutcome: "kept");
            Step("epoch 7: not current, not current + 1", Seal(7, CommandIntent.Noop, 0, me, 1), "stale-epoch");
            Step("the authority continues its batch rule in epoch 1 at 256", Seal(1, CommandIntent.Noop, 0, me, 256), "accept");
            Restart("the replay record is lost after the re-enrolments: the node moves to last_known + 1 = 2", "lose-record");
            Step("epoch 1 counter 257, never sent: epoch 1 is closed after the loss", Seal(1, CommandIntent.Noop, 0, me, 257), "stale-epoch");
            Restart("re-enrolment again (grant epoch 0) after the loss: the new record (2, 0) is kept", "enrol", grantEpoch: 0, expectOutcome: "kept");
            Step("the authority continues in epoch 2 from counter 1", Seal(2, CommandIntent.Noop, 0, me, 1), "accept");
            // The window's edge (RFC 6479 ring: 960 counters below the highest accepted, H − 959 .. H − 1 when unseen).
            Step("a later batch at counter 1200 in epoch 2: floor 1279", Seal(2, CommandIntent.Noop, 0, me, 1200), "accept");
            Step("late counter 240 = 1200 − 960, never seen: just outside the window", Seal(2, CommandIntent.Noop, 0, me, 240), "replay");
            Step("late counter 241 = 1200 − 959, never seen: the oldest the window accepts", Seal(2, CommandIntent.Noop, 0, me, 241), "accept");
            json.WriteEndArray();
            WriteReplayRecords(json);
            WriteEpochMemory(json);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()).ReplaceLineEndings("\n") + "\n";
    }
}

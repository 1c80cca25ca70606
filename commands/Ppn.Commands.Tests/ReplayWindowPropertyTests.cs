using CsCheck;

namespace Ppn.Commands.Tests;

/// <summary>The window against a set model: fresh(c) ⇔ c ≠ 0 ∧ c ∉ seen ∧ (c > max(seen) ∨ max(seen) − c &lt; Size).</summary>
public class ReplayWindowPropertyTests
{
    private sealed class Model
    {
        public readonly HashSet<uint> Seen = [];
        public uint Highest;
        public uint Floor;

        public bool IsFresh(uint c) =>
            c != 0 && c > Floor && !Seen.Contains(c) && (c > Highest || Highest - c < ReplayWindow.Size);

        public void Mark(uint c)
        {
            Seen.Add(c);
            if (c > Highest) Highest = c;
        }
    }

    // Counters clustered near a moving point (duplicates, late arrivals, jumps beyond the window) and near 2^32.
    private static readonly Gen<uint> Counter = Gen.Frequency(
        (6, Gen.UInt[1, 3000]),
        (2, Gen.UInt[0, 40]),
        (1, Gen.UInt[uint.MaxValue - 2000, uint.MaxValue]),
        (1, Gen.UInt));

    [Fact]
    public void Window_agrees_with_the_set_model_for_any_arrival_order()
    {
        Counter.Array[1, 400].Sample(counters =>
        {
            var window = new ReplayWindow();
            var model = new Model();
            foreach (var c in counters)
            {
                bool fresh = window.IsFresh(c);
                Assert.Equal(model.IsFresh(c), fresh);
                if (fresh)
                {
                    window.MarkSeen(c);
                    model.Mark(c);
                }
                Assert.Equal(model.Highest, window.Highest);
            }
        }, iter: 500);
    }

    [Fact]
    public void Window_slides_over_ring_wrap_without_forgetting_recent_counters()
    {
        Gen.Select(Gen.UInt[1, 70], Gen.Int[50, 400]).Sample((step, count) =>
        {
            var window = new ReplayWindow();
            var model = new Model();
            uint c = 0;
            for (int i = 0; i < count; i++)
            {
                c += step;
                Assert.True(window.IsFresh(c));
                window.MarkSeen(c);
                model.Mark(c);
            }
            // Every counter of the last Size is now judged exactly as the model does.
            for (uint probe = c > 2000 ? c - 2000 : 0; probe <= c + 2; probe++)
            {
                Assert.Equal(model.IsFresh(probe), window.IsFresh(probe));
            }
        }, iter: 200);
    }

    [Fact]
    public void Verifier_with_restarts_agrees_with_the_model_including_the_persisted_floor()
    {
        using var authority = CommandKeyring.ForAuthority(TestKeys.AuthorityPrivate, TestKeys.NodePublic);
        using var node = TestKeys.NodeRing();
        var addressing = new NodeAddressing(42);
        // An operation is a counter to deliver, or (None) a restart of the node from its persisted state.
        var op = Gen.Frequency((12, Gen.UInt[1, 2000].Select(c => (uint?)c)), (1, Gen.Const((uint?)null)));
        op.Array[1, 150].Sample(ops =>
        {
            var store = new InMemoryReplayStateStore();
            store.Save(new ReplayState(0, 0));
            var verifier = new CommandVerifier(node, addressing, store, 0);
            var model = new Model();
            uint reserved = 0;
            Span<byte> packet = stackalloc byte[16];
            foreach (var o in ops)
            {
                if (o is null)
                {
                    verifier = new CommandVerifier(node, addressing, store, 0);
                    model = new Model { Floor = reserved };
                    continue;
                }
                uint c = o.Value;
                CommandSealer.Seal(authority.Key(0), 1, 0, 0, 0, TargetSelector.Node(42), c, packet);
                var verdict = verifier.Verify(packet, out _);
                bool expected = model.IsFresh(c);
                Assert.Equal(expected ? CommandVerdict.Accepted : CommandVerdict.Replay, verdict);
                if (expected)
                {
                    model.Mark(c);
                    reserved = Math.Max(reserved, CommandVerifier.BlockEnd(c));
                }
                Assert.True(store.Load(out var state) == ReplayStateLoad.Ok);
                Assert.Equal(reserved, state.Floor);
            }
        }, iter: 200);
    }
}

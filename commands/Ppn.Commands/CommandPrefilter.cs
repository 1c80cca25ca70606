using Ppn.Linux.Interop;

namespace Ppn.Commands;

/// <summary>
/// The in-kernel part of the verify order (docs/protocol/commands.md §Verify order): a classic BPF socket filter
/// (SO_ATTACH_FILTER) that drops, before the datagram is queued, what fails the first checks that need no key —
/// wrong length, wrong version, a target that does not address this node. A flood of such datagrams then costs
/// the kernel a few instructions each and never takes receive-queue room a valid command needs. What passes is
/// verified again in full by <see cref="CommandVerifier"/>; the filter only ever drops what the verifier would reject.
/// The kernel counts each refusal in the socket's drop count (sk_drops, read through SO_RXQ_OVFL).
/// </summary>
public static class CommandPrefilter
{
    /// <summary>A UDP socket filter sees the datagram from its UDP header (net/ipv4/udp.c trims to sizeof(udphdr)).</summary>
    public const int UdpHeaderBytes = 8;

    /// <summary>The filter program for <paramref name="node"/>: at most 8 + 16 groups + 2 instructions.</summary>
    public static LibC.sock_filter[] Program(NodeAddressing node)
    {
        // Accepted target selectors, as the raw big-endian u16 of bytes 2–3: node, all (kind 2, id 0), each group.
        var targets = new List<uint> { (uint)TargetSelector.Node(node.NodeId).Encode(), (uint)TargetSelector.All.Encode() };
        foreach (var g in node.GroupIds)
        {
            uint raw = TargetSelector.Group(g).Encode();
            if (!targets.Contains(raw)) targets.Add(raw);
        }
        if (targets.Count > 200) throw new ArgumentException("too many group ids for one filter (jump offsets are 8 bits)", nameof(node));

        var program = new List<LibC.sock_filter>();
        int rejectAt = 6 + targets.Count; // index of "ret #0"
        int acceptAt = rejectAt + 1;
        // 0: A = skb->len (UDP header + payload)
        program.Add(new(LibC.BPF_LD_W_LEN, 0, 0, 0));
        // 1: length must be exactly one command
        program.Add(new(LibC.BPF_JMP_JEQ_K, 0, Jump(1, rejectAt), UdpHeaderBytes + CommandPacket.Size));
        // 2-4: version = high nibble of byte 0
        program.Add(new(LibC.BPF_LD_B_ABS, 0, 0, UdpHeaderBytes + 0));
        program.Add(new(LibC.BPF_ALU_RSH_K, 0, 0, 4));
        program.Add(new(LibC.BPF_JMP_JEQ_K, 0, Jump(4, rejectAt), CommandPacket.CurrentVersion));
        // 5: A = target selector (bytes 2–3)
        program.Add(new(LibC.BPF_LD_H_ABS, 0, 0, UdpHeaderBytes + 2));
        // 6..: any accepted selector → accept; after the last, fall through to reject
        for (int i = 0; i < targets.Count; i++)
        {
            int at = 6 + i;
            program.Add(new(LibC.BPF_JMP_JEQ_K, Jump(at, acceptAt), 0, targets[i]));
        }
        program.Add(new(LibC.BPF_RET_K, 0, 0, 0));
        program.Add(new(LibC.BPF_RET_K, 0, 0, 0xFFFF_FFFF));
        return [.. program];
    }

    // Jumps are relative to the next instruction.
    private static byte Jump(int from, int to) => checked((byte)(to - from - 1));
}

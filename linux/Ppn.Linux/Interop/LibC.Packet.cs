using System.Runtime.InteropServices;

#pragma warning disable CS8981 // kernel struct names kept as in the headers (sockaddr_ll, sock_filter, sock_fprog)

namespace Ppn.Linux.Interop;

/// <summary>
/// AF_PACKET raw sockets with a classic BPF filter, as DHCP clients receive before they have an address
/// (linux/if_packet.h, linux/filter.h, packet(7)). Used by the genesis beacon scan.
/// </summary>
public static unsafe partial class LibC
{
    public const int AF_PACKET = 17;
    public const int SOCK_RAW = 3;
    /// <summary>ETH_P_ALL (linux/if_ether.h), host order; sockets and sockaddr_ll want it big-endian.</summary>
    public const ushort ETH_P_ALL = 0x0003;
    public const int SO_ATTACH_FILTER = 26;
    public const int SO_LOCK_FILTER = 44;
    public const byte PACKET_OUTGOING = 4;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint recvfrom(int fd, byte* buf, nuint len, int flags, void* addr, uint* addrlen);

    /// <summary>struct sockaddr_ll (20 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 20)]
    public struct sockaddr_ll
    {
        [FieldOffset(0)] public ushort sll_family;
        [FieldOffset(2)] public ushort sll_protocol;
        [FieldOffset(4)] public int sll_ifindex;
        [FieldOffset(8)] public ushort sll_hatype;
        [FieldOffset(10)] public byte sll_pkttype;
        [FieldOffset(11)] public byte sll_halen;
        [FieldOffset(12)] public fixed byte sll_addr[8];
    }

    // Classic BPF opcodes (linux/bpf_common.h, linux/filter.h): class | size | mode, or class | op | source.
    public const ushort BPF_LD_W_LEN = 0x00 | 0x00 | 0x80;   // A = skb->len
    public const ushort BPF_LD_B_ABS = 0x00 | 0x10 | 0x20;   // A = byte at k
    public const ushort BPF_LD_H_ABS = 0x00 | 0x08 | 0x20;   // A = big-endian u16 at k
    public const ushort BPF_ALU_RSH_K = 0x04 | 0x70 | 0x00;  // A >>= k
    public const ushort BPF_JMP_JEQ_K = 0x05 | 0x10 | 0x00;  // A == k ? jt : jf
    public const ushort BPF_RET_K = 0x06 | 0x00;             // return k (bytes kept; 0 drops)

    /// <summary>struct sock_filter: one classic BPF instruction (8 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 8)]
    public struct sock_filter
    {
        [FieldOffset(0)] public ushort code;
        [FieldOffset(2)] public byte jt;
        [FieldOffset(3)] public byte jf;
        [FieldOffset(4)] public uint k;

        public sock_filter(ushort code, byte jt, byte jf, uint k)
        {
            this.code = code;
            this.jt = jt;
            this.jf = jf;
            this.k = k;
        }
    }

    /// <summary>struct sock_fprog (16 bytes on 64-bit: a u16 length, padding, a pointer).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 16)]
    public struct sock_fprog
    {
        [FieldOffset(0)] public ushort len;
        [FieldOffset(8)] public sock_filter* filter;
    }
}

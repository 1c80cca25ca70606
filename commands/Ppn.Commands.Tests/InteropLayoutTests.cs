using System.Diagnostics;
using Ppn.Linux.Interop;

namespace Ppn.Commands.Tests;

/// <summary>Our explicit layouts against the real headers: gcc compiles a probe that prints sizeof/offsetof.</summary>
public class InteropLayoutTests
{
    private const string Probe = """
        #define _GNU_SOURCE
        #include <stdio.h>
        #include <stddef.h>
        #include <sys/socket.h>
        #include <sys/uio.h>
        #include <netinet/in.h>
        #include <poll.h>
        #include <linux/filter.h>
        int main(void) {
          printf("iovec %zu %zu\n", sizeof(struct iovec), offsetof(struct iovec, iov_len));
          printf("msghdr %zu %zu %zu %zu %zu %zu %zu\n", sizeof(struct msghdr), offsetof(struct msghdr, msg_namelen),
            offsetof(struct msghdr, msg_iov), offsetof(struct msghdr, msg_iovlen), offsetof(struct msghdr, msg_control),
            offsetof(struct msghdr, msg_controllen), offsetof(struct msghdr, msg_flags));
          printf("mmsghdr %zu %zu\n", sizeof(struct mmsghdr), offsetof(struct mmsghdr, msg_len));
          printf("sockaddr_in6 %zu %zu %zu %zu\n", sizeof(struct sockaddr_in6), offsetof(struct sockaddr_in6, sin6_port),
            offsetof(struct sockaddr_in6, sin6_addr), offsetof(struct sockaddr_in6, sin6_scope_id));
          printf("sockaddr_in %zu %zu %zu\n", sizeof(struct sockaddr_in), offsetof(struct sockaddr_in, sin_port), offsetof(struct sockaddr_in, sin_addr));
          printf("pollfd %zu %zu\n", sizeof(struct pollfd), offsetof(struct pollfd, revents));
          printf("consts %d %d %d %d %d %d %d\n", SO_RCVBUFFORCE, MSG_DONTWAIT, MSG_TRUNC, IPV6_V6ONLY, SOCK_NONBLOCK, SOCK_CLOEXEC, AF_INET6);
          printf("cmsghdr %zu %zu %zu %zu %zu %zu\n", sizeof(struct cmsghdr), offsetof(struct cmsghdr, cmsg_level), offsetof(struct cmsghdr, cmsg_type),
            (size_t)CMSG_SPACE(4), (size_t)CMSG_LEN(4), (size_t)CMSG_ALIGN(13));
          printf("sockopts %d %d %d\n", SO_REUSEPORT, SO_RXQ_OVFL, SO_ATTACH_FILTER);
          printf("bpf %d %d %d %d %d %d\n", BPF_LD | BPF_W | BPF_LEN, BPF_LD | BPF_B | BPF_ABS, BPF_LD | BPF_H | BPF_ABS,
            BPF_ALU | BPF_RSH | BPF_K, BPF_JMP | BPF_JEQ | BPF_K, BPF_RET | BPF_K);
          printf("sock_filter %zu %zu %zu\n", sizeof(struct sock_filter), sizeof(struct sock_fprog), offsetof(struct sock_fprog, filter));
          return 0;
        }
        """;

    [Fact]
    public unsafe void Socket_struct_layouts_match_the_kernel_abi()
    {
        var dir = Directory.CreateTempSubdirectory("ppn-abi-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "probe.c"), Probe);
            Run("gcc", $"-o {dir.FullName}/probe {dir.FullName}/probe.c");
            var lines = Run(Path.Combine(dir.FullName, "probe"), "").Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .ToDictionary(l => l.Split(' ')[0], l => l.Split(' ')[1..].Select(int.Parse).ToArray());
            Assert.Equal([sizeof(LibC.iovec), 8], lines["iovec"]);
            Assert.Equal([sizeof(LibC.msghdr), Off<LibC.msghdr>("msg_namelen"), Off<LibC.msghdr>("msg_iov"), Off<LibC.msghdr>("msg_iovlen"),
                Off<LibC.msghdr>("msg_control"), Off<LibC.msghdr>("msg_controllen"), Off<LibC.msghdr>("msg_flags")], lines["msghdr"]);
            Assert.Equal([sizeof(LibC.mmsghdr), 56], lines["mmsghdr"]);
            Assert.Equal([sizeof(LibC.sockaddr_in6), Off<LibC.sockaddr_in6>("sin6_port"), 8, Off<LibC.sockaddr_in6>("sin6_scope_id")], lines["sockaddr_in6"]);
            Assert.Equal([sizeof(LibC.sockaddr_in), 2, 4], lines["sockaddr_in"]);
            Assert.Equal([sizeof(LibC.pollfd), 6], lines["pollfd"]);
            Assert.Equal([LibC.SO_RCVBUFFORCE, LibC.MSG_DONTWAIT, LibC.MSG_TRUNC, LibC.IPV6_V6ONLY, LibC.SOCK_NONBLOCK, LibC.SOCK_CLOEXEC, LibC.AF_INET6],
                lines["consts"]);
            Assert.Equal([sizeof(LibC.cmsghdr), 8, 12, LibC.CmsgSpace(4), LibC.CmsgLen(4), LibC.CmsgAlign(13)], lines["cmsghdr"]);
            Assert.Equal([LibC.SO_REUSEPORT, LibC.SO_RXQ_OVFL, LibC.SO_ATTACH_FILTER], lines["sockopts"]);
            Assert.Equal([LibC.BPF_LD_W_LEN, LibC.BPF_LD_B_ABS, LibC.BPF_LD_H_ABS, LibC.BPF_ALU_RSH_K, LibC.BPF_JMP_JEQ_K, LibC.BPF_RET_K], lines["bpf"]);
            Assert.Equal([sizeof(LibC.sock_filter), sizeof(LibC.sock_fprog), 8], lines["sock_filter"]);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static int Off<TStruct>(string field) => (int)System.Runtime.InteropServices.Marshal.OffsetOf<TStruct>(field);

    private static string Run(string file, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = p.StandardOutput.ReadToEnd();
        var error = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), $"{file} did not finish");
        Assert.True(p.ExitCode == 0, $"{file} {args}: {error}");
        return output;
    }
}

using System.Buffers.Binary;
using System.Diagnostics;

namespace Ppn.Commands.Tests;

/// <summary>tools/wireshark/ppn-commands.lua run by tshark over a pcap this test writes (Ethernet/IPv4/UDP to 8090).</summary>
public class DissectorTests
{
    [Fact]
    public void Tshark_dissects_every_field_of_commands_on_udp_8090()
    {
        var tshark = FindOnPath("tshark");
        if (tshark is null)
        {
            // xunit 2 has no runtime skip: say why and pass. scripts/install-deps.sh installs tshark.
            Console.WriteLine("SKIPPED: tshark is not installed (apt-get install tshark); the Lua dissector was not exercised");
            return;
        }
        using var sealer = TestKeys.Sealer();
        var first = new byte[16];
        sealer.Seal(3, CommandIntent.Identify, 3, TargetSelector.Group(300), 258, first);
        var second = new byte[16];
        sealer.Seal(3, CommandIntent.Reboot, 0, TargetSelector.All, 259, second);
        var dir = Directory.CreateTempSubdirectory("ppn-pcap-");
        try
        {
            var pcap = Path.Combine(dir.FullName, "commands.pcap");
            File.WriteAllBytes(pcap, Pcap([first, second, new byte[5]]));
            var script = Path.Combine(Repo.Root, "tools", "wireshark", "ppn-commands.lua");
            var output = Run(tshark, $"-X lua_script:{script} -r {pcap} -T fields -E separator=, " +
                "-e ppncmd.version -e ppncmd.epoch -e ppncmd.intent_name -e ppncmd.argument -e ppncmd.target.kind -e ppncmd.target.id -e ppncmd.counter -e ppncmd.tag -e ppncmd.malformed");
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(3, lines.Length);
            Assert.Equal($"1,3,identify,3,1,300,258,{Convert.ToHexStringLower(first[8..])},", lines[0]);
            Assert.Equal($"1,3,reboot,0,2,0,259,{Convert.ToHexStringLower(second[8..])},", lines[1]);
            Assert.Contains("length 5, a command is exactly 16 bytes", lines[2]);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>libpcap format: 24-byte global header (LINKTYPE_ETHERNET), then per datagram a 16-byte record header
    /// and Ethernet II + IPv4 (checksum filled) + UDP (checksum 0 = none) from 10.0.0.1:40000 to 10.0.0.2:8090.
    /// These addresses exist only inside the file.</summary>
    private static byte[] Pcap(byte[][] payloads)
    {
        var file = new List<byte>();
        var header = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xA1B2C3D4);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(6), 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), 65535);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(20), 1);
        file.AddRange(header);
        uint seconds = 1_700_000_000;
        foreach (var payload in payloads)
        {
            var frame = new byte[14 + 20 + 8 + payload.Length];
            var span = frame.AsSpan();
            span[..6].Fill(0x02);
            span[6..12].Fill(0x04);
            BinaryPrimitives.WriteUInt16BigEndian(span[12..], 0x0800);
            var ip = span.Slice(14, 20);
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + 8 + payload.Length));
            ip[8] = 64;
            ip[9] = 17;
            ip[12] = 10; ip[15] = 1;
            ip[16] = 10; ip[19] = 2;
            uint sum = 0;
            for (int i = 0; i < 20; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
            while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~sum);
            var udp = span.Slice(34, 8);
            BinaryPrimitives.WriteUInt16BigEndian(udp, 40000);
            BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 8090);
            BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(8 + payload.Length));
            payload.CopyTo(span[42..]);
            var record = new byte[16];
            BinaryPrimitives.WriteUInt32LittleEndian(record, seconds++);
            BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(8), (uint)frame.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(12), (uint)frame.Length);
            file.AddRange(record);
            file.AddRange(frame);
        }
        return file.ToArray();
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static string Run(string file, string args)
    {
        var info = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "tshark did not finish within 60 s");
        Assert.True(p.ExitCode == 0, $"tshark exited {p.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }
}

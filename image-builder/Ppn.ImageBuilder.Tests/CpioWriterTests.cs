using System.Diagnostics;
using Ppn.ImageBuilder.Cpio;

namespace Ppn.ImageBuilder.Tests;

public sealed class CpioWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-cpio-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Archive(uint mtime = 1700000000) 
    {
        using var stream = new MemoryStream();
        CpioWriter.Write(stream,
        [
            CpioEntry.Dir("etc"),
            CpioEntry.File("etc/hello.txt", "hello, node\n"u8.ToArray(), 0x1A4),
            CpioEntry.Link("init", "usr/lib/ppn/ppn"),
            CpioEntry.Dir("usr"),
            CpioEntry.File("usr/tool", [1, 2, 3], 0x1ED),
        ], mtime);
        return stream.ToArray();
    }

    [Fact]
    public void The_cpio_tool_reads_back_names_modes_links_and_contents()
    {
        var archive = Path.Combine(_dir, "a.cpio");
        File.WriteAllBytes(archive, Archive());
        var extract = Directory.CreateDirectory(Path.Combine(_dir, "x")).FullName;
        var listing = Run("cpio", $"-t --quiet -F {archive}", _dir);
        Assert.Equal(["etc", "etc/hello.txt", "init", "usr", "usr/tool"], listing.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Run("cpio", $"-i --quiet -d -m --no-absolute-filenames -F {archive}", extract);
        Assert.Equal("hello, node\n", File.ReadAllText(Path.Combine(extract, "etc/hello.txt")));
        Assert.Equal("usr/lib/ppn/ppn", new FileInfo(Path.Combine(extract, "init")).LinkTarget);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute,
            File.GetUnixFileMode(Path.Combine(extract, "usr/tool")));
        Assert.Equal(new DateTime(2023, 11, 14, 22, 13, 20, DateTimeKind.Utc), File.GetLastWriteTimeUtc(Path.Combine(extract, "etc/hello.txt")));
    }

    [Fact]
    public void Headers_are_newc_with_4_byte_alignment_and_a_trailer()
    {
        var bytes = Archive();
        Assert.Equal("070701", System.Text.Encoding.ASCII.GetString(bytes, 0, 6));
        Assert.Equal(0, bytes.Length % 4);
        Assert.Contains("TRAILER!!!", System.Text.Encoding.ASCII.GetString(bytes));
        Golden.MatchBytes("tiny.cpio", bytes);
    }

    [Fact]
    public void Gzip_output_is_deterministic_and_readable_by_gunzip()
    {
        var data = Archive();
        var a = DeterministicGzip.Compress(data);
        Assert.Equal(a, DeterministicGzip.Compress(data));
        Assert.Equal([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3], a[..10]);
        // The bytes themselves: written by the hand-made header + DeflateStream, kept by GZipStream.
        Golden.MatchBytes("tiny.cpio.gz", a);
        var gz = Path.Combine(_dir, "a.cpio.gz");
        File.WriteAllBytes(gz, a);
        Run("gzip", $"-t {gz}", _dir);
        using var input = new System.IO.Compression.GZipStream(File.OpenRead(gz), System.IO.Compression.CompressionMode.Decompress);
        using var round = new MemoryStream();
        input.CopyTo(round);
        Assert.Equal(data, round.ToArray());
    }

    [Fact]
    public void Crc32_matches_the_standard_check_value()
    {
        Assert.Equal(0xCBF43926u, DeterministicGzip.Crc32("123456789"u8));
    }

    [Fact]
    public void Absolute_paths_are_refused()
    {
        Assert.Throws<ArgumentException>(() => CpioWriter.Write(new MemoryStream(), [CpioEntry.Dir("/etc")], 0));
    }

    internal static string Run(string file, string args, string cwd)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = cwd };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)), $"{file} {args} did not finish within 60 s");
        Assert.True(p.ExitCode == 0, $"{file} {args} exited {p.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }
}

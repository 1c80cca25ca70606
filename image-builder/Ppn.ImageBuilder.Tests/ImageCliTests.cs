using System.Text;
using System.Text.Json;

namespace Ppn.ImageBuilder.Tests;

/// <summary>`ppn-image` as a user runs it, in-process: bad input gives one line and a documented exit code, never a trace.</summary>
public sealed class ImageCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-imagecli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = ImageCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string File(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>A GPT whose AlternateLBA is 2^64-1 with a valid header CRC (the issue's crash).</summary>
    private string CraftedGpt()
    {
        var disk = GptHostileTests.SmallDisk();
        GptHostileTests.SetWithValidCrc(disk, 1, 32, ulong.MaxValue);
        return File("crafted.img", disk);
    }

    /// <summary>An output directory whose manifest matches a crafted disk.img: verify and flash read its GPT.</summary>
    private string CraftedImageDirectory()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir, "crafted-out")).FullName;
        var disk = Path.Combine(dir, Build.NodeImageBuilder.DiskImage);
        System.IO.File.Copy(CraftedGpt(), disk);
        var uki = Path.Combine(dir, Build.NodeImageBuilder.Uki);
        System.IO.File.WriteAllBytes(uki, "MZ"u8.ToArray());
        var manifest = Build.Manifest.Create(0, "6.1.0", [], [], null, "", false, "", [],
            [Build.NodeImageBuilder.Describe(disk) with { Name = Build.NodeImageBuilder.DiskImage }, Build.NodeImageBuilder.Describe(uki) with { Name = Build.NodeImageBuilder.Uki }]);
        System.IO.File.WriteAllBytes(Path.Combine(dir, Build.Manifest.FileName), manifest.ToJson());
        return dir;
    }

    [Fact]
    public void Bad_input_gives_one_line_and_the_documented_exit_code()
    {
        File("empty.img", []);
        File("one.img", [0x4D]);
        File("zeros.img", new byte[64 * 1024]);
        CraftedImageDirectory();
        File("good.img", GptHostileTests.SmallDisk());
        File("not-json", "{"u8.ToArray());
        Directory.CreateDirectory(Path.Combine(_dir, "bad-manifest"));
        System.IO.File.WriteAllText(Path.Combine(_dir, "bad-manifest", "manifest.json"), "{");
        System.IO.File.WriteAllText(Path.Combine(_dir, "respond"), "--help");
        var cases = new[]
        {
            new[] { "inspect", "$TMP/empty.img" },
            ["inspect", "$TMP/one.img"],
            ["inspect", "$TMP/zeros.img"],
            ["inspect", "$TMP/crafted.img"],
            ["inspect", "$TMP/crafted.img", "--json"],
            ["inspect", "--json"],
            ["inspect", "$TMP/no-such.img"],
            ["inspect", "$TMP"],
            ["inspect", "$TMP/bad-manifest"],
            ["inspect", "@$TMP/respond"],
            ["verify", "$TMP/crafted.img"],
            ["verify", "$TMP/bad-manifest"],
            ["verify", "$TMP/crafted.img", "--json"],
            ["verify", "$TMP/crafted-out"],
            ["flash", "$TMP/crafted-out", "--device", "$TMP/out.img"],
            ["flash", "$TMP/no-such.img", "--device", "$TMP/out.img"],
            ["flash", "$TMP/crafted.img", "--device", "$TMP/out.img"],
            ["flash", "$TMP/good.img", "--device", "/dev/null"],
            ["flash", "$TMP/good.img", "--device", "$TMP"],
            ["flash", "$TMP/good.img", "--device", "/dev/ppn-no-such-disk"],
            ["flash", "$TMP/good.img", "--device", "$TMP/no-such-dir/out.img"],
            ["flash", "$TMP", "--device", "$TMP/out.img"],
            ["flash", "@$TMP/respond", "--device", "$TMP/out.img"],
            ["completion", "tcsh"],
        };
        var transcript = new StringBuilder();
        foreach (var args in cases)
        {
            var (code, output, error) = Run(args.Select(a => a.Replace("$TMP", _dir, StringComparison.Ordinal)).ToArray());
            transcript.Append("$ ppn-image ").AppendJoin(' ', args).Append('\n').Append($"exit {code}\n");
            var first = (error.Length > 0 ? "err: " + error.Split('\n')[0]
                : output.StartsWith('{') ? "json: " + JsonFirstLine(output)
                : "out: " + output.Split('\n')[0]).Replace(_dir, "$TMP", StringComparison.Ordinal);
            transcript.Append(first).Append('\n');
            Assert.DoesNotContain("   at ", error + output, StringComparison.Ordinal);
            Assert.NotEqual(0, code);
        }
        Golden.Match("ppn-image-bad-input", transcript.ToString());
    }

    /// <summary>A JSON error's message, or for a report the first failed check.</summary>
    private static string JsonFirstLine(string output)
    {
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        if (root.TryGetProperty("error", out var e))
        {
            return $"error (exit {e.GetProperty("exitCode").GetInt32()}): {e.GetProperty("message").GetString()}";
        }
        var failed = root.GetProperty("checks").EnumerateArray().First(c => !c.GetProperty("ok").GetBoolean());
        return $"ok {root.GetProperty("ok").GetBoolean()}: {failed.GetProperty("detail").GetString()}";
    }

    /// <summary>Fuzz-style: random bytes behind an "MZ" (a hostile UKI) and mutated small disks are a clean refusal.</summary>
    [Fact]
    public void Inspect_of_random_ukis_and_mutated_disks_never_traces()
    {
        var random = new Random(7);
        var disk = GptHostileTests.SmallDisk();
        for (int i = 0; i < 150; i++)
        {
            byte[] bytes;
            if (i % 2 == 0)
            {
                bytes = new byte[random.Next(2, 4096)];
                random.NextBytes(bytes);
                bytes[0] = (byte)'M';
                bytes[1] = (byte)'Z';
                if (bytes.Length > 0x40 && random.Next(2) == 0)
                {
                    BitConverter.TryWriteBytes(bytes.AsSpan(0x3C), random.Next(0x40, bytes.Length)); // e_lfanew inside the file
                }
            }
            else
            {
                bytes = (byte[])disk.Clone();
                for (int n = random.Next(1, 8); n > 0; n--)
                {
                    bytes[random.Next(0, 34 * 512)] = (byte)random.Next(256);
                }
            }
            var path = File($"fuzz-{i}.img", bytes);
            var (code, output, error) = Run("inspect", path);
            Assert.True(code is ImageCli.Ok or ImageCli.BadInput or ImageCli.Failed, $"case {i}: exit {code}: {error}");
            Assert.DoesNotContain("   at ", output + error, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled", output + error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Inspect_of_an_empty_file_names_the_file_and_what_is_wrong()
    {
        var path = File("empty.img", []);
        var (code, _, error) = Run("inspect", path);
        Assert.Equal(ImageCli.BadInput, code);
        Assert.Equal($"ppn-image: error: {path} is empty: neither a UKI nor a GPT disk image\n", error);
    }

    [Fact]
    public void A_crafted_gpt_is_a_clean_refusal_in_inspect_verify_and_flash()
    {
        var crafted = CraftedImageDirectory();
        foreach (var args in new[] { new[] { "inspect", crafted }, ["verify", crafted], ["flash", crafted, "--device", Path.Combine(_dir, "out.img")] })
        {
            var (code, output, error) = Run(args);
            Assert.True(code is ImageCli.BadInput, $"{string.Join(' ', args)}: exit {code}: {error}");
            Assert.DoesNotContain("   at ", output + error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void An_at_path_argument_is_a_literal_not_a_response_file()
    {
        var respond = Path.Combine(_dir, "respond");
        System.IO.File.WriteAllText(respond, "--help");
        var (code, output, error) = Run("inspect", "@" + respond);
        Assert.Equal(ImageCli.BadInput, code);
        Assert.DoesNotContain("Usage", output, StringComparison.Ordinal);
        Assert.Contains($"@{respond} does not exist", error);
    }

    [Fact]
    public void Errors_under_json_are_one_json_object_on_stdout()
    {
        var (code, output, error) = Run("inspect", Path.Combine(_dir, "no-such.img"), "--json");
        Assert.Equal(ImageCli.BadInput, code);
        Assert.Equal("", error);
        using var doc = JsonDocument.Parse(output);
        var e = doc.RootElement.GetProperty("error");
        Assert.Equal("ppn-image", e.GetProperty("tool").GetString());
        Assert.Equal(1, e.GetProperty("exitCode").GetInt32());
        Assert.Contains("does not exist", e.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("bash", "complete -o default -F _ppn_image_complete ppn-image")]
    [InlineData("zsh", "compdef _ppn_image_complete ppn-image")]
    [InlineData("fish", "complete -c ppn-image")]
    public void Completion_scripts_exist_for_bash_zsh_and_fish(string shell, string expected)
    {
        var (code, output, _) = Run("completion", shell);
        Assert.Equal(0, code);
        Assert.Contains(expected, output);
    }

    [Fact]
    public void The_completion_helper_completes_verbs_and_options()
    {
        Assert.Equal(["build", "completion", "flash", "inspect", "verify"], Run("__complete", "ppn-image ").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(w => !w.StartsWith('-')).Order(StringComparer.Ordinal));
        Assert.Contains("--device", Run("__complete", "ppn-image flash --de").Out.Split('\n'));
    }

    [Fact]
    public void Every_verb_lists_the_exit_codes_in_its_help()
    {
        foreach (var verb in new[] { "build", "inspect", "verify", "flash", "completion" })
        {
            var (code, output, _) = Run(verb, "--help");
            Assert.Equal(0, code);
            Assert.Contains("Exit codes:", output);
        }
    }
}

using System.Runtime.CompilerServices;
using System.Text;
using Ppn.Rig.Cli;
using Ppn.Rig.Emulation;

namespace Ppn.Rig.Tests;

/// <summary>`ppn-rig` with bad input: one line, exit 2 (rig or usage), never a trace or exit 1 ("the product failed").</summary>
public sealed class RigCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-rigcli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = RigCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Bad_input_gives_one_line_and_exit_2()
    {
        File.WriteAllText(Path.Combine(_dir, "respond"), "--help");
        File.WriteAllText(Path.Combine(_dir, "bad.yaml"), "rig: [\n");
        File.WriteAllText(Path.Combine(_dir, "ok.yaml"), "rig: emulated\nnodes:\n  - name: emu-a\n    backend: qemu\n    console: qemu-socket:/tmp/ppn-rigcli-test.console\n    mac: 52:54:00:12:34:56\n    image: out/image\n");
        string[][] cases =
        [
            ["power", "status", "emu-a", "--rig", "$TMP"],
            ["power", "status", "emu-a", "--rig", "$TMP/no-such.yaml"],
            ["power", "status", "emu-a", "--rig", "@$TMP/respond"],
            ["power", "status", "emu-a", "--rig", "/dev/null"],
            ["power", "status", "emu-a", "--rig", "$TMP/bad.yaml"],
            ["power", "status", "emu-z", "--rig", "$TMP/ok.yaml"],
            ["power", "status"],
            ["run", "no-such-scenario"],
            ["completion", "tcsh"],
            ["serial-probe", "/dev/ppn-no-such-tty", "--for", "1"],
            ["serial-probe", "$TMP", "--for", "1"],
            ["@$TMP/respond"],
        ];
        var transcript = new StringBuilder();
        foreach (var args in cases)
        {
            var (code, output, error) = Run(args.Select(a => a.Replace("$TMP", _dir, StringComparison.Ordinal)).ToArray());
            transcript.Append("$ ppn-rig ").AppendJoin(' ', args).Append('\n').Append($"exit {code}\n");
            transcript.Append((error.Length > 0 ? "err: " + error.Split('\n')[0] : "out: " + output.Split('\n')[0]).Replace(_dir, "$TMP", StringComparison.Ordinal)).Append('\n');
            Assert.Equal(RigCommands.RigBroken, code);
            Assert.DoesNotContain("   at ", output + error, StringComparison.Ordinal);
        }
        MatchGolden("ppn-rig-bad-input", transcript.ToString());
    }

    [Fact]
    public void Scenarios_lists_every_catalog_entry_with_what_it_needs()
    {
        var (code, output, _) = Run("scenarios");
        Assert.Equal(RigCommands.Ok, code);
        foreach (var scenario in Ppn.Rig.Running.ScenarioCatalog.All)
        {
            Assert.Contains(scenario.Name + " ", output);
        }
        Assert.Matches(@"enrolled-node +quick +needs nvram-file, boot-control, sees-exit ", output);
        Assert.Matches(@"self-genesis-power-cut +quick +any backend ", output);
        Assert.Matches(@"reproducible-image +full +host only ", output);
    }

    [Fact]
    public void Run_on_a_backend_that_lacks_what_the_scenario_needs_is_a_skip_with_the_reason_and_exit_4()
    {
        var (code, output, _) = Run("run", "self-genesis-reset-button", "--backend", "bench-emulated");
        Assert.Equal(RigCommands.Skipped, code);
        Assert.Contains("self-genesis-reset-button: SKIPPED — backend bench-emulated: needs a reset button", output);
    }

    [Fact]
    public void Power_status_with_a_directory_as_rig_file_says_so()
    {
        var (code, _, error) = Run("power", "status", "emu-a", "--rig", _dir);
        Assert.Equal(RigCommands.RigBroken, code);
        Assert.Equal($"ppn-rig: rig infrastructure (ConfigInvalid): rig file {_dir} is a directory; give a rig YAML file (hw-tests/rigs/)\n", error);
    }

    [Fact]
    public void A_stand_in_image_that_cannot_be_written_is_one_rig_line_and_exit_2_not_a_trace()
    {
        // Without a host kernel or busybox it fails earlier, with the same class: the rig cannot make its image.
        var (code, output, error) = Run("stand-in-image", "--out", "/dev/null/stand-in");
        Assert.Equal(RigCommands.RigBroken, code);
        Assert.StartsWith("ppn-rig: rig infrastructure (ImageMissing): ", error);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.DoesNotContain("   at ", output + error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bash", "complete -o default -F _ppn_rig_complete ppn-rig")]
    [InlineData("zsh", "compdef _ppn_rig_complete ppn-rig")]
    [InlineData("fish", "complete -c ppn-rig -f")]
    public void Completion_scripts_for_bash_zsh_and_fish(string shell, string expected)
    {
        var (code, output, _) = Run("completion", shell);
        Assert.Equal(0, code);
        Assert.Contains(expected, output);
        Assert.Contains("power", Run("__complete", "ppn-rig po").Out.Split('\n'));
    }

    [Fact]
    public void Every_verb_lists_the_exit_codes_in_its_help()
    {
        foreach (var verb in new[] { new[] { "demo" }, ["stand-in-image"], ["power", "on"], ["power", "status"], ["console"], ["run"], ["usb-probe"], ["serial-probe"], ["scenarios"], ["completion"] })
        {
            var (code, output, _) = Run([.. verb, "--help"]);
            Assert.True(code == 0 && output.Contains("Exit codes:", StringComparison.Ordinal), $"ppn-rig {string.Join(' ', verb)} --help lists no exit codes");
        }
    }

    [Fact]
    public void A_factory_new_nvram_is_created_0600_even_over_a_0644_file()
    {
        var template = Path.Combine(_dir, "OVMF_VARS.fd");
        File.WriteAllBytes(template, [1, 2, 3]);
        File.SetUnixFileMode(template, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var fresh = Path.Combine(_dir, "a", "emu-a.OVMF_VARS.fd");
        NvramFile.CreateFactoryNew(fresh, template);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(fresh));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(fresh));
        File.SetUnixFileMode(fresh, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        NvramFile.CreateFactoryNew(fresh, template);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(fresh));
    }

    /// <summary>golden/NAME.txt beside this file; PPN_UPDATE_GOLDEN=1 rewrites it (review the diff like code).</summary>
    private static void MatchGolden(string name, string actual, [CallerFilePath] string callerFile = "")
    {
        var dir = callerFile.StartsWith("/_/", StringComparison.Ordinal)
            ? Path.Combine(RigEnvironment.RepoRoot, callerFile[3..])
            : callerFile;
        var path = Path.Combine(Path.GetDirectoryName(dir)!, "golden", name + ".txt");
        if (Environment.GetEnvironmentVariable("PPN_UPDATE_GOLDEN") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual);
            return;
        }
        Assert.True(File.Exists(path), $"no golden file {path}; run the tests once with PPN_UPDATE_GOLDEN=1 and review it");
        Assert.Equal(File.ReadAllText(path), actual);
    }
}

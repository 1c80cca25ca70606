using Ppn.Appliance.Cli;

namespace Ppn.Appliance.Tests;

public class CliTests
{
    internal static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CommandLine.Parse(CommandLine.Build(), args).Invoke(new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr });
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Init_refuses_to_run_unless_it_is_pid_1()
    {
        var (code, _, err) = Run("init");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("must run as PID 1", err);
    }

    [Fact]
    public void Version_as_json_names_version_and_runtime()
    {
        var (code, output, _) = Run("version", "--json");
        Assert.Equal(0, code);
        using var doc = System.Text.Json.JsonDocument.Parse(output);
        Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("version").GetString()));
        Assert.StartsWith(".NET", doc.RootElement.GetProperty("runtime").GetString());
    }

    [Theory]
    [InlineData("version")]
    [InlineData("version", "--json")]
    public void Version_without_the_verb_tree_prints_and_exits_as_through_the_tree(params string[] args)
    {
        var tree = Run(args);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int? code = VersionVerb.RunWithoutTree(args, stdout, stderr);
        Assert.Equal(tree.Code, code);
        Assert.Equal(tree.Out, stdout.ToString());
        Assert.Equal(tree.Err, stderr.ToString());
    }

    [Theory]
    [InlineData]
    [InlineData("--help")]
    [InlineData("version", "--help")]
    [InlineData("version", "--verbose")]
    [InlineData("version", "--json", "--json")]
    [InlineData("version", "extra")]
    [InlineData("status")]
    public void Every_other_command_line_goes_through_the_verb_tree(params string[] args) =>
        Assert.Null(VersionVerb.RunWithoutTree(args, TextWriter.Null, TextWriter.Null));

    [Fact]
    public void Help_documents_the_exit_codes()
    {
        var (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("Exit codes:", output);
        Assert.Contains("7  no space (UEFI NVRAM full)", output);
        // Once, in the root's description: the verb listing shows each verb's first paragraph, not its copy of the table.
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(output, "Exit codes:"));
        Assert.Contains("Exit codes:", Run("uefi", "get", "--help").Out);
    }

    [Fact]
    public void Help_of_a_verb_with_a_required_argument_is_help_not_a_usage_error()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CommandLine.Run(CommandLine.Build(), ["claim", "--help"], new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr });
        Assert.Equal(0, code);
        Assert.Equal("", stderr.ToString());
        Assert.Contains("--mesh-address", stdout.ToString());
        Assert.Contains("Exit codes:", stdout.ToString());
    }

    [Theory]
    [InlineData("'stauts'", "ppn --help", "stauts")]
    [InlineData("'variable'", "ppn uefi get --help", "uefi", "get")]
    [InlineData("'--no-such-option'", "ppn version --help", "version", "--no-such-option")]
    [InlineData("'tcsh'", "ppn completion --help", "completion", "tcsh")]
    public void A_usage_error_is_one_line_naming_the_problem_and_the_help_to_read(string names, string help, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CommandLine.Run(CommandLine.Build(), args, new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr });
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("", stdout.ToString());
        var line = Assert.Single(stderr.ToString().TrimEnd('\n').Split('\n'));
        Assert.StartsWith("ppn: error: ", line);
        Assert.Contains(names, line);
        Assert.EndsWith($"; see `{help}`", line);
    }
}

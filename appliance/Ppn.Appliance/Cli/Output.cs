using System.CommandLine;
using System.Text.Json;

namespace Ppn.Appliance.Cli;

/// <summary>
/// Where a verb writes: human text by default, JSON with --json. JSON is written with Utf8JsonWriter
/// (no reflection serialisation in the AOT binary).
/// </summary>
public sealed class Output
{
    private readonly TextWriter _out;
    private readonly TextWriter _err;

    public Output(TextWriter stdout, TextWriter stderr, bool json, bool verbose)
    {
        _out = stdout;
        _err = stderr;
        Json = json;
        Verbose = verbose;
    }

    public bool Json { get; }
    public bool Verbose { get; }
    public TextWriter Out => _out;

    public void Line(string text = "") => _out.WriteLine(text);

    public void WriteJson(Action<Utf8JsonWriter> write) => _out.Write(Ppn.Cli.CliJson.Write(write));

    /// <summary>One document of a source-generated type (<see cref="VerbJson"/>), with a trailing newline.</summary>
    public void WriteJson<T>(T document, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        _out.Write(JsonSerializer.Serialize(document, type) + "\n");

    public void Error(string message) => _err.WriteLine($"ppn: error: {message}");

    /// <summary>The verb failed: one line on stderr, or under --json one <c>{"error": …}</c> object on stdout.</summary>
    public void Fail(int exitCode, string message)
    {
        if (Json)
        {
            _out.Write(Ppn.Cli.CliJson.Error("ppn", exitCode, message));
        }
        else
        {
            Error(message);
        }
    }

    public void Detail(string message)
    {
        if (Verbose)
        {
            _err.WriteLine(message);
        }
    }
}

/// <summary>Runs a verb body with the shared options and maps failures to one line plus an exit code.</summary>
public static class Verb
{
    public static readonly Option<bool> Json = new("--json") { Description = "Machine-readable JSON output" };

    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Show error details (exception chain)",
        Recursive = true,
    };

    public static void Run(Command command, Func<ParseResult, Output, int> body, bool json = true)
    {
        if (json)
        {
            command.Options.Add(Json);
        }
        command.SetAction(parseResult =>
        {
            var output = new Output(
                parseResult.InvocationConfiguration.Output,
                parseResult.InvocationConfiguration.Error,
                json && parseResult.GetValue(Json),
                parseResult.GetValue(Verbose));
            return Execute(parseResult, output, body);
        });
    }

    public static int Execute(ParseResult parseResult, Output output, Func<ParseResult, Output, int> body) =>
        Execute(output, o => body(parseResult, o));

    /// <summary>A verb body that needs no parse result (<see cref="VersionVerb.RunWithoutTree"/>), with the same failure mapping.</summary>
    public static int Execute(Output output, Func<Output, int> body)
    {
        try
        {
            return body(output);
        }
        catch (CliError e)
        {
            output.Fail(e.ExitCode, e.Message);
            if (e.InnerException is not null)
            {
                output.Detail(e.InnerException.ToString());
            }
            return e.ExitCode;
        }
        catch (Exception e)
        {
            var (code, message) = ErrorMapping.Map(e);
            output.Fail(code, message);
            output.Detail(e.ToString());
            return code;
        }
    }
}

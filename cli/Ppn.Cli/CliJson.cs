using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ppn.Cli;

/// <summary>JSON on a tool's stdout: indented, and readable by grep.</summary>
public static class CliJson
{
    /// <summary>
    /// The default encoder writes '+' (every third base64 key has one) as \u002B, which defeats grep and jq-less
    /// scripts. Our output is never embedded in HTML, so the relaxed encoder is safe; it still escapes control
    /// characters and quotes.
    /// </summary>
    public static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    public static JsonWriterOptions WriterOptions => new() { Indented = true, Encoder = Encoder };

    /// <summary>
    /// The same conventions for a source-generated context (pass them to its constructor): indented, camelCase names,
    /// the relaxed encoder. A fresh instance each call, since a context binds the options it is given.
    /// </summary>
    public static JsonSerializerOptions SerializerOptions() => new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = Encoder,
    };

    /// <summary>One JSON document, written by <paramref name="write"/>, as text with a trailing newline.</summary>
    public static string Write(Action<Utf8JsonWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, WriterOptions))
        {
            write(writer);
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>
    /// An error under --json: one object on stdout, so a script reads one document whatever happened:
    /// <c>{"error": {"tool": "ppn", "exitCode": 2, "message": "…"}}</c>.
    /// </summary>
    public static string Error(string tool, int exitCode, string message) =>
        JsonSerializer.Serialize(new ErrorDocument(new ErrorPart(tool, exitCode, message)), CliDocuments.Greppable.ErrorDocument) + "\n";
}

/// <summary>The `--json` error object every tool prints.</summary>
public sealed record ErrorDocument(ErrorPart Error);

public sealed record ErrorPart(string Tool, int ExitCode, string Message);

/// <summary>The source-generated serialiser of the tools' shared documents.</summary>
[JsonSerializable(typeof(ErrorDocument))]
public sealed partial class CliDocuments : JsonSerializerContext
{
    public static CliDocuments Greppable { get; } = new(CliJson.SerializerOptions());
}

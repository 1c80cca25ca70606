using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ppn.ImageBuilder.Build;

public sealed record ManifestFile(string Name, long Size, string Sha256);

/// <summary>
/// manifest.json: what an image is made of, for audits and <c>ppn-image verify</c> / <c>inspect</c> (docs/image.md). Every
/// output with size and sha256, the kernel release, modules, libraries, the node configuration (as baked in), the tools
/// and their Debian package versions, and SOURCE_DATE_EPOCH. One type for the writer and every reader, serialised by
/// System.Text.Json source generation (<see cref="ImageBuilderJson"/>) in the declared property order.
/// </summary>
public sealed record Manifest(
    int Format,
    string Builder,
    long SourceDateEpoch,
    string KernelVersion,
    string KernelCommandLine,
    bool SecureBootSigned,
    // A signature carries a signing time, so signed builds differ; strip it (sbattach --remove) and compare to this.
    string UnsignedUkiSha256,
    IReadOnlyList<string> Modules,
    IReadOnlyList<string> Libraries,
    JsonElement? NodeConfig,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NodeConfigSha256,
    IReadOnlyDictionary<string, string> Tools,
    IReadOnlyList<ManifestFile> Files)
{
    public const string FileName = "manifest.json";
    public const int CurrentFormat = 1;

    public static Manifest Create(long sourceDateEpoch, string kernelVersion, IReadOnlyList<string> modules, IReadOnlyList<string> libraries,
        byte[]? nodeConfigJson, string kernelCommandLine, bool signed, string unsignedUkiSha256,
        IReadOnlyList<(string Name, string Version)> tools, IReadOnlyList<ManifestFile> files)
    {
        JsonElement? nodeConfig = null;
        if (nodeConfigJson is not null)
        {
            using var document = JsonDocument.Parse(nodeConfigJson);
            nodeConfig = document.RootElement.Clone();
        }
        var toolVersions = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, version) in tools)
        {
            toolVersions[name] = version;
        }
        return new Manifest(CurrentFormat, $"ppn-image {typeof(Manifest).Assembly.GetName().Version}", sourceDateEpoch, kernelVersion,
            kernelCommandLine, signed, unsignedUkiSha256, modules, libraries, nodeConfig,
            nodeConfigJson is null ? null : Convert.ToHexStringLower(SHA256.HashData(nodeConfigJson)), toolVersions, files);
    }

    /// <summary>Indented, one trailing newline.</summary>
    public byte[] ToJson() => [.. JsonSerializer.SerializeToUtf8Bytes(this, ImageBuilderJson.Default.Manifest), (byte)'\n'];

    /// <summary>A manifest this tool wrote; false with a reason (what is wrong, where) otherwise. Never throws on bad bytes.</summary>
    public static bool TryRead(ReadOnlySpan<byte> json, out Manifest? manifest, out string error)
    {
        manifest = null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException e)
        {
            error = $"manifest is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})";
            return false;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out var format)
                || format.ValueKind != JsonValueKind.Number || !format.TryGetInt32(out int f) || f != CurrentFormat)
            {
                error = $"not a format {CurrentFormat} ppn-image manifest";
                return false;
            }
            try
            {
                manifest = root.Deserialize(ImageBuilderJson.Default.Manifest);
            }
            catch (JsonException e)
            {
                error = $"manifest field {e.Path ?? "$"} does not have the format {CurrentFormat} layout";
                return false;
            }
        }
        if (manifest is null || manifest.Files is null || manifest.KernelVersion is null || manifest.Files.Any(file => file?.Name is null || file.Sha256 is null))
        {
            manifest = null;
            error = "a files entry lacks name, size or sha256, or the manifest lacks its kernel version";
            return false;
        }
        if (manifest.Files.FirstOrDefault(file => file.Name.Contains('/') || file.Name.StartsWith('.')) is { } bad)
        {
            manifest = null;
            error = $"files entry '{bad.Name}' is not a plain file name";
            return false;
        }
        error = "";
        return true;
    }
}

/// <summary><c>ppn-image verify --json</c>: every check with its verdict.</summary>
public sealed record VerifyDocument(string Image, bool Ok, IReadOnlyList<VerifyCheckPart> Checks);

public sealed record VerifyCheckPart(bool Ok, string Detail);

/// <summary>The source-generated serialisers of ppn-image's documents (AOT-clean, no reflection).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(Manifest))]
[JsonSerializable(typeof(VerifyDocument))]
public sealed partial class ImageBuilderJson : JsonSerializerContext
{
    /// <summary>The tools' stdout conventions (Ppn.Cli.CliJson): indented, camelCase, the relaxed encoder.</summary>
    public static ImageBuilderJson Greppable { get; } = new(Ppn.Cli.CliJson.SerializerOptions());
}

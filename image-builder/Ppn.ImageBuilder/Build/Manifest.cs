using System.Security.Cryptography;
using System.Text.Json;

namespace Ppn.ImageBuilder.Build;

public sealed record ManifestFile(string Name, long Size, string Sha256);

/// <summary>
/// manifest.json: what an image is made of, for audits and <c>ppn-image verify</c>. Every output with size and
/// sha256, the kernel release, modules, libraries, the node configuration (as baked in), the tools and their
/// Debian package versions, and SOURCE_DATE_EPOCH. Written by hand with Utf8JsonWriter in a fixed order.
/// </summary>
public sealed record Manifest(
    long SourceDateEpoch,
    string KernelVersion,
    IReadOnlyList<string> Modules,
    IReadOnlyList<string> Libraries,
    byte[]? NodeConfigJson,
    string KernelCommandLine,
    bool Signed,
    string UnsignedUkiSha256,
    IReadOnlyList<(string Name, string Version)> Tools,
    IReadOnlyList<ManifestFile> Files)
{
    public const string FileName = "manifest.json";
    public const int Format = 1;

    public byte[] ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("format", Format);
            w.WriteString("builder", $"ppn-image {typeof(Manifest).Assembly.GetName().Version}");
            w.WriteNumber("sourceDateEpoch", SourceDateEpoch);
            w.WriteString("kernelVersion", KernelVersion);
            w.WriteString("kernelCommandLine", KernelCommandLine);
            w.WriteBoolean("secureBootSigned", Signed);
            // A signature carries a signing time, so signed builds differ; strip it (sbattach --remove) and compare to this.
            w.WriteString("unsignedUkiSha256", UnsignedUkiSha256);
            w.WriteStartArray("modules");
            foreach (var m in Modules)
            {
                w.WriteStringValue(m);
            }
            w.WriteEndArray();
            w.WriteStartArray("libraries");
            foreach (var l in Libraries)
            {
                w.WriteStringValue(l);
            }
            w.WriteEndArray();
            if (NodeConfigJson is null)
            {
                w.WriteNull("nodeConfig");
            }
            else
            {
                w.WritePropertyName("nodeConfig");
                using var config = JsonDocument.Parse(NodeConfigJson);
                config.RootElement.WriteTo(w);
                w.WriteString("nodeConfigSha256", Convert.ToHexStringLower(SHA256.HashData(NodeConfigJson)));
            }
            w.WriteStartObject("tools");
            foreach (var (name, version) in Tools)
            {
                w.WriteString(name, version);
            }
            w.WriteEndObject();
            w.WriteStartArray("files");
            foreach (var f in Files)
            {
                w.WriteStartObject();
                w.WriteString("name", f.Name);
                w.WriteNumber("size", f.Size);
                w.WriteString("sha256", f.Sha256);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    /// <summary>The file list of a manifest; false with a reason when it is not one this tool wrote. Never throws.</summary>
    public static bool TryReadFiles(ReadOnlySpan<byte> json, out List<ManifestFile> files, out string kernelVersion, out string error)
    {
        files = [];
        kernelVersion = "";
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.Number || format.GetInt32() != Format)
            {
                error = $"not a format {Format} ppn-image manifest";
                return false;
            }
            kernelVersion = root.TryGetProperty("kernelVersion", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString()! : "";
            if (!root.TryGetProperty("files", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                error = "manifest has no files array";
                return false;
            }
            foreach (var f in list.EnumerateArray())
            {
                if (f.ValueKind != JsonValueKind.Object || !f.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String
                    || !f.TryGetProperty("size", out var s) || !s.TryGetInt64(out var size) || !f.TryGetProperty("sha256", out var h) || h.ValueKind != JsonValueKind.String)
                {
                    error = "a files entry lacks name, size or sha256";
                    return false;
                }
                var name = n.GetString()!;
                if (name.Contains('/') || name.StartsWith('.'))
                {
                    error = $"files entry '{name}' is not a plain file name";
                    return false;
                }
                files.Add(new ManifestFile(name, size, h.GetString()!));
            }
            error = "";
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            error = e is JsonException j ? $"manifest is not valid JSON (line {j.LineNumber + 1}, byte {j.BytePositionInLine + 1})" : $"manifest does not have the format {Format} layout ({e.GetType().Name})";
            return false;
        }
    }
}

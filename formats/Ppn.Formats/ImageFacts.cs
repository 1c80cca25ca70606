using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ppn.Formats;

/// <summary>
/// <c>/etc/ppn/image.json</c> inside the initramfs: the build facts of the image a node runs (docs/image.md), written by
/// <c>ppn-image</c> and read on the node (`ppn version`, telemetry's build info). One type for writer and reader,
/// serialised by System.Text.Json source generation (<see cref="FormatsJson"/>; no reflection, the node is Native AOT).
/// </summary>
public sealed record ImageFacts(
    int Format,
    string KernelVersion,
    long SourceDateEpoch,
    string PpnSha256,
    IReadOnlyList<string> Modules)
{
    public const int CurrentFormat = 1;
    public const string ImagePath = "/etc/ppn/image.json";
    public const int MaxDocumentBytes = 64 * 1024;

    /// <summary>Indented, property order as declared, one trailing newline.</summary>
    public byte[] ToJson() => [.. JsonSerializer.SerializeToUtf8Bytes(this, FormatsJson.Default.ImageFacts), (byte)'\n'];

    /// <summary>Reads a document of <see cref="CurrentFormat"/>; false with the reason otherwise. Never throws on bad bytes.</summary>
    public static bool TryParse(ReadOnlySpan<byte> json, out ImageFacts? facts, out string error)
    {
        facts = null;
        try
        {
            facts = JsonSerializer.Deserialize(json, FormatsJson.Default.ImageFacts);
        }
        catch (JsonException e)
        {
            error = $"not valid image facts JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})";
            return false;
        }
        if (facts is null || facts.Format != CurrentFormat || facts.KernelVersion is null || facts.PpnSha256 is null || facts.Modules is null)
        {
            facts = null;
            error = $"not image facts of format {CurrentFormat} (an image built by another ppn-image release?)";
            return false;
        }
        error = "";
        return true;
    }
}

/// <summary>The source-generated serialisers of the shared formats.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(ImageFacts))]
public sealed partial class FormatsJson : JsonSerializerContext;

using System.Reflection;
using System.Text.Json;

namespace Ppn.Appliance.Telemetry;

/// <summary>
/// What this binary is: the version and commit stamped into the assembly (InformationalVersion "1.2.3+commit"),
/// and the SHA-256 of the ppn executable the image builder recorded in <c>/etc/ppn/image.json</c> (docs/image.md;
/// an image cannot carry its own digest, so the executable's is what names the build on the node).
/// </summary>
public sealed record BuildInfo(string Version, string Commit, string PpnSha256)
{
    public const string ImageJsonPath = "/etc/ppn/image.json";

    public static BuildInfo Current(string imageJsonPath = ImageJsonPath)
    {
        var (version, commit) = Stamped();
        return new BuildInfo(version, commit, ReadPpnSha256(imageJsonPath));
    }

    /// <summary>
    /// Only what the build stamped in: `ppn version` reads no file (image.json is the telemetry's) and no attribute
    /// (the same string as <see cref="AssemblyInformationalVersionAttribute"/>, written by Ppn.Appliance.csproj).
    /// </summary>
    public static (string Version, string Commit) Stamped()
    {
        string info = BuildStamp.InformationalVersion;
        if (info.Length == 0) info = "unknown";
        int plus = info.IndexOf('+');
        return (plus < 0 ? info : info[..plus], plus < 0 ? "unknown" : info[(plus + 1)..]);
    }

    /// <summary>image.json's ppnSha256 (64 lowercase hex digits), or "unknown" outside an image or when it is not one.</summary>
    public static string ReadPpnSha256(string path)
    {
        try
        {
            var bytes = File.ReadAllBytes(path);
            if (bytes.Length > 1 << 20) return "unknown";
            using var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 8 });
            if (document.RootElement.ValueKind == JsonValueKind.Object &&
                document.RootElement.TryGetProperty("ppnSha256", out var digest) && digest.ValueKind == JsonValueKind.String &&
                digest.GetString() is { Length: 64 } hex && hex.All(char.IsAsciiHexDigitLower))
            {
                return hex;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
        }
        return "unknown";
    }
}

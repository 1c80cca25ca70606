using System.Text;
using System.Text.Json;

namespace Ppn.Appliance.SelfTests;

/// <summary>One self-test check as one compact JSON object, the console line the rig's scenarios parse.</summary>
public static class SelfTestJson
{
    public static string Line(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}

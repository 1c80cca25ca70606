using Xunit.Abstractions;
using System.Text;

namespace Ppn.Rig.Scenarios;

/// <summary>Scenario progress lines into the test's output (shown with the result).</summary>
internal sealed class TestOutputWriter(ITestOutputHelper output) : TextWriter
{
    public override Encoding Encoding => Encoding.UTF8;

    public override void WriteLine(string? value)
    {
        try
        {
            output.WriteLine(value ?? "");
        }
        catch (InvalidOperationException)
        {
            // The test already ended (a late line from a reader thread).
        }
    }

    public override void Write(char value)
    {
    }
}

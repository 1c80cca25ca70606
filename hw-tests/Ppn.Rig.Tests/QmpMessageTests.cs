using System.Text;
using System.Text.Json;
using Ppn.Rig.Emulation;

namespace Ppn.Rig.Tests;

public class QmpMessageTests
{
    [Fact]
    public void Commands_are_one_json_object_per_line()
    {
        var bytes = QmpMessage.Command("qmp_capabilities");
        Assert.Equal("{\"execute\":\"qmp_capabilities\"}\r\n", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void Command_arguments_are_nested_under_arguments()
    {
        var bytes = QmpMessage.Command("human-monitor-command", w => w.WriteString("command-line", "info \"x\""));
        using var doc = JsonDocument.Parse(bytes);
        Assert.Equal("info \"x\"", doc.RootElement.GetProperty("arguments").GetProperty("command-line").GetString());
    }

    [Theory]
    [InlineData("{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}", QmpMessageKind.Greeting)]
    [InlineData("{\"return\": {\"status\": \"running\", \"running\": true}}", QmpMessageKind.Return)]
    [InlineData("{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"nope\"}}", QmpMessageKind.Error)]
    [InlineData("{\"timestamp\": {\"seconds\": 1}, \"event\": \"SHUTDOWN\", \"data\": {\"guest\": false}}", QmpMessageKind.Event)]
    [InlineData("{\"something\": 1}", QmpMessageKind.Unknown)]
    public void Messages_are_classified_by_their_member(string json, QmpMessageKind kind)
    {
        Assert.True(QmpMessage.TryParse(Encoding.UTF8.GetBytes(json), out var message));
        Assert.Equal(kind, message.Kind);
    }

    [Fact]
    public void An_error_carries_its_class_and_description()
    {
        QmpMessage.TryParse("{\"error\": {\"class\": \"GenericError\", \"desc\": \"bad\"}}"u8, out var message);
        Assert.Equal("GenericError", message.ErrorClass);
        Assert.Equal("bad", message.ErrorDescription);
    }

    [Theory]
    [InlineData("")]
    [InlineData("[1,2]")]
    [InlineData("{\"return\": ")]
    [InlineData("not json")]
    [InlineData("{\"event\": 5}")]
    [InlineData("{\"error\": {\"class\": 7}}")]
    public void Hostile_bytes_are_refused_without_throwing(string text)
    {
        var ok = QmpMessage.TryParse(Encoding.UTF8.GetBytes(text), out var message);
        Assert.True(!ok || message.Kind is QmpMessageKind.Event or QmpMessageKind.Error);
    }
}

using System.Text;
using Ppn.Formats;
using Ppn.ImageBuilder.Build;

namespace Ppn.ImageBuilder.Tests;

/// <summary>manifest.json and /etc/ppn/image.json: one type each, written and read back by the same source-generated serialiser.</summary>
public sealed class DocumentTests
{
    private static Manifest Sample(byte[]? nodeConfig) => Manifest.Create(1_700_000_000, "6.1.0-28-amd64", ["e1000e", "tg3"], ["/lib/x86_64-linux-gnu/libc.so.6"],
        nodeConfig, "console=ttyS0", signed: false, new string('a', 64), [("dotnet-sdk", "10.0.401"), ("libc6", "2.36-9")],
        [new ManifestFile("disk.img", 42, new string('b', 64))]);

    [Fact]
    public void A_manifest_reads_back_as_it_was_written_in_the_documented_field_order()
    {
        var json = Sample(Encoding.UTF8.GetBytes("{\"format\": 2}")).ToJson();
        var text = Encoding.UTF8.GetString(json);
        string[] order = ["\"format\"", "\"builder\"", "\"sourceDateEpoch\"", "\"kernelVersion\"", "\"kernelCommandLine\"", "\"secureBootSigned\"",
            "\"unsignedUkiSha256\"", "\"modules\"", "\"libraries\"", "\"nodeConfig\"", "\"nodeConfigSha256\"", "\"tools\"", "\"files\""];
        var positions = order.Select(key => text.IndexOf(key, StringComparison.Ordinal)).ToArray();
        Assert.All(positions, p => Assert.True(p >= 0));
        Assert.Equal(positions.Order(), positions);
        Assert.EndsWith("}\n", text);

        Assert.True(Manifest.TryRead(json, out var read, out var error), error);
        Assert.Equal("6.1.0-28-amd64", read!.KernelVersion);
        Assert.Equal(["e1000e", "tg3"], read.Modules);
        Assert.Equal("10.0.401", read.Tools["dotnet-sdk"]);
        Assert.Equal(new ManifestFile("disk.img", 42, new string('b', 64)), Assert.Single(read.Files));
        Assert.Equal(2, read.NodeConfig!.Value.GetProperty("format").GetInt32());
    }

    [Fact]
    public void An_unconfigured_image_writes_a_null_node_config_and_no_hash()
    {
        var text = Encoding.UTF8.GetString(Sample(null).ToJson());
        Assert.Contains("\"nodeConfig\": null", text);
        Assert.DoesNotContain("nodeConfigSha256", text);
    }

    [Theory]
    [InlineData("{", "line 1")]
    [InlineData("{\"format\": 7}", "not a format 1 ppn-image manifest")]
    [InlineData("[]", "not a format 1 ppn-image manifest")]
    [InlineData("{\"format\": 1, \"kernelVersion\": \"6.1\", \"files\": [{\"name\": \"../etc\", \"size\": 1, \"sha256\": \"00\"}]}", "not a plain file name")]
    [InlineData("{\"format\": 1, \"kernelVersion\": \"6.1\", \"files\": [{\"size\": 1}]}", "lacks name, size or sha256")]
    [InlineData("{\"format\": 1, \"files\": \"all of them\"}", "manifest field $.files does not have the format 1 layout")]
    public void A_manifest_this_tool_did_not_write_is_refused_with_the_reason(string json, string expected)
    {
        Assert.False(Manifest.TryRead(Encoding.UTF8.GetBytes(json), out var manifest, out var error));
        Assert.Null(manifest);
        Assert.Contains(expected, error);
    }

    [Fact]
    public void Image_facts_read_back_as_written_and_refuse_another_format_or_unknown_fields()
    {
        var facts = new ImageFacts(ImageFacts.CurrentFormat, "6.1.0-28-amd64", 1_700_000_000, new string('c', 64), ["tg3"]);
        Assert.True(ImageFacts.TryParse(facts.ToJson(), out var read, out var error), error);
        Assert.Equal(facts.KernelVersion, read!.KernelVersion);
        Assert.Equal(facts.Modules, read.Modules);

        Assert.False(ImageFacts.TryParse("{\"format\": 9, \"kernelVersion\": \"x\", \"sourceDateEpoch\": 0, \"ppnSha256\": \"x\", \"modules\": []}"u8, out _, out error));
        Assert.Contains("format 1", error);
        Assert.False(ImageFacts.TryParse("{\"format\": 1, \"kernelVersion\": \"x\", \"sourceDateEpoch\": 0, \"ppnSha256\": \"x\", \"modules\": [], \"extra\": 1}"u8, out _, out error));
        Assert.Contains("line 1", error);
        Assert.False(ImageFacts.TryParse("not json"u8, out _, out error));
    }
}

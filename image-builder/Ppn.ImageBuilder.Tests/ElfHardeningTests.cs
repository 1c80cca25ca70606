using System.Buffers.Binary;
using Ppn.ImageBuilder.Build;
using Ppn.ImageBuilder.Elf;
using Ppn.TestSupport;

namespace Ppn.ImageBuilder.Tests;

/// <summary>
/// The hardening the image builder requires of ppn, read from ELF headers: stand-ins gcc links each way here,
/// checked against what readelf says of the same file, and the shipped ppn itself.
/// </summary>
public sealed class ElfHardeningTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-hardening-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The link flags of a hardened PIE, as Native AOT links ppn (it adds -z relro -z now itself).</summary>
    public const string Hardened = "-fPIE -pie -Wl,-z,relro,-z,now";

    /// <summary>A small dynamically linked C program linked with <paramref name="flags"/>: a stand-in for ppn.</summary>
    public static string CompileStandIn(string dir, string name, string flags)
    {
        var source = Path.Combine(dir, "stand-in.c");
        File.WriteAllText(source, "#include <stdio.h>\nint main(void) { puts(\"stand-in\"); return 0; }\n");
        var output = Path.Combine(dir, name);
        CpioWriterTests.Run("gcc", $"-O2 {flags} -o {output} {source}", dir);
        return output;
    }

    public static TheoryData<string, bool, bool, bool, bool> Links => new()
    {
        // flags, PIE, PT_GNU_RELRO, BIND_NOW, executable stack
        { Hardened, true, true, true, false },
        { "-fno-PIE -no-pie -Wl,-z,relro,-z,now", false, true, true, false },
        { "-fPIE -pie -Wl,-z,relro,-z,lazy", true, true, false, false },
        { "-fPIE -pie -Wl,-z,norelro,-z,lazy", true, false, false, false },
        { "-fPIE -pie -Wl,-z,relro,-z,now,-z,execstack", true, true, true, true },
    };

    [Theory]
    [MemberData(nameof(Links))]
    public void Each_link_setting_reads_as_readelf_shows_it(string flags, bool pie, bool relro, bool bindNow, bool executableStack)
    {
        var file = CompileStandIn(_dir, "a.out", flags);
        var hardening = ElfDynamicInfo.Parse(File.ReadAllBytes(file), file).Hardening;
        Assert.Equal(new ElfHardening(pie, relro, bindNow, executableStack, TextRelocations: false), hardening);

        // The interop peer says the same of the same file.
        var header = CpioWriterTests.Run("readelf", $"-hW {file}", _dir);
        var dynamic = CpioWriterTests.Run("readelf", $"-dW {file}", _dir);
        var segments = CpioWriterTests.Run("readelf", $"-lW {file}", _dir);
        Assert.Equal(pie, header.Contains("DYN (", StringComparison.Ordinal));
        Assert.Equal(relro, segments.Contains("GNU_RELRO", StringComparison.Ordinal));
        Assert.Equal(bindNow, dynamic.Contains("BIND_NOW", StringComparison.Ordinal) || dynamic.Contains("Flags: NOW", StringComparison.Ordinal));
        var stack = segments.Split('\n').Single(l => l.TrimStart().StartsWith("GNU_STACK", StringComparison.Ordinal));
        Assert.Equal(executableStack, stack.Contains("RWE", StringComparison.Ordinal));
        Assert.Equal(pie && relro && bindNow && !executableStack, hardening.MissingForPid1().Count == 0);
    }

    [Fact]
    public void No_gnu_stack_segment_means_an_executable_stack_and_a_textrel_flag_is_seen()
    {
        var bytes = File.ReadAllBytes(CompileStandIn(_dir, "a.out", Hardened));
        // Turn PT_GNU_STACK into PT_NULL, and set DF_TEXTREL beside DF_BIND_NOW in DT_FLAGS (x86-64 ld will not
        // link text relocations into a PIE, so the flag is written by hand).
        var phdrs = bytes.AsSpan((int)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(32)));
        int count = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(56));
        long dynamicOffset = 0, dynamicSize = 0;
        for (int i = 0; i < count; i++)
        {
            var ph = phdrs.Slice(i * 56, 56);
            switch (BinaryPrimitives.ReadUInt32LittleEndian(ph))
            {
                case 0x6474e551: BinaryPrimitives.WriteUInt32LittleEndian(ph, 0); break;
                case 2: (dynamicOffset, dynamicSize) = ((long)BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]), (long)BinaryPrimitives.ReadUInt64LittleEndian(ph[32..])); break;
            }
        }
        var dynamic = bytes.AsSpan((int)dynamicOffset, (int)dynamicSize);
        bool patched = false;
        for (int at = 0; at + 16 <= dynamic.Length; at += 16)
        {
            if (BinaryPrimitives.ReadInt64LittleEndian(dynamic[at..]) == 30)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(dynamic[(at + 8)..], BinaryPrimitives.ReadUInt64LittleEndian(dynamic[(at + 8)..]) | 0x4);
                patched = true;
            }
        }
        Assert.True(patched, "the stand-in has a DT_FLAGS entry (BIND_NOW)");

        var hardening = ElfDynamicInfo.Parse(bytes, "patched").Hardening;
        Assert.Equal(new ElfHardening(PositionIndependent: true, Relro: true, BindNow: true, ExecutableStack: true, TextRelocations: true), hardening);
        var missing = hardening.MissingForPid1();
        Assert.Equal(2, missing.Count);
        Assert.Contains(missing, m => m.Contains("no PT_GNU_STACK", StringComparison.Ordinal));
        Assert.Contains(missing, m => m.Contains("DT_TEXTREL", StringComparison.Ordinal));
    }

    [Fact]
    public void An_appliance_linked_without_pie_is_refused_before_anything_is_written()
    {
        var appliance = Directory.CreateDirectory(Path.Combine(_dir, "bin")).FullName;
        CompileStandIn(appliance, "ppn", "-fno-PIE -no-pie -Wl,-z,relro,-z,lazy");
        File.Delete(Path.Combine(appliance, "stand-in.c"));
        var output = Path.Combine(_dir, "image");
        var inputs = new ImageInputs(appliance, BuiltImages.Kernel, output, SourceDateEpoch: BuiltImages.Epoch);

        var error = Assert.Throws<UnhardenedApplianceException>(() => new NodeImageBuilder(_ => { }).Build(inputs));
        Assert.Contains(Path.Combine(appliance, "ppn"), error.Message);          // where
        Assert.Contains("not position-independent", error.Message);              // what
        Assert.Contains("no full RELRO (PT_GNU_RELRO without BIND_NOW)", error.Message);
        Assert.Contains("make publish", error.Message);                          // what to do
        Assert.False(Directory.Exists(output));
    }

    [ShippedApplianceFact]
    public void The_shipped_ppn_is_a_pie_with_full_relro_and_a_non_executable_stack()
    {
        var ppn = ShippedApplianceFactAttribute.Path;
        var hardening = ElfDynamicInfo.Parse(File.ReadAllBytes(ppn), ppn).Hardening;
        Assert.Empty(hardening.MissingForPid1());
        Assert.Equal("PIE, full RELRO, non-executable stack, no text relocations", hardening.Summary());
    }
}

/// <summary>A fact about out/bin/ppn, skipped when it has not been published (make test publishes it first).</summary>
public sealed class ShippedApplianceFactAttribute : FactAttribute
{
    public static string Path => System.IO.Path.Combine(Repository.Root, "out", "bin", "ppn");

    public ShippedApplianceFactAttribute()
    {
        if (!File.Exists(Path))
        {
            Skip = $"no {Path}: `make publish` (make test runs it) builds the appliance";
        }
    }
}

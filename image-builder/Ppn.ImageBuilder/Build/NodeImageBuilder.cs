using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ppn.ImageBuilder.Cpio;
using Ppn.ImageBuilder.Elf;
using Ppn.ImageBuilder.Modules;

namespace Ppn.ImageBuilder.Build;

public sealed record ImageInputs(
    string ApplianceDir,
    string KernelVersion,
    string OutDir,
    string ModulesRoot = "/lib/modules",
    string BootDir = "/boot",
    long SourceDateEpoch = 0,
    IReadOnlyList<string>? ExtraModules = null);

public sealed record ImageResult(IReadOnlyList<(string Name, long Size, string Sha256)> Outputs, int Modules, int Libraries, long InitramfsUncompressed);

/// <summary>
/// Builds out/image/: initramfs.cpio.gz (ppn as /init, its libraries, the kernel modules), vmlinuz, SHA256SUMS.
/// Same inputs give the same bytes: entries sorted, one mtime (SOURCE_DATE_EPOCH), ids 0, fixed modes,
/// our own gzip header. Layout and reasons: docs/image.md.
/// </summary>
public sealed class NodeImageBuilder
{
    public const string InstallDir = "usr/lib/ppn";
    private const uint Exec = 0x1ED /* 0755 */, Data = 0x1A4 /* 0644 */;
    private readonly Action<string> _progress;
    private readonly Func<IReadOnlyList<string>, IReadOnlyList<ResolvedLibrary>> _resolveLibraries;

    public NodeImageBuilder(Action<string> progress, Func<IReadOnlyList<string>, IReadOnlyList<ResolvedLibrary>>? resolveLibraries = null)
    {
        _progress = progress;
        _resolveLibraries = resolveLibraries ?? (roots => new LibraryResolver().Resolve(roots));
    }

    public ImageResult Build(ImageInputs inputs)
    {
        var ppn = Path.Combine(inputs.ApplianceDir, "ppn");
        if (!File.Exists(ppn))
        {
            throw new FileNotFoundException($"no appliance executable at {ppn}; run `make publish` first (or pass --appliance DIR)");
        }
        var kernel = Path.Combine(inputs.BootDir, $"vmlinuz-{inputs.KernelVersion}");
        if (!File.Exists(kernel))
        {
            throw new FileNotFoundException($"no kernel image {kernel}; install linux-image-{inputs.KernelVersion} or pass --kernel-version / --boot-dir");
        }
        var moduleDir = Path.Combine(inputs.ModulesRoot, inputs.KernelVersion);
        var depFile = Path.Combine(moduleDir, "modules.dep");
        if (!File.Exists(depFile))
        {
            throw new FileNotFoundException($"no {depFile}; the kernel's modules are not installed (linux-image-{inputs.KernelVersion})");
        }

        var files = new SortedDictionary<string, CpioEntry>(StringComparer.Ordinal);
        void Add(CpioEntry e)
        {
            AddParents(files, e.Path);
            files[e.Path] = e;
        }

        // The appliance and what ships beside it (libsodium.so): Native AOT probes its own directory.
        var applianceFiles = Directory.GetFiles(inputs.ApplianceDir).Where(f => !f.EndsWith(".pdb", StringComparison.Ordinal) && !f.EndsWith(".dbg", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToList();
        foreach (var file in applianceFiles)
        {
            Add(CpioEntry.File($"{InstallDir}/{Path.GetFileName(file)}", File.ReadAllBytes(file), Exec));
        }
        Add(CpioEntry.Link("init", $"{InstallDir}/ppn"));
        Add(CpioEntry.Link("usr/bin/ppn", "../lib/ppn/ppn"));

        var elfs = applianceFiles.Where(IsElf).ToList();
        var libraries = _resolveLibraries(elfs);
        foreach (var lib in libraries)
        {
            Add(CpioEntry.File(lib.ImagePath.TrimStart('/'), File.ReadAllBytes(lib.HostPath), Exec));
        }
        _progress($"libraries: {libraries.Count} ({string.Join(", ", libraries.Select(l => Path.GetFileName(l.ImagePath)))})");

        var moduleSet = ModuleSet.Parse(File.ReadAllText(depFile), depFile);
        var wanted = ModuleSet.Required.Concat(inputs.ExtraModules ?? []).Distinct(StringComparer.Ordinal).ToList();
        var shipped = moduleSet.Closure(wanted, inputs.KernelVersion);
        foreach (var module in shipped)
        {
            if (!module.EndsWith(".ko", StringComparison.Ordinal))
            {
                throw new NotSupportedException($"{module} is compressed; the appliance loads plain .ko files (Debian 12 ships them plain): use a kernel whose modules are not compressed");
            }
            Add(CpioEntry.File($"lib/modules/{inputs.KernelVersion}/{module}", File.ReadAllBytes(Path.Combine(moduleDir, module)), Data));
        }
        Add(CpioEntry.File($"lib/modules/{inputs.KernelVersion}/modules.dep", Encoding.UTF8.GetBytes(moduleSet.FilteredModulesDep(shipped)), Data));
        _progress($"modules: {shipped.Count} ({string.Join(' ', shipped.Select(ModuleSet.NameOf))})");

        foreach (var dir in new[] { "dev", "proc", "sys", "run", "tmp", "etc", "var" })
        {
            Add(CpioEntry.Dir(dir));
        }
        // The kernel opens /dev/console from the initramfs to give /init its stdin/stdout/stderr.
        Add(CpioEntry.Device("dev/console", 5, 1, 0x180 /* 0600 */));
        Add(CpioEntry.Device("dev/null", 1, 3, 0x1B6 /* 0666 */));
        Add(CpioEntry.File("etc/ppn/image.json", ImageJson(inputs, ppn, shipped), Data));

        Directory.CreateDirectory(inputs.OutDir);
        using var cpio = new MemoryStream();
        CpioWriter.Write(cpio, files.Values, (uint)inputs.SourceDateEpoch);
        var initramfs = DeterministicGzip.Compress(cpio.GetBuffer().AsSpan(0, (int)cpio.Length));
        WriteAtomically(Path.Combine(inputs.OutDir, "initramfs.cpio.gz"), initramfs);
        WriteAtomically(Path.Combine(inputs.OutDir, "vmlinuz"), File.ReadAllBytes(kernel));

        var outputs = new List<(string, long, string)>();
        foreach (var name in new[] { "initramfs.cpio.gz", "vmlinuz" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(inputs.OutDir, name));
            outputs.Add((name, bytes.LongLength, Convert.ToHexStringLower(SHA256.HashData(bytes))));
        }
        WriteAtomically(Path.Combine(inputs.OutDir, "SHA256SUMS"), Encoding.UTF8.GetBytes(string.Concat(outputs.Select(o => $"{o.Item3}  {o.Item1}\n"))));
        foreach (var (name, size, _) in outputs)
        {
            _progress($"{name}: {size:N0} bytes");
        }
        _progress($"initramfs: {cpio.Length:N0} bytes uncompressed, {files.Count} entries");
        return new ImageResult(outputs, shipped.Count, libraries.Count, cpio.Length);
    }

    private static byte[] ImageJson(ImageInputs inputs, string ppn, IReadOnlyList<string> modules)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("format", 1);
            w.WriteString("kernelVersion", inputs.KernelVersion);
            w.WriteNumber("sourceDateEpoch", inputs.SourceDateEpoch);
            w.WriteString("ppnSha256", Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(ppn))));
            w.WriteStartArray("modules");
            foreach (var m in modules)
            {
                w.WriteStringValue(ModuleSet.NameOf(m));
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    private static void AddParents(SortedDictionary<string, CpioEntry> files, string path)
    {
        var parent = Path.GetDirectoryName(path);
        while (!string.IsNullOrEmpty(parent))
        {
            files.TryAdd(parent, CpioEntry.Dir(parent));
            parent = Path.GetDirectoryName(parent);
        }
    }

    private static bool IsElf(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using var f = File.OpenRead(path);
        return f.Read(magic) == 4 && magic.SequenceEqual("\u007fELF"u8);
    }

    /// <summary>Write to a temp file and rename over the target: a failed build never leaves a half-written output.</summary>
    private static void WriteAtomically(string path, byte[] bytes)
    {
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, path, overwrite: true);
    }
}

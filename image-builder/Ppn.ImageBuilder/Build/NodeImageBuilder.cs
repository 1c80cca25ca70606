using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ppn.Formats;
using Ppn.ImageBuilder.Cpio;
using Ppn.ImageBuilder.Disk;
using Ppn.ImageBuilder.Elf;
using Ppn.ImageBuilder.Modules;
using Ppn.ImageBuilder.Uki;

namespace Ppn.ImageBuilder.Build;

/// <summary>Secure Boot signing material: a PEM private key and its PEM certificate (signed with osslsigncode).</summary>
public sealed record SigningKey(string KeyPath, string CertificatePath);

public sealed record ImageInputs(
    string ApplianceDir,
    string KernelVersion,
    string OutDir,
    string ModulesRoot = "/lib/modules",
    string BootDir = "/boot",
    long SourceDateEpoch = 0,
    IReadOnlyList<string>? ExtraModules = null)
{
    /// <summary>Canonical node configuration JSON (NodeConfig.ToJson) baked in as /etc/ppn/node.json; null for an unconfigured image.</summary>
    public byte[]? NodeConfigJson { get; init; }
    public string KernelCommandLine { get; init; } = NodeImageBuilder.DefaultCommandLine;
    public string StubPath { get; init; } = UkiWriter.DefaultStub;
    public SigningKey? Signing { get; init; }
    /// <summary>Largest compressed initramfs accepted (each of gzip and zstd).</summary>
    public long InitramfsBudget { get; init; } = NodeImageBuilder.DefaultInitramfsBudget;
}

public sealed record ImageResult(IReadOnlyList<ManifestFile> Outputs, int Modules, int Libraries, long InitramfsUncompressed);

/// <summary>The image would not fit its size budget; the message says by how much and what is big.</summary>
public sealed class ImageTooLargeException(string message) : Exception(message);

/// <summary>The appliance executable lacks the hardening PID 1 must keep (<see cref="ElfHardening.MissingForPid1"/>); the message lists what.</summary>
public sealed class UnhardenedApplianceException(string message) : Exception(message);

/// <summary>
/// Builds out/image/: the initramfs (ppn as /init, its libraries, kernel modules, node configuration) as gzip and
/// zstd, the kernel, a Unified Kernel Image (ppn.efi), a GPT disk image whose ESP boots that UKI, manifest.json
/// and SHA256SUMS. Same inputs give the same bytes for every output (signing aside). Layout: docs/image.md.
/// </summary>
public sealed class NodeImageBuilder
{
    public const string InstallDir = "usr/lib/ppn";
    public const string DefaultCommandLine = "console=tty0 console=ttyS0,115200 panic=-1";
    public const long DefaultInitramfsBudget = 16L * 1024 * 1024;
    public const string InitramfsGzip = "initramfs.cpio.gz", InitramfsZstd = "initramfs.cpio.zst", Kernel = "vmlinuz",
        Uki = "ppn.efi", DiskImage = "disk.img", Sums = "SHA256SUMS";
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
        // ppn becomes PID 1 and faces the LAN: refuse a build that lost ASLR, RELRO or the non-executable stack
        // (a link setting traded for start-up time, say: docs/performance.md) before anything is written.
        var hardening = ElfDynamicInfo.Parse(File.ReadAllBytes(ppn), ppn).Hardening;
        if (hardening.MissingForPid1() is { Count: > 0 } missing)
        {
            throw new UnhardenedApplianceException(
                $"{ppn} is not hardened as the node's PID 1 must be: {string.Join("; ", missing)}. Link it as a PIE with full RELRO and a non-executable stack (docs/image.md): rebuild it with `make publish`");
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
        if (!File.Exists(inputs.StubPath))
        {
            throw new FileNotFoundException($"no EFI stub at {inputs.StubPath}; apt-get install systemd-boot-efi (scripts/install-deps.sh does)");
        }
        if (inputs.Signing is { } signing && (!File.Exists(signing.KeyPath) || !File.Exists(signing.CertificatePath)))
        {
            throw new FileNotFoundException($"signing key {signing.KeyPath} or certificate {signing.CertificatePath} does not exist");
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
            Add(lib.SameAs is { } same
                ? CpioEntry.Link(lib.ImagePath.TrimStart('/'), same)
                : CpioEntry.File(lib.ImagePath.TrimStart('/'), File.ReadAllBytes(lib.HostPath), Exec));
        }
        _progress($"appliance: ppn is {hardening.Summary()}");
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
        // modules.alias for the shipped modules: PID 1 loads a device driver only for a device present (docs/image.md).
        var aliasFile = Path.Combine(moduleDir, "modules.alias");
        if (File.Exists(aliasFile))
        {
            var aliases = Ppn.Linux.Modules.ModuleAliases.Parse(File.ReadAllText(aliasFile), aliasFile).Filtered(shipped.Select(ModuleSet.NameOf));
            Add(CpioEntry.File($"lib/modules/{inputs.KernelVersion}/modules.alias", Encoding.UTF8.GetBytes(aliases), Data));
        }
        else
        {
            _progress($"modules: no {aliasFile}: the node will load every shipped module, whatever its hardware");
        }
        _progress($"modules: {shipped.Count} ({string.Join(' ', shipped.Select(ModuleSet.NameOf))})");

        foreach (var dir in new[] { "dev", "proc", "sys", "run", "tmp", "etc", "var" })
        {
            Add(CpioEntry.Dir(dir));
        }
        // The kernel opens /dev/console from the initramfs to give /init its stdin/stdout/stderr.
        Add(CpioEntry.Device("dev/console", 5, 1, 0x180 /* 0600 */));
        Add(CpioEntry.Device("dev/null", 1, 3, 0x1B6 /* 0666 */));
        Add(CpioEntry.File(ImageFacts.ImagePath.TrimStart('/'), ImageJson(inputs, ppn, shipped), Data));
        if (inputs.NodeConfigJson is { } config)
        {
            Add(CpioEntry.File("etc/ppn/node.json", config, Data));
            _progress("node configuration: /etc/ppn/node.json");
        }
        else
        {
            _progress("node configuration: none (unconfigured image; pass --config FILE to bake one in)");
        }

        Directory.CreateDirectory(inputs.OutDir);
        using var cpio = new MemoryStream();
        CpioWriter.Write(cpio, files.Values, (uint)inputs.SourceDateEpoch);
        var cpioBytes = cpio.ToArray();
        _progress($"initramfs: {Size(cpioBytes.Length)} uncompressed, {files.Count} entries");

        var gzip = Step("initramfs gzip", () => DeterministicGzip.Compress(cpioBytes));
        // -T1: one worker, so the frame layout never depends on the core count; zstd's output is a function of
        // its input, level and version (recorded in the manifest).
        var zstd = Step("initramfs zstd", () => HostTool.Run("zstd", ["-19", "-T1", "-q", "-c", "--no-progress"], inputs.SourceDateEpoch, cpioBytes));
        foreach (var (name, bytes) in new[] { (InitramfsGzip, gzip), (InitramfsZstd, zstd) })
        {
            if (bytes.LongLength > inputs.InitramfsBudget)
            {
                var biggest = files.Values.Where(f => f.Data is not null).OrderByDescending(f => f.Data!.Length).Take(3).Select(f => $"{f.Path} {Size(f.Data!.Length)}");
                throw new ImageTooLargeException($"{name} is {Size(bytes.LongLength)}, over the {Size(inputs.InitramfsBudget)} budget (largest: {string.Join(", ", biggest)}); ship fewer modules or a smaller appliance");
            }
        }
        var vmlinuz = File.ReadAllBytes(kernel);

        var unsignedUki = Step("unified kernel image", () => UkiWriter.Build(File.ReadAllBytes(inputs.StubPath),
        [
            (".osrel", UkiWriter.OsRelease(Version, inputs.KernelVersion)),
            (".cmdline", Encoding.ASCII.GetBytes(inputs.KernelCommandLine)),
            (".linux", vmlinuz),
            (".initrd", zstd),
        ]));
        var work = Path.Combine(inputs.OutDir, ".work");
        Directory.CreateDirectory(work);
        byte[] uki = unsignedUki;
        if (inputs.Signing is { } key)
        {
            uki = Step("secure boot signing", () => Sign(unsignedUki, key, work, inputs.SourceDateEpoch));
        }
        var esp = Step("EFI system partition", () => EspImage.Build(uki, work, inputs.SourceDateEpoch));
        Directory.Delete(work, recursive: true);

        WriteAtomically(Path.Combine(inputs.OutDir, InitramfsGzip), gzip);
        WriteAtomically(Path.Combine(inputs.OutDir, InitramfsZstd), zstd);
        WriteAtomically(Path.Combine(inputs.OutDir, Kernel), vmlinuz);
        WriteAtomically(Path.Combine(inputs.OutDir, Uki), uki);
        Step("GPT disk image", () =>
        {
            var temp = Path.Combine(inputs.OutDir, DiskImage + ".tmp");
            using (var disk = new FileStream(temp, FileMode.Create, FileAccess.Write))
            {
                GptDisk.Write(disk, esp, GptDisk.EfiSystemPartition, "EFI System");
            }
            File.Move(temp, Path.Combine(inputs.OutDir, DiskImage), overwrite: true);
            return new FileInfo(Path.Combine(inputs.OutDir, DiskImage)).Length;
        });

        var outputs = new List<ManifestFile>();
        foreach (var name in new[] { DiskImage, InitramfsGzip, InitramfsZstd, Uki, Kernel })
        {
            outputs.Add(Describe(Path.Combine(inputs.OutDir, name)));
        }
        var manifest = Manifest.Create(inputs.SourceDateEpoch, inputs.KernelVersion, shipped.Select(ModuleSet.NameOf).ToList(),
            libraries.Select(l => l.ImagePath).ToList(), inputs.NodeConfigJson, inputs.KernelCommandLine, inputs.Signing is not null,
            Convert.ToHexStringLower(SHA256.HashData(unsignedUki)), ToolVersions(inputs), outputs);
        WriteAtomically(Path.Combine(inputs.OutDir, Manifest.FileName), manifest.ToJson());
        outputs.Add(Describe(Path.Combine(inputs.OutDir, Manifest.FileName)));
        WriteAtomically(Path.Combine(inputs.OutDir, Sums), Encoding.UTF8.GetBytes(string.Concat(outputs.Select(o => $"{o.Sha256}  {o.Name}\n"))));
        foreach (var o in outputs)
        {
            _progress($"{o.Name}: {Size(o.Size)}");
        }
        return new ImageResult(outputs, shipped.Count, libraries.Count, cpioBytes.Length);
    }

    public static string Version => typeof(NodeImageBuilder).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public static string Size(long bytes) => bytes >= 1024 * 1024
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:0.00} MiB ({bytes:N0} bytes)")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes:N0} bytes");

    private T Step<T>(string name, Func<T> work)
    {
        _progress($"{name} ...");
        var clock = Stopwatch.StartNew();
        var result = work();
        var size = result switch
        {
            byte[] b => $", {Size(b.LongLength)}",
            long n => $", {Size(n)}",
            _ => "",
        };
        _progress(string.Create(CultureInfo.InvariantCulture, $"{name}: done in {clock.Elapsed.TotalSeconds:0.0} s{size}"));
        return result;
    }

    private static byte[] Sign(byte[] unsigned, SigningKey key, string work, long epoch)
    {
        var input = Path.Combine(work, "unsigned.efi");
        var output = Path.Combine(work, "signed.efi");
        File.WriteAllBytes(input, unsigned);
        // osslsigncode, not sbsign: sbsign stamps the wall-clock signing time into the PKCS#7 signature, so
        // signed builds could never be reproducible. With -time the signing time is SOURCE_DATE_EPOCH and
        // (RSA PKCS#1 v1.5 being deterministic) the same inputs give the same signed bytes.
        HostTool.Run("osslsigncode", ["sign", "-certs", key.CertificatePath, "-key", key.KeyPath, "-h", "sha256",
            "-time", epoch.ToString(System.Globalization.CultureInfo.InvariantCulture), "-in", input, "-out", output], epoch);
        return File.ReadAllBytes(output);
    }

    private static IReadOnlyList<(string, string)> ToolVersions(ImageInputs inputs) =>
    [
        ("ppn-image", Version),
        ("dosfstools", HostTool.PackageVersion("dosfstools")),
        ("mtools", HostTool.PackageVersion("mtools")),
        ("zstd", HostTool.PackageVersion("zstd")),
        ("systemd-boot-efi", HostTool.PackageVersion("systemd-boot-efi")),
        ("efiStubSha256", Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(inputs.StubPath)))),
        ("osslsigncode", inputs.Signing is null ? "not used" : HostTool.PackageVersion("osslsigncode")),
        // What else decides the bytes (docs/image.md, Reproducibility): the SDK that built ppn, the loader and libc
        // copied into the initramfs, and the kernel package the image ships.
        ("dotnet-sdk", HostTool.DotnetSdkVersion()),
        ("dotnet-runtime", System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription),
        ("libc6", HostTool.PackageVersion("libc6")),
        ("linux-image", HostTool.PackageVersion($"linux-image-{inputs.KernelVersion}")),
    ];

    public static ManifestFile Describe(string path)
    {
        using var f = File.OpenRead(path);
        return new ManifestFile(Path.GetFileName(path), f.Length, Convert.ToHexStringLower(SHA256.HashData(f)));
    }

    private static byte[] ImageJson(ImageInputs inputs, string ppn, IReadOnlyList<string> modules) =>
        new ImageFacts(ImageFacts.CurrentFormat, inputs.KernelVersion, inputs.SourceDateEpoch,
            Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(ppn))), [.. modules.Select(ModuleSet.NameOf)]).ToJson();

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

using System.CommandLine;
using Ppn.Genesis.Configuration;
using Ppn.ImageBuilder.Build;
using Ppn.ImageBuilder.Flash;
using Ppn.ImageBuilder.Inspect;

var root = new RootCommand("""
    ppn-image — builds, inspects, verifies and flashes PPN node images (build hosts and technicians; never runs on a node).

    Exit codes: 0 done, 1 bad input (missing appliance/kernel/module/tool, invalid --config, image over budget,
    verify mismatch, flash refused), 2 build or I/O failure.
    """);

int Fail(string message, int code)
{
    Console.Error.WriteLine($"ppn-image: error: {message}");
    return code;
}

// build
var appliance = new Option<string>("--appliance") { Description = "Directory with the published ppn executable and libsodium.so (make publish → out/bin)", Required = true };
var kernelVersion = new Option<string>("--kernel-version") { Description = "Kernel release, e.g. 6.1.0-56-amd64 (vmlinuz-<release> and /lib/modules/<release>)", Required = true };
var outDir = new Option<string>("--out") { Description = "Output directory (disk.img, ppn.efi, initramfs.cpio.{gz,zst}, vmlinuz, manifest.json, SHA256SUMS)", Required = true };
var modulesRoot = new Option<string>("--modules-root") { Description = "Where kernel modules live", DefaultValueFactory = _ => "/lib/modules" };
var bootDir = new Option<string>("--boot-dir") { Description = "Where vmlinuz-<release> lives", DefaultValueFactory = _ => "/boot" };
var epoch = new Option<long?>("--source-date-epoch") { Description = "Timestamp for every archive entry and FAT entry (default: $SOURCE_DATE_EPOCH, else 0)" };
var extra = new Option<string[]>("--extra-module") { Description = "Another kernel module to ship (repeatable)", AllowMultipleArgumentsPerToken = true };
var config = new Option<string?>("--config") { Description = "Node configuration JSON (format 1, docs/image.md) baked in as /etc/ppn/node.json" };
var cmdline = new Option<string>("--cmdline") { Description = "Kernel command line in the UKI", DefaultValueFactory = _ => NodeImageBuilder.DefaultCommandLine };
var stub = new Option<string>("--efi-stub") { Description = "systemd-boot EFI stub the UKI is built on", DefaultValueFactory = _ => Ppn.ImageBuilder.Uki.UkiWriter.DefaultStub };
var signKey = new Option<string?>("--sign-key") { Description = "Secure Boot: PEM private key (with --sign-cert); the UKI is signed with osslsigncode at SOURCE_DATE_EPOCH, so signed builds are reproducible too" };
var signCert = new Option<string?>("--sign-cert") { Description = "Secure Boot: PEM certificate (with --sign-key)" };

var build = new Command("build", "Build the node image: initramfs (ppn as /init, libraries, modules, node configuration), UKI, GPT disk image, manifest");
foreach (var option in new Option[] { appliance, kernelVersion, outDir, modulesRoot, bootDir, epoch, extra, config, cmdline, stub, signKey, signCert })
{
    build.Options.Add(option);
}
build.SetAction(parse =>
{
    long sourceDateEpoch = parse.GetValue(epoch)
        ?? (long.TryParse(Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH"), out var e) ? e : 0);
    byte[]? nodeConfig = null;
    if (parse.GetValue(config) is { } configPath)
    {
        if (!NodeConfig.TryLoad(configPath, out var parsed, out var errors))
        {
            foreach (var error in errors)
            {
                Console.Error.WriteLine($"ppn-image: {configPath}: {error}");
            }
            return Fail($"{configPath} is not a valid node configuration ({errors.Count} problem(s) above)", 1);
        }
        nodeConfig = parsed.ToJson();
    }
    var (key, cert) = (parse.GetValue(signKey), parse.GetValue(signCert));
    if ((key is null) != (cert is null))
    {
        return Fail("--sign-key and --sign-cert go together", 1);
    }
    var inputs = new ImageInputs(
        parse.GetValue(appliance)!, parse.GetValue(kernelVersion)!, parse.GetValue(outDir)!,
        parse.GetValue(modulesRoot)!, parse.GetValue(bootDir)!, sourceDateEpoch, parse.GetValue(extra) ?? [])
    {
        NodeConfigJson = nodeConfig,
        KernelCommandLine = parse.GetValue(cmdline)!,
        StubPath = parse.GetValue(stub)!,
        Signing = key is null ? null : new SigningKey(key, cert!),
    };
    try
    {
        var result = new NodeImageBuilder(line => Console.WriteLine($"ppn-image: {line}")).Build(inputs);
        Console.WriteLine($"ppn-image: built {inputs.OutDir} ({result.Modules} modules, {result.Libraries} libraries)");
        return 0;
    }
    catch (Exception ex) when (ex is FileNotFoundException or FormatException or NotSupportedException or ArgumentException or ImageTooLargeException)
    {
        return Fail(ex.Message, 1);
    }
    catch (IOException ex)
    {
        return Fail(ex.Message, 2);
    }
});
root.Subcommands.Add(build);

// inspect
var imageArg = new Argument<string>("IMAGE") { Description = "An output directory, a disk image or a UKI (ppn.efi)" };
var inspect = new Command("inspect", "Show what an image holds, read from the image itself: UKI sections, command line, modules, node configuration");
inspect.Arguments.Add(imageArg);
inspect.SetAction(parse =>
{
    try
    {
        foreach (var line in ImageInspector.Describe(parse.GetValue(imageArg)!))
        {
            Console.WriteLine(line);
        }
        return 0;
    }
    catch (Exception ex) when (ex is FileNotFoundException or FormatException)
    {
        return Fail(ex.Message, 1);
    }
    catch (IOException ex)
    {
        return Fail(ex.Message, 2);
    }
});
root.Subcommands.Add(inspect);

// verify
var verify = new Command("verify", "Check a built image directory against its manifest.json (sizes, sha256, GPT, the ESP's boot file)");
var verifyArg = new Argument<string>("IMAGE") { Description = "The output directory of ppn-image build (or a file in it)" };
verify.Arguments.Add(verifyArg);
verify.SetAction(parse =>
{
    try
    {
        bool ok = ImageVerifier.Verify(parse.GetValue(verifyArg)!, out var report);
        foreach (var line in report)
        {
            Console.WriteLine(line);
        }
        Console.WriteLine(ok ? "ppn-image: verify: OK" : "ppn-image: verify: FAILED");
        return ok ? 0 : 1;
    }
    catch (IOException ex)
    {
        return Fail(ex.Message, 2);
    }
});
root.Subcommands.Add(verify);

// flash
var flash = new Command("flash", "Write a disk image to a whole disk, with safety checks, then read it back and compare");
var flashArg = new Argument<string>("IMAGE") { Description = "disk.img, or the output directory holding it (verified against its manifest first)" };
var device = new Option<string>("--device") { Description = "The whole disk to overwrite, e.g. /dev/sdX (lsblk)", Required = true };
var force = new Option<bool>("--force") { Description = $"Allow a disk larger than {FlashOptions.DefaultLargeDiskLimit >> 30} GiB (never a mounted or system disk)" };
flash.Arguments.Add(flashArg);
flash.Options.Add(device);
flash.Options.Add(force);
flash.SetAction(parse =>
{
    var image = parse.GetValue(flashArg)!;
    if (Directory.Exists(image))
    {
        image = Path.Combine(image, NodeImageBuilder.DiskImage);
    }
    if (!File.Exists(image))
    {
        return Fail($"{image} does not exist; build it with ppn-image build", 1);
    }
    if (File.Exists(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(image))!, Ppn.ImageBuilder.Build.Manifest.FileName))
        && !ImageVerifier.Verify(image, out var report))
    {
        foreach (var line in report.Where(l => l.StartsWith("FAIL", StringComparison.Ordinal)))
        {
            Console.Error.WriteLine(line);
        }
        return Fail($"{image} does not match its manifest; rebuild it instead of flashing it", 1);
    }
    try
    {
        new Flasher(new HostRoots(), line => Console.WriteLine($"ppn-image: {line}"))
            .Flash(image, parse.GetValue(device)!, new FlashOptions(parse.GetValue(force)));
        return 0;
    }
    catch (FlashRefusedException ex)
    {
        return Fail($"refusing to flash: {ex.Message}", 1);
    }
    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
    {
        return Fail(ex.Message, 2);
    }
});
root.Subcommands.Add(flash);

return root.Parse(args).Invoke();

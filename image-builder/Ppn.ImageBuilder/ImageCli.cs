using System.CommandLine;
using Ppn.Cli;
using Ppn.Formats;
using Ppn.ImageBuilder.Build;
using Ppn.ImageBuilder.Flash;
using Ppn.ImageBuilder.Inspect;
using Ppn.Linux;

namespace Ppn.ImageBuilder;

/// <summary>The `ppn-image` command tree; Program.cs only runs it, tests run it in-process.</summary>
public static class ImageCli
{
    public const string Tool = "ppn-image";
    public const int Ok = 0, BadInput = 1, Failed = 2;

    private const string ExitCodesText = "Exit codes: 0 done, 1 bad input (missing appliance/kernel/module/tool, invalid --config, image over budget, not an image, verify mismatch, flash refused), 2 build or I/O failure.";

    public static int Run(IReadOnlyList<string> args, TextWriter? stdout = null, TextWriter? stderr = null) =>
        ToolParser.Run(Build(), args, Tool, new InvocationConfiguration { Output = stdout ?? Console.Out, Error = stderr ?? Console.Error });

    public static RootCommand Build()
    {
        var root = new RootCommand($"""
            ppn-image — builds, inspects, verifies and flashes PPN node images (build hosts and technicians; never runs on a node).

            {ExitCodesText}
            """);
        root.Subcommands.Add(BuildVerb());
        root.Subcommands.Add(Inspect());
        root.Subcommands.Add(Verify());
        root.Subcommands.Add(Flash());
        CompletionVerb.AddTo(root, Tool);
        ToolParser.ListFirstParagraphs(root);
        return root;
    }

    private static readonly Option<bool> Json = new("--json") { Description = "Machine-readable JSON output (errors too: one {\"error\": …} object)" };

    /// <summary>A failure the verb reports: one line, an exit code.</summary>
    private sealed class Refusal(int code, string message) : Exception(message)
    {
        public int Code { get; } = code;
    }

    /// <summary>Runs a verb body; every failure becomes one line (or one JSON object) and an exit code, never a trace.</summary>
    private static void Action(Command command, Func<ParseResult, TextWriter, int> body, Func<ParseResult, string> subject, bool json = false)
    {
        if (json)
        {
            command.Options.Add(Json);
        }
        command.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            int code;
            string message;
            try
            {
                return body(parse, stdout);
            }
            catch (Refusal r)
            {
                (code, message) = (r.Code, r.Message);
            }
            catch (FlashRefusedException e)
            {
                (code, message) = (BadInput, $"refusing to flash: {e.Message}");
            }
            catch (FileNotFoundException e) when (e.FileName is null)
            {
                (code, message) = (BadInput, e.Message); // ours: "no appliance executable at …; run make publish"
            }
            catch (Exception e) when (e is FormatException or InvalidDataException or NotSupportedException or ArgumentException or ImageTooLargeException or UnhardenedApplianceException)
            {
                (code, message) = (BadInput, e.Message);
            }
            catch (SyscallException e)
            {
                (code, message) = (Failed, e.Message);
            }
            catch (IOException e) when (e.GetType() == typeof(IOException) && e.HResult < 0)
            {
                (code, message) = (Failed, e.Message); // ours (a host tool failed, the read-back differs); the runtime's carry errno
            }
            catch (Exception e) when (FileErrors.IsFileError(e))
            {
                (code, message) = (Failed, FileErrors.Describe(e, subject(parse)));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A bug of ours on some input: still one line, with what to report, never a trace.
                (code, message) = (Failed, $"internal error: {e.GetType().Name}: {e.Message} (a bug in ppn-image; report it with the input)");
            }
            if (json && parse.GetValue(Json))
            {
                stdout.Write(CliJson.Error(Tool, code, message));
            }
            else
            {
                parse.InvocationConfiguration.Error.WriteLine($"{Tool}: error: {message}");
            }
            return code;
        });
    }

    private static Command BuildVerb()
    {
        var appliance = new Option<string>("--appliance") { Description = "Directory with the published ppn executable and libsodium.so (make publish → out/bin)", Required = true };
        var kernelVersion = new Option<string>("--kernel-version") { Description = "Kernel release, e.g. 6.1.0-56-amd64 (vmlinuz-<release> and /lib/modules/<release>)", Required = true };
        var outDir = new Option<string>("--out") { Description = "Output directory (disk.img, ppn.efi, initramfs.cpio.{gz,zst}, vmlinuz, manifest.json, SHA256SUMS)", Required = true };
        var modulesRoot = new Option<string>("--modules-root") { Description = "Where kernel modules live", DefaultValueFactory = _ => "/lib/modules" };
        var bootDir = new Option<string>("--boot-dir") { Description = "Where vmlinuz-<release> lives", DefaultValueFactory = _ => "/boot" };
        var epoch = new Option<long?>("--source-date-epoch") { Description = "Timestamp for every archive entry and FAT entry (default: $SOURCE_DATE_EPOCH, else 0)" };
        var extra = new Option<string[]>("--extra-module") { Description = "Another kernel module to ship (repeatable)", AllowMultipleArgumentsPerToken = true };
        var config = new Option<string?>("--config") { Description = "Node configuration JSON (format 2, docs/image.md) baked in as /etc/ppn/node.json" };
        var cmdline = new Option<string>("--cmdline") { Description = "Kernel command line in the UKI", DefaultValueFactory = _ => NodeImageBuilder.DefaultCommandLine };
        var stub = new Option<string>("--efi-stub") { Description = "systemd-boot EFI stub the UKI is built on", DefaultValueFactory = _ => Uki.UkiWriter.DefaultStub };
        var signKey = new Option<string?>("--sign-key") { Description = "Secure Boot: PEM private key (with --sign-cert); the UKI is signed with osslsigncode at SOURCE_DATE_EPOCH, so signed builds are reproducible too" };
        var signCert = new Option<string?>("--sign-cert") { Description = "Secure Boot: PEM certificate (with --sign-key)" };

        var build = new Command("build", $"""
            Build the node image: initramfs (ppn as /init, libraries, modules, node configuration), UKI, GPT disk image, manifest.

            {ExitCodesText}
            """);
        foreach (var option in new Option[] { appliance, kernelVersion, outDir, modulesRoot, bootDir, epoch, extra, config, cmdline, stub, signKey, signCert })
        {
            build.Options.Add(option);
        }
        Action(build, (parse, stdout) =>
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
                        parse.InvocationConfiguration.Error.WriteLine($"{Tool}: {configPath}: {error}");
                    }
                    throw new Refusal(BadInput, $"{configPath} is not a valid node configuration ({errors.Count} problem(s) above)");
                }
                nodeConfig = parsed.ToJson();
            }
            var (key, cert) = (parse.GetValue(signKey), parse.GetValue(signCert));
            if ((key is null) != (cert is null))
            {
                throw new Refusal(BadInput, "--sign-key and --sign-cert go together");
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
            var result = new NodeImageBuilder(line => stdout.WriteLine($"{Tool}: {line}")).Build(inputs);
            stdout.WriteLine($"{Tool}: built {inputs.OutDir} ({result.Modules} modules, {result.Libraries} libraries)");
            return Ok;
        }, parse => parse.GetValue(outDir)!);
        return build;
    }

    private static Command Inspect()
    {
        var image = new Argument<string>("IMAGE") { Description = "An output directory, a disk image or a UKI (ppn.efi)" };
        var inspect = new Command("inspect", $"""
            Show what an image holds, read from the image itself: UKI sections, command line, modules, node configuration.

            {ExitCodesText}
            """);
        inspect.Arguments.Add(image);
        Action(inspect, (parse, stdout) =>
        {
            var path = parse.GetValue(image)!;
            var report = ImageInspector.Inspect(path);
            if (parse.GetValue(Json))
            {
                stdout.Write(CliJson.Write(w => report.Json.WriteTo(w)));
            }
            else
            {
                foreach (var line in report.Lines) stdout.WriteLine(line);
            }
            return Ok;
        }, parse => parse.GetValue(image)!, json: true);
        return inspect;
    }

    private static Command Verify()
    {
        var image = new Argument<string>("IMAGE") { Description = "The output directory of ppn-image build (or a file in it)" };
        var verify = new Command("verify", $"""
            Check a built image directory against its manifest.json (sizes, sha256, both GPT headers and entry arrays, the ESP's boot file).

            {ExitCodesText}
            """);
        verify.Arguments.Add(image);
        Action(verify, (parse, stdout) =>
        {
            var path = parse.GetValue(image)!;
            bool ok = ImageVerifier.Verify(path, out var report);
            if (parse.GetValue(Json))
            {
                var document = new VerifyDocument(path, ok, [.. report.Select(line =>
                    new VerifyCheckPart(!line.StartsWith("FAIL", StringComparison.Ordinal), line.Length > 5 ? line[5..] : line))]);
                stdout.Write(System.Text.Json.JsonSerializer.Serialize(document, ImageBuilderJson.Greppable.VerifyDocument) + "\n");
            }
            else
            {
                foreach (var line in report) stdout.WriteLine(line);
                stdout.WriteLine(ok ? $"{Tool}: verify: OK" : $"{Tool}: verify: FAILED");
            }
            return ok ? Ok : BadInput;
        }, parse => parse.GetValue(image)!, json: true);
        return verify;
    }

    private static Command Flash()
    {
        var imageArg = new Argument<string>("IMAGE") { Description = "disk.img, or the output directory holding it (verified against its manifest first)" };
        var device = new Option<string>("--device") { Description = "The whole disk to overwrite, e.g. /dev/sdX (lsblk); a symlink is resolved and checked as its target", Required = true };
        var force = new Option<bool>("--force") { Description = $"Allow a disk larger than {FlashOptions.DefaultLargeDiskLimit >> 30} GiB (never a mounted or system disk)" };
        var flash = new Command("flash", $"""
            Write a disk image to a whole disk, with safety checks, then read it back and compare.

            {ExitCodesText}
            """);
        flash.Arguments.Add(imageArg);
        flash.Options.Add(device);
        flash.Options.Add(force);
        Action(flash, (parse, stdout) =>
        {
            var image = parse.GetValue(imageArg)!;
            if (Directory.Exists(image))
            {
                image = Path.Combine(image, NodeImageBuilder.DiskImage);
            }
            if (FileNode.Stat(image).Kind != FileNodeKind.Regular)
            {
                throw new Refusal(BadInput, File.Exists(image) || Directory.Exists(image)
                    ? $"{image} is not a regular file; give disk.img or the output directory of ppn-image build"
                    : $"{image} does not exist; build it with ppn-image build");
            }
            if (File.Exists(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(image))!, Manifest.FileName))
                && !ImageVerifier.Verify(image, out var report))
            {
                foreach (var line in report.Where(l => l.StartsWith("FAIL", StringComparison.Ordinal)))
                {
                    parse.InvocationConfiguration.Error.WriteLine(line);
                }
                throw new Refusal(BadInput, $"{image} does not match its manifest; rebuild it instead of flashing it");
            }
            using (var disk = File.OpenRead(image))
            {
                if (!Disk.GptDisk.TryRead(disk, out _, out var gptError))
                {
                    throw new Refusal(BadInput, $"{image} is not a GPT disk image ({gptError}); flash the disk.img ppn-image build wrote");
                }
            }
            new Flasher(new HostRoots(), line => stdout.WriteLine($"{Tool}: {line}"))
                .Flash(image, parse.GetValue(device)!, new FlashOptions(parse.GetValue(force)));
            return Ok;
        }, parse => parse.GetValue(device)!);
        return flash;
    }
}

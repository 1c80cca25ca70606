using System.CommandLine;
using Ppn.ImageBuilder.Build;

var root = new RootCommand("""
    ppn-image — builds PPN node images (build hosts only; never runs on a node).

    Exit codes: 0 built, 1 bad input (missing appliance, kernel or module), 2 build failure.
    """);

var appliance = new Option<string>("--appliance") { Description = "Directory with the published ppn executable and libsodium.so (make publish → out/bin)", Required = true };
var kernelVersion = new Option<string>("--kernel-version") { Description = "Kernel release, e.g. 6.1.0-56-amd64 (vmlinuz-<release> and /lib/modules/<release>)", Required = true };
var outDir = new Option<string>("--out") { Description = "Output directory (initramfs.cpio.gz, vmlinuz, SHA256SUMS)", Required = true };
var modulesRoot = new Option<string>("--modules-root") { Description = "Where kernel modules live", DefaultValueFactory = _ => "/lib/modules" };
var bootDir = new Option<string>("--boot-dir") { Description = "Where vmlinuz-<release> lives", DefaultValueFactory = _ => "/boot" };
var epoch = new Option<long?>("--source-date-epoch") { Description = "Timestamp for every archive entry (default: $SOURCE_DATE_EPOCH, else 0)" };
var extra = new Option<string[]>("--extra-module") { Description = "Another kernel module to ship (repeatable)", AllowMultipleArgumentsPerToken = true };

var build = new Command("build", "Build the node image: initramfs with ppn as /init, its libraries and kernel modules, plus the kernel");
foreach (var option in new Option[] { appliance, kernelVersion, outDir, modulesRoot, bootDir, epoch, extra })
{
    build.Options.Add(option);
}
build.SetAction(parse =>
{
    long sourceDateEpoch = parse.GetValue(epoch)
        ?? (long.TryParse(Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH"), out var e) ? e : 0);
    var inputs = new ImageInputs(
        parse.GetValue(appliance)!, parse.GetValue(kernelVersion)!, parse.GetValue(outDir)!,
        parse.GetValue(modulesRoot)!, parse.GetValue(bootDir)!, sourceDateEpoch, parse.GetValue(extra) ?? []);
    try
    {
        var result = new NodeImageBuilder(line => Console.WriteLine($"ppn-image: {line}")).Build(inputs);
        Console.WriteLine($"ppn-image: built {inputs.OutDir} ({result.Modules} modules, {result.Libraries} libraries)");
        return 0;
    }
    catch (Exception ex) when (ex is FileNotFoundException or FormatException or NotSupportedException or ArgumentException)
    {
        Console.Error.WriteLine($"ppn-image: error: {ex.Message}");
        return 1;
    }
    catch (IOException ex)
    {
        Console.Error.WriteLine($"ppn-image: error: {ex.Message}");
        return 2;
    }
});
root.Subcommands.Add(build);
return root.Parse(args).Invoke();

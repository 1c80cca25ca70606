using System.CommandLine;

namespace Ppn.Rig.Cli;

/// <summary>The `ppn-rig` command tree; <see cref="Main"/> only runs it, tests run it in-process.</summary>
public static class RigCli
{
    public static int Main(string[] args) => Run(args);

    public static int Run(IReadOnlyList<string> args, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        stdout ??= Console.Out;
        stderr ??= Console.Error;
        var parse = Ppn.Cli.ToolParser.Parse(Build(), args);
        if (parse.Errors.Count > 0)
        {
            // Usage errors are exit 2 here ("rig or usage"): System.CommandLine's 1 would read as "the product failed".
            foreach (var error in parse.Errors)
            {
                stderr.WriteLine($"ppn-rig: {error.Message}");
            }
            stderr.WriteLine("ppn-rig: see ppn-rig --help");
            return RigCommands.RigBroken;
        }
        return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }

    public static RootCommand Build()
    {
        var root = new RootCommand($"ppn-rig: the hardware-in-the-loop rig for PPN nodes (bench: USB hub power + USB serial; emulated: QEMU + OVMF).\n\n{RigCommands.ExitCodesText}");

        var image = new Option<string>("--image")
        {
            Description = "node image directory holding vmlinuz and initramfs.cpio.gz (default: $PPN_IMAGE_DIR, else out/image)",
        };
        var allConsole = new Option<bool>("--all-console")
        {
            Description = "show every console line (kernel too), not only the node's ppn: lines",
        };
        var demo = new Command("demo",
            "boot a factory-new node (self-genesis), power-cut and boot it again from the same NVRAM (same identity), " +
            "then boot another factory-new node (another identity). Exit 0 only if all held; 1 if not; 2 if the rig cannot run here; 3 a rig code error.");
        demo.Options.Add(image);
        demo.Options.Add(allConsole);
        demo.SetAction(pr => RigCommands.Guard(pr, () => new Demo(pr.InvocationConfiguration.Output, pr.GetValue(allConsole)).Run(pr.GetValue(image))));
        root.Subcommands.Add(demo);

        var outDir = new Option<string>("--out")
        {
            Description = "directory to write vmlinuz and initramfs.cpio.gz into",
            Required = true,
        };
        var standIn = new Command("stand-in-image",
            "build a busybox stand-in image that keeps the node contract (NVRAM key, banner on 9443), to test the rig without the real image");
        standIn.Options.Add(outDir);
        standIn.SetAction(pr => RigCommands.Guard(pr, () =>
        {
            var directory = pr.GetValue(outDir)!;
            Ppn.Rig.Emulation.NodeImage built;
            try
            {
                built = Ppn.Rig.Emulation.StandInImage.Build(directory);
            }
            catch (Exception e) when (Ppn.Linux.FileErrors.IsFileError(e))
            {
                throw new Ppn.Rig.Model.RigInfrastructureException(Ppn.Rig.Model.RigFault.ImageMissing,
                    $"cannot write the stand-in image: {Ppn.Linux.FileErrors.Describe(e, directory)}; give --out a directory you can create", e);
            }
            pr.InvocationConfiguration.Output.WriteLine($"stand-in image at {built.Directory} (NOT the product image; for rig self-tests)");
            return 0;
        }));
        root.Subcommands.Add(standIn);
        RigCommands.Add(root);
        Ppn.Cli.CompletionVerb.AddTo(root, "ppn-rig");
        RigCommands.ListExitCodes(root);
        Ppn.Cli.ToolParser.ListFirstParagraphs(root);
        return root;
    }
}

using System.CommandLine;
using Ppn.Rig.Cli;

var root = new RootCommand("ppn-rig: the hardware-in-the-loop rig for PPN nodes (bench: USB hub power + USB serial; emulated: QEMU + OVMF). " +
    "Exit codes: 0 ok, 1 product failure, 2 rig infrastructure (or usage), 3 rig code error.");

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
    "then boot another factory-new node (another identity). Exit 0 only if all held; 1 if not; 2 if the rig cannot run here.");
demo.Options.Add(image);
demo.Options.Add(allConsole);
demo.SetAction(pr => new Demo(Console.Out, pr.GetValue(allConsole)).Run(pr.GetValue(image)));
root.Subcommands.Add(demo);

var outDir = new Option<string>("--out")
{
    Description = "directory to write vmlinuz and initramfs.cpio.gz into",
    Required = true,
};
var standIn = new Command("stand-in-image",
    "build a busybox stand-in image that keeps the node contract (NVRAM key, banner on 9443), to test the rig without the real image");
standIn.Options.Add(outDir);
standIn.SetAction(pr =>
{
    var built = Ppn.Rig.Emulation.StandInImage.Build(pr.GetValue(outDir)!);
    Console.Out.WriteLine($"stand-in image at {built.Directory} (NOT the product image; for rig self-tests)");
    return 0;
});
root.Subcommands.Add(standIn);
RigCommands.Add(root);

return root.Parse(args).Invoke();

using System.Globalization;
using Ppn.Rig.Net;

namespace Ppn.Rig.Emulation;

/// <summary>Where the guest's first UART goes.</summary>
public enum QemuConsole
{
    /// <summary>QEMU's stdout (a pipe the rig reads): the emulated node.</summary>
    Stdio,
    /// <summary>A pseudo-terminal QEMU allocates (<c>-chardev pty</c>): a serial line, as a bench board's USB serial.</summary>
    Pty,
}

/// <summary>One QEMU machine as the rig starts it: everything its command line is made from.</summary>
public sealed record QemuMachine
{
    public required string Name { get; init; }
    public required BootSource Boot { get; init; }
    public required string NvramPath { get; init; }
    public required string QmpPath { get; init; }
    public required System.Net.NetworkInformation.PhysicalAddress Mac { get; init; }
    public NodeNetwork? Network { get; init; }
    public NicModel Nic { get; init; } = NicModel.VirtioNet;
    public int MemoryMiB { get; init; } = 512;
    public QemuConsole Console { get; init; } = QemuConsole.Stdio;

    /// <summary>-no-reboot: a guest reboot or panic ends the emulator (the emulated node sees it at once).</summary>
    public bool ExitOnReboot { get; init; } = true;

    /// <summary>-S: the CPU stays stopped until QMP <c>cont</c> (the console is attached first).</summary>
    public bool StartPaused { get; init; }
}

/// <summary>
/// The QEMU command line of a <see cref="QemuMachine"/>: q35, TCG (KVM fails with OVMF on our machines), OVMF
/// code read-only and the node's own variable file as its NVRAM, a direct kernel boot or a disk the firmware
/// boots, the console, a QMP socket and the NIC on the rig's tap.
/// </summary>
public static class QemuArguments
{
    public static IReadOnlyList<string> For(QemuMachine m)
    {
        var args = new List<string>
        {
            "-name", m.Name,
            "-machine", "q35", "-accel", "tcg", "-cpu", "max",
            "-m", m.MemoryMiB.ToString(CultureInfo.InvariantCulture),
            "-nographic",
        };
        if (m.ExitOnReboot)
        {
            args.Add("-no-reboot");
        }
        args.Add("-nodefaults");
        if (m.StartPaused)
        {
            args.Add("-S");
        }
        args.AddRange([
            "-drive", $"if=pflash,format=raw,unit=0,readonly=on,file={Escape(RigEnvironment.OvmfCode)}",
            "-drive", $"if=pflash,format=raw,unit=1,file={Escape(Path.GetFullPath(m.NvramPath))}",
        ]);
        if (m.Boot.Disk is { } disk)
        {
            // No -kernel: the firmware boots the disk's ESP like a real machine.
            args.AddRange(["-drive", Directory.Exists(disk)
                ? $"file=fat:{Escape(disk)},format=raw,if=virtio,readonly=on"
                : $"file={Escape(disk)},format=raw,if=virtio,snapshot=on"]);
        }
        else
        {
            args.AddRange(["-kernel", m.Boot.Kernel]);
            if (m.Boot.Initramfs is { } initrd)
            {
                args.AddRange(["-initrd", initrd]);
            }
            args.AddRange(["-append", m.Boot.CommandLine]);
        }
        // The first UART: on the rig's pipe (signal=off, so a stray ^C in the stream cannot kill QEMU) or a pty.
        args.AddRange(m.Console == QemuConsole.Stdio
            ? ["-chardev", "stdio,id=console,signal=off", "-serial", "chardev:console"]
            : ["-chardev", "pty,id=console", "-serial", "chardev:console"]);
        args.AddRange(["-qmp", $"unix:{Escape(m.QmpPath)},server=on,wait=off"]);
        if (m.Network is { } network)
        {
            args.AddRange([
                "-netdev", $"tap,id=n0,ifname={network.Tap},script=no,downscript=no",
                "-device", $"{DeviceName(m.Nic)},netdev=n0,mac={MacAddress.Format(m.Mac)}",
            ]);
        }
        return args;
    }

    /// <summary>QEMU's -device name for the NIC model.</summary>
    public static string DeviceName(NicModel nic) => nic switch
    {
        NicModel.E1000e => "e1000e",
        _ => "virtio-net-pci",
    };

    /// <summary>QEMU option syntax: a comma inside a value is doubled.</summary>
    public static string Escape(string value) => value.Replace(",", ",,", StringComparison.Ordinal);

    /// <summary>A short QMP socket path for one machine (sun_path holds 108 bytes: out of deep work directories).</summary>
    public static string NewQmpPath()
    {
        var runtime = Path.Combine(Path.GetTempPath(), $"ppnrig-{Environment.ProcessId}");
        return Path.Combine(runtime, string.Create(CultureInfo.InvariantCulture, $"{Interlocked.Increment(ref s_sequence)}.qmp"));
    }

    private static int s_sequence;
}

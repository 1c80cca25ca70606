using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Ppn.Rig.Model;

namespace Ppn.Rig.Emulation;

/// <summary>
/// The rig's USB code against a real kernel: a throwaway guest (host kernel, busybox, the USB host modules and
/// a Native AOT <c>ppn-rig</c> with libusb and its libraries) booted with QEMU's xHCI controller, an emulated
/// usb-hub on root port 1 and a keyboard behind the hub. Its /init runs <c>ppn-rig usb-probe --port 1-1:1</c>:
/// libusb enumeration through usbfs, hub descriptors read with real control transfers (the xHCI root hubs'
/// USB 2 and SuperSpeed descriptors, which the kernel answers, and the usb-hub's, which QEMU answers), port
/// status, the kernel's sysfs <c>disable</c> files, and the power switch's verdict on the hub.
/// </summary>
public static partial class UsbGuest
{
    public const string HubPort = "1-1:1";
    private static readonly string[] Modules = ["xhci_pci", "ftdi_sio"];
    private static readonly TimeSpan RunBudget = TimeSpan.FromMinutes(4);

    [GeneratedRegex(@"=> (/\S+)|^\s*(/\S+) \(", RegexOptions.Multiline)]
    private static partial Regex LddPath();

    /// <summary>The Native AOT ppn-rig: $PPN_RIG_NATIVE, else out/rig-native/ppn-rig (`make rig-native`).</summary>
    public static string LocateNativeRig()
    {
        var path = Environment.GetEnvironmentVariable("PPN_RIG_NATIVE") is { Length: > 0 } p
            ? p
            : Path.Combine(RigEnvironment.RepoRoot, "out", "rig-native", "ppn-rig");
        return File.Exists(path)
            ? path
            : throw new RigInfrastructureException(RigFault.ImageMissing, $"no Native AOT ppn-rig at {path}; run `make rig-native`");
    }

    /// <summary>Builds the guest's initramfs and returns it with the kernel.</summary>
    public static NodeImage Build(string nativeRig, string directory)
    {
        var kernel = HostKernel.Newest() ?? throw new RigInfrastructureException(RigFault.ImageMissing, HostKernel.Missing);
        var version = HostKernel.Release(kernel);
        const string libusb = "/usr/lib/x86_64-linux-gnu/libusb-1.0.so.0";
        if (!File.Exists(libusb))
        {
            throw new RigInfrastructureException(RigFault.LibraryMissing, $"{libusb} missing: install libusb-1.0-0 (scripts/install-deps.sh)");
        }
        Directory.CreateDirectory(directory);
        var staging = Directory.CreateTempSubdirectory("ppnrig-usbguest-").FullName;
        try
        {
            foreach (var d in new[] { "bin", "proc", "sys", "dev", "mod", "tmp" })
            {
                Directory.CreateDirectory(Path.Combine(staging, d));
            }
            File.Copy("/bin/busybox", Path.Combine(staging, "bin", "busybox"));
            File.Copy(nativeRig, Path.Combine(staging, "ppn-rig"));
            File.SetUnixFileMode(Path.Combine(staging, "ppn-rig"), UnixFileMode.UserRead | UnixFileMode.UserExecute);
            // ppn-rig's own libraries and libusb's (loaded with dlopen at the first call), at their host paths.
            var libraries = new SortedSet<string>(StringComparer.Ordinal) { libusb };
            foreach (var elf in new[] { nativeRig, libusb })
            {
                foreach (Match m in LddPath().Matches(HostCommand.Run("ldd", elf).StandardOutput))
                {
                    libraries.Add(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value);
                }
            }
            foreach (var library in libraries)
            {
                var target = Path.Combine(staging, library.TrimStart('/'));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(library, target, overwrite: true);
            }
            var insmods = new StringBuilder();
            foreach (var module in StandInImage.LoadOrder(Path.Combine("/lib/modules", version), Modules))
            {
                var name = Path.GetFileName(module);
                File.Copy(Path.Combine("/lib/modules", version, module), Path.Combine(staging, "mod", name));
                insmods.Append("insmod /mod/").Append(name).Append('\n');
            }
            var init = Path.Combine(staging, "init");
            File.WriteAllText(init, $$"""
                #!/bin/busybox sh
                /bin/busybox --install -s /bin
                export PATH=/bin
                mount -t proc proc /proc
                mount -t sysfs sysfs /sys
                mount -t devtmpfs devtmpfs /dev
                mount -t tmpfs tmpfs /tmp
                {{insmods}}
                export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu
                i=0
                while { [ ! -e /sys/bus/usb/devices/1-1.1 ] || [ ! -e /dev/ttyUSB0 ]; } && [ $i -lt 150 ]; do sleep 0.2; i=$((i+1)); done
                echo "usb-guest: kernel $(uname -r); devices: $(ls /sys/bus/usb/devices | tr '\n' ' ')"
                /ppn-rig usb-probe --port {{HubPort}}
                echo "usb-guest: usb-probe exit $?"
                /ppn-rig serial-probe /dev/ttyUSB0 --baud 115200 --lines 2 --for 200
                echo "usb-guest: serial-probe exit $?"
                poweroff -f
                """ + "\n");
            File.SetUnixFileMode(init, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return StandInImage.Pack(staging, directory, kernel, gzipLevel: 1);
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    public const string FirstSerialLine = "ppn: first line over usb-serial";
    public const string SecondSerialLine = "ppn: second line after the adapter was unplugged and plugged back";

    /// <summary>
    /// Boots the guest (one VM at a time, every step bounded) and drives it: once the guest's serial-probe
    /// captures /dev/ttyUSB0 the host writes a line into QEMU's usb-serial; once the guest has read it, the
    /// adapter is unplugged (QMP device_del) and plugged back (device_add), and after the guest's capture
    /// reconnected a second line follows. Returns the guest's console lines.
    /// </summary>
    public static IReadOnlyList<ConsoleLine> Run(NodeImage image, string workDirectory)
    {
        RigEnvironment.RequireEmulation();
        using var slot = EmulatorSlot.Acquire();
        var qmpPath = Path.Combine(workDirectory, "qmp.sock");
        var serialPath = Path.Combine(workDirectory, "serial.sock");
        var info = new ProcessStartInfo(RigEnvironment.QemuBinary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
        {
            "-machine", "q35", "-accel", "tcg", "-m", "512", "-nographic", "-no-reboot", "-nodefaults",
            "-serial", "stdio", "-kernel", image.Kernel, "-initrd", image.Initramfs,
            "-append", "console=ttyS0 panic=-1 loglevel=4",
            "-qmp", $"unix:{qmpPath},server=on,wait=off",
            "-chardev", $"socket,id=ser0,path={serialPath},server=on,wait=off",
            "-device", "qemu-xhci,id=xhci",
            "-device", "usb-hub,bus=xhci.0,port=1",
            "-device", "usb-kbd,bus=xhci.0,port=1.1",
            "-device", "usb-serial,id=ser,bus=xhci.0,port=2,chardev=ser0",
        })
        {
            info.ArgumentList.Add(a);
        }
        using var log = new ConsoleLog(Path.Combine(workDirectory, "console.log"), "usb guest");
        using var process = Process.Start(info) ?? throw new RigInfrastructureException(RigFault.EmulatorMissing, "QEMU did not start");
        process.StandardInput.Close();
        _ = process.StandardError.ReadToEndAsync();
        var reader = new Thread(() =>
        {
            var splitter = new ConsoleLog.LineSplitter(log.Append);
            var buffer = new byte[4096];
            int n;
            while ((n = process.StandardOutput.BaseStream.Read(buffer, 0, buffer.Length)) > 0)
            {
                splitter.Feed(buffer.AsSpan(0, n));
            }
            splitter.Flush();
            log.End("the guest powered off");
        })
        { IsBackground = true, Name = "usb guest console" };
        reader.Start();
        try
        {
            Drive(log, qmpPath, serialPath);
            if (!process.WaitForExit(RunBudget))
            {
                throw new RigInfrastructureException(RigFault.EmulatorDidNotStart,
                    $"the USB guest did not power off within {BoundedWait.Format(RunBudget)}; console: {log.LogPath}");
            }
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(TimeSpan.FromSeconds(10));
            }
            reader.Join(TimeSpan.FromSeconds(10));
        }
        return log.Snapshot();
    }

    private static void Drive(ConsoleLog log, string qmpPath, string serialPath)
    {
        var step = TimeSpan.FromSeconds(90);
        using var qmp = QmpClient.Connect(qmpPath, TimeSpan.FromSeconds(30));
        // QEMU attaches its usb-serial to the bus only while its chardev is connected: the host end stays open
        // for the whole run (closing it would be an unplug).
        using var serial = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        serial.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(serialPath));
        if (log.TryWaitForLine(new Regex(@"^serial-probe: capturing .* connection 1 "), TimeSpan.FromSeconds(180)) is null)
        {
            return; // the guest never got to its serial console; the caller's checks say what is missing
        }
        serial.Send(Encoding.ASCII.GetBytes(FirstSerialLine + "\r\n"));
        if (log.TryWaitForLine(new Regex("^serial-probe: line " + Regex.Escape(FirstSerialLine)), step) is null)
        {
            return;
        }
        qmp.Execute("device_del", w => w.WriteString("id", "ser"));
        if (log.TryWaitForLine(new Regex("^serial-probe: disconnected"), step) is null)
        {
            return;
        }
        // device_del completes asynchronously (DEVICE_DELETED); re-adding the same id fails until it has.
        BoundedWait.TryUntil(() =>
        {
            try
            {
                qmp.Execute("device_add", w =>
                {
                    w.WriteString("driver", "usb-serial");
                    w.WriteString("id", "ser");
                    w.WriteString("bus", "xhci.0");
                    w.WriteString("port", "2");
                    w.WriteString("chardev", "ser0");
                });
                return true;
            }
            catch (QmpException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200));
        if (log.TryWaitForLine(new Regex(@"^serial-probe: capturing .* connection 2 "), step) is null)
        {
            return;
        }
        serial.Send(Encoding.ASCII.GetBytes(SecondSerialLine + "\r\n"));
        log.TryWaitForLine(new Regex("^serial-probe: done"), step);
    }
}

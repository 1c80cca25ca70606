using System.Text;
using Ppn.Rig.Model;

namespace Ppn.Rig.Emulation;

/// <summary>
/// A stand-in node image for testing the rig itself: the host kernel plus a busybox initramfs whose /init
/// honours the node contract the scenarios assume (self-genesis key kept in a UEFI variable, <c>ppn:</c>
/// console lines, the banner on TCP 9443 of its EUI-64 link-local address). It is not the product; it lets
/// the rig's network path and the scenarios be proven before the real image exists.
/// </summary>
public static class StandInImage
{
    private const string ModulesRoot = "/lib/modules";
    private static readonly string[] Modules = ["virtio_pci", "virtio_net", "efivarfs"];

    // A GUID of our own so the stand-in never collides with firmware variables.
    private const string Variable = "PpnStandInKey-5a1d3c1e-6f2b-4e0c-9a1b-7c3d2e1f0a9b";

    /// <summary>Writes vmlinuz and initramfs.cpio.gz into <paramref name="directory"/>; returns the image.</summary>
    public static NodeImage Build(string directory)
    {
        var kernel = HostKernel.Newest() ?? throw new RigInfrastructureException(RigFault.ImageMissing, HostKernel.Missing);
        var version = HostKernel.Release(kernel);
        var busybox = "/bin/busybox";
        if (!File.Exists(busybox))
        {
            throw new RigInfrastructureException(RigFault.ImageMissing, "the stand-in image needs a static /bin/busybox (package busybox-static; scripts/install-deps.sh)");
        }
        Directory.CreateDirectory(directory);
        var staging = Directory.CreateTempSubdirectory("ppnrig-standin-").FullName;
        try
        {
            foreach (var d in new[] { "bin", "proc", "sys", "dev", "mod" })
            {
                Directory.CreateDirectory(Path.Combine(staging, d));
            }
            File.Copy(busybox, Path.Combine(staging, "bin", "busybox"));
            var order = LoadOrder(Path.Combine(ModulesRoot, version), Modules);
            var insmods = new StringBuilder();
            foreach (var module in order)
            {
                var name = Path.GetFileName(module);
                File.Copy(Path.Combine(ModulesRoot, version, module), Path.Combine(staging, "mod", name));
                insmods.Append("insmod /mod/").Append(name).Append('\n');
            }
            var init = Path.Combine(staging, "init");
            File.WriteAllText(init, InitScript(insmods.ToString()));
            if (OperatingSystem.IsLinux())
            {
                File.SetUnixFileMode(init, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            return Pack(staging, directory, kernel, gzipLevel: 9);
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>A staged root as the directory's initramfs (cpio newc, gzip) beside the kernel: a bootable throwaway image.</summary>
    internal static NodeImage Pack(string staging, string directory, string kernel, int gzipLevel)
    {
        var initramfs = Path.Combine(Path.GetFullPath(directory), NodeImage.InitramfsFile);
        HostCommand.Run("sh", "-c", string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"cd '{staging}' && find . | cpio -o -H newc --quiet | gzip -{gzipLevel} > '{initramfs}'"));
        File.Copy(kernel, Path.Combine(directory, NodeImage.KernelFile), overwrite: true);
        return NodeImage.Locate(directory);
    }

    /// <summary>Module files (relative to the modules dir) in an order insmod accepts: dependencies first (modules.dep).</summary>
    public static IReadOnlyList<string> LoadOrder(string modulesDirectory, IEnumerable<string> wanted)
    {
        var deps = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(Path.Combine(modulesDirectory, "modules.dep")))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                deps[line[..colon]] = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            }
        }
        var byName = deps.Keys.ToDictionary(k => Path.GetFileName(k).Split('.')[0].Replace('-', '_'), k => k, StringComparer.Ordinal);
        var order = new List<string>();
        void Visit(string module)
        {
            if (order.Contains(module))
            {
                return;
            }
            foreach (var dep in deps[module])
            {
                Visit(dep);
            }
            order.Add(module);
        }
        foreach (var name in wanted)
        {
            Visit(byName.TryGetValue(name, out var path) ? path
                : throw new InvalidOperationException($"module {name} not in {modulesDirectory}/modules.dep"));
        }
        return order;
    }

    private static string InitScript(string insmods) => $$"""
        #!/bin/busybox sh
        /bin/busybox --install -s /bin
        export PATH=/bin
        mount -t proc proc /proc
        mount -t sysfs sysfs /sys
        mount -t devtmpfs devtmpfs /dev
        {{insmods}}
        mount -t efivarfs efivarfs /sys/firmware/efi/efivars || echo "ppn: stand-in: no efivarfs"
        V=/sys/firmware/efi/efivars/{{Variable}}
        if [ -f "$V" ]; then
          KEY=$(tail -c +5 "$V")
          echo "ppn: stand-in: identity loaded from NVRAM"
        else
          KEY=$(head -c 32 /dev/urandom | base64)
          # efivarfs takes attributes (NV|BS|RT, little-endian u32) and data in one write.
          printf '\007\000\000\000%s' "$KEY" > "$V"
          echo "ppn: stand-in: self-genesis, identity written to NVRAM"
        fi
        ip link set lo up
        ip link set eth0 up
        echo "ppn: stand-in: holding on tcp/9443, key $KEY"
        while true; do
          printf 'PPN-GENESIS/1 %s\r\n' "$KEY" | nc -l -p 9443 >/dev/null
        done
        """ + "\n";
}

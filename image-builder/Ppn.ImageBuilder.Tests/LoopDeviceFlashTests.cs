using System.Diagnostics;
using System.Security.Cryptography;
using Ppn.ImageBuilder.Disk;
using Ppn.ImageBuilder.Flash;

namespace Ppn.ImageBuilder.Tests;

/// <summary>Runs only as root with losetup (CI and make test run as root); otherwise skipped with the reason.</summary>
public sealed class LoopDeviceFactAttribute : FactAttribute
{
    public LoopDeviceFactAttribute() =>
        Skip = RootOnly.WhyNot(["losetup"])
            ?? (File.Exists("/dev/loop-control") ? null : "no /dev/loop-control: this host cannot make loop devices");
}

/// <summary>Loop-device tests share the host's loop devices and mounts: one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LoopDeviceCollection
{
    public const string Name = "loop devices";
}

/// <summary>
/// `ppn-image flash` against real block devices: loop devices over files this test creates. Every check runs on
/// the resolved device, also through a symlink outside /dev; refused targets are left untouched. Every loop
/// device and mount the test made is removed, also when an assertion fails.
/// </summary>
[Collection(LoopDeviceCollection.Name)]
public sealed class LoopDeviceFlashTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-loopflash-").FullName;
    private readonly List<(string Command, string Arguments)> _cleanup = [];

    public void Dispose()
    {
        for (int i = _cleanup.Count - 1; i >= 0; i--)
        {
            Run(_cleanup[i].Command, _cleanup[i].Arguments, check: false);
        }
        Directory.Delete(_dir, recursive: true);
    }

    [LoopDeviceFact]
    public void Flashing_a_loop_device_writes_and_verifies_the_image_and_a_mounted_target_is_refused()
    {
        var image = BuildSmallImage();
        var device = Loop(24 * MiB, partScan: true);

        var progress = new List<string>();
        var hash = new Flasher(new HostRoots(), progress.Add).Flash(image, device, new FlashOptions());

        var written = new byte[new FileInfo(image).Length];
        using (var raw = File.OpenRead(device)) raw.ReadExactly(written);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(image))), Convert.ToHexStringLower(SHA256.HashData(written)));
        Assert.Contains(hash, string.Join('\n', progress));

        // The flashed disk now has a partition: flashing the partition is refused in favour of the disk.
        Run("partx", $"--update {device}", check: false);
        var partition = device + "p1";
        Assert.True(SpinWait.SpinUntil(() => File.Exists(partition), TimeSpan.FromSeconds(10)), $"{partition} did not appear");
        Assert.Contains("is a partition", Refused(image, partition).Message);

        // Mount the partition (re-formatted with a filesystem this host kernel surely has): the disk is refused,
        // --force or not, and also through a symlink outside /dev.
        var mountPoint = Directory.CreateDirectory(Path.Combine(_dir, "mnt")).FullName;
        Run("mkfs.ext4", $"-q -F {partition}");
        Run("mount", $"-o ro {partition} {mountPoint}");
        _cleanup.Add(("umount", mountPoint));
        Assert.Contains("mounted", Refused(image, device, new FlashOptions(Force: true)).Message);
        Assert.Contains("mounted", Refused(image, Link(device), new FlashOptions(Force: true)).Message);
    }

    [LoopDeviceFact]
    public void A_symlink_to_a_too_small_device_is_refused_before_the_first_byte_is_written()
    {
        var image = BuildSmallImage();
        var device = Loop(4 * MiB);
        var error = Refused(image, Link(device));
        Assert.Contains("the image needs", error.Message);
        Assert.Contains(device, error.Message);
        Assert.True(FirstBytesAreZero(device), "the refused device was written to");
    }

    [LoopDeviceFact]
    public void A_symlink_to_a_device_larger_than_the_limit_needs_force()
    {
        var image = BuildSmallImage();
        var device = Loop(48 * MiB);
        var limit = new FlashOptions(LargeDiskLimit: 32 * MiB);
        Assert.Contains("--force", Refused(image, Link(device), limit).Message);
        Assert.True(FirstBytesAreZero(device), "the refused device was written to");
        new Flasher(new HostRoots(), _ => { }).Flash(image, Link(device), limit with { Force = true });
        Assert.False(FirstBytesAreZero(device));
    }

    [LoopDeviceFact]
    public void A_read_only_device_is_refused_also_through_a_symlink()
    {
        var image = BuildSmallImage();
        var device = Loop(24 * MiB, readOnly: true);
        Assert.Contains("read-only", Refused(image, device).Message);
        Assert.Contains("read-only", Refused(image, Link(device)).Message);
    }

    private static FlashRefusedException Refused(string image, string device, FlashOptions? options = null) =>
        Assert.Throws<FlashRefusedException>(() => new Flasher(new HostRoots(), _ => { }).Flash(image, device, options ?? new FlashOptions()));

    /// <summary>A symlink outside /dev, as in the issue: `ln -s /dev/loopN link`.</summary>
    private string Link(string device)
    {
        var link = Path.Combine(_dir, $"link-to-{Path.GetFileName(device)}-{_cleanup.Count}-{Guid.NewGuid():N}");
        File.CreateSymbolicLink(link, device);
        return link;
    }

    private string Loop(long bytes, bool partScan = false, bool readOnly = false)
    {
        var backing = Path.Combine(_dir, $"device-{Guid.NewGuid():N}.img");
        using (var f = File.Create(backing)) f.SetLength(bytes);
        var device = Run("losetup", $"--find --show{(partScan ? " --partscan" : "")}{(readOnly ? " --read-only" : "")} {backing}").Trim();
        _cleanup.Add(("losetup", $"-d {device}"));
        return device;
    }

    private static bool FirstBytesAreZero(string device)
    {
        var head = new byte[64 * 1024];
        using (var raw = File.OpenRead(device)) raw.ReadExactly(head);
        return head.All(b => b == 0);
    }

    /// <summary>A GPT disk (about 10 MiB) with a FAT ESP, made with the image builder's own GPT writer and mkfs.vfat.</summary>
    private string BuildSmallImage()
    {
        var disk = Path.Combine(_dir, "disk.img");
        if (File.Exists(disk))
        {
            return disk;
        }
        var esp = Path.Combine(_dir, "esp.img");
        using (var f = File.Create(esp)) f.SetLength(8 * MiB);
        Run("mkfs.vfat", $"--invariant {esp}");
        using (var output = File.Create(disk))
        {
            GptDisk.Write(output, File.ReadAllBytes(esp), GptDisk.EfiSystemPartition, "EFI System");
        }
        return disk;
    }

    private static string Run(string file, string args, bool check = true)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)), $"{file} {args} hung");
        if (check)
        {
            Assert.True(p.ExitCode == 0, $"{file} {args} exited {p.ExitCode}: {stderr.Result}");
        }
        return stdout.Result;
    }
}

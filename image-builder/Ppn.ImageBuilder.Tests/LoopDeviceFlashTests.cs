using System.Diagnostics;
using System.Security.Cryptography;
using Ppn.ImageBuilder.Disk;
using Ppn.ImageBuilder.Flash;

namespace Ppn.ImageBuilder.Tests;

/// <summary>
/// `ppn-image flash` against a real block device: a loop device over a file this test creates (root, like
/// CI). The image is a small GPT disk; after flashing, the device holds exactly its bytes, and once a
/// partition of the device is mounted the next flash is refused.
/// </summary>
public sealed class LoopDeviceFlashTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-loopflash-").FullName;
    private readonly List<string> _cleanup = new();

    public void Dispose()
    {
        for (int i = _cleanup.Count - 1; i >= 0; i--)
        {
            var (cmd, arg) = (_cleanup[i].Split(' ')[0], _cleanup[i][(_cleanup[i].IndexOf(' ') + 1)..]);
            Run(cmd, arg, check: false);
        }
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Flashing_a_loop_device_writes_and_verifies_the_image_and_a_mounted_target_is_refused()
    {
        var image = BuildSmallImage();
        var backing = Path.Combine(_dir, "device.img");
        using (var f = File.Create(backing)) f.SetLength(96L * 1024 * 1024);
        var device = Run("losetup", $"--find --show --partscan {backing}").Trim();
        _cleanup.Add($"losetup -d {device}");

        var progress = new List<string>();
        var hash = new Flasher(new HostRoots(), progress.Add).Flash(image, device, new FlashOptions());

        var written = new byte[new FileInfo(image).Length];
        using (var raw = File.OpenRead(device)) raw.ReadExactly(written);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(image))), Convert.ToHexStringLower(SHA256.HashData(written)));
        Assert.Contains(hash, string.Join('\n', progress));

        // Mount the flashed disk's partition (re-formatted with a filesystem this host kernel surely has; the
        // image's bytes were already verified above): flashing that disk must now be refused, --force or not.
        Run("partx", $"--update {device}", check: false);
        var partition = device + "p1";
        Assert.True(SpinWait.SpinUntil(() => File.Exists(partition), TimeSpan.FromSeconds(10)), $"{partition} did not appear");
        var mountPoint = Directory.CreateDirectory(Path.Combine(_dir, "mnt")).FullName;
        Run("mkfs.ext4", $"-q -F {partition}");
        Run("mount", $"-o ro {partition} {mountPoint}");
        _cleanup.Add($"umount {mountPoint}");
        var refused = Assert.Throws<FlashRefusedException>(() => new Flasher(new HostRoots(), _ => { }).Flash(image, device, new FlashOptions(Force: true)));
        Assert.Contains("mounted", refused.Message);
    }

    private string BuildSmallImage()
    {
        // A GPT disk with a FAT ESP, made with the image builder's own GPT writer and mkfs.vfat.
        var esp = Path.Combine(_dir, "esp.img");
        using (var f = File.Create(esp)) f.SetLength(40L * 1024 * 1024);
        Run("mkfs.vfat", $"-F 32 --invariant {esp}");
        var disk = Path.Combine(_dir, "disk.img");
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

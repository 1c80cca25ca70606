using System.Security.Cryptography;
using Ppn.ImageBuilder.Flash;
using Ppn.Linux;

namespace Ppn.ImageBuilder.Tests;

/// <summary>The flasher against a fake /proc and /sys (refusals) and a regular file standing in for the disk (write + verify).</summary>
public sealed class FlashTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ppn-flash-").FullName;
    private readonly string _image;
    private readonly List<string> _progress = [];
    private readonly HostRoots _roots;

    public FlashTests()
    {
        _image = Path.Combine(_root, "disk.img");
        var bytes = new byte[9 * 1024 * 1024 + 123];
        new Random(1).NextBytes(bytes);
        File.WriteAllBytes(_image, bytes);
        _roots = new HostRoots(Path.Combine(_root, "proc"), Path.Combine(_root, "sys"));
        Directory.CreateDirectory(_roots.Proc);
        Mounts("/dev/nvme0n1p2 / ext4 rw,relatime 0 0", "proc /proc proc rw 0 0");
        Disk("nvme0n1", 1_000_000_000, partitions: ["nvme0n1p1", "nvme0n1p2"]);
        Disk("sdb", 16L * 1024 * 1024 * 1024, partitions: ["sdb1"], removable: true);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void Mounts(params string[] lines) => File.WriteAllLines(Path.Combine(_roots.Proc, "mounts"), lines);

    private void Disk(string name, long bytes, string[]? partitions = null, bool removable = false, bool readOnly = false)
    {
        var block = Directory.CreateDirectory(Path.Combine(_roots.Sys, "block", name)).FullName;
        File.WriteAllText(Path.Combine(block, "size"), $"{bytes / 512}\n");
        File.WriteAllText(Path.Combine(block, "removable"), removable ? "1\n" : "0\n");
        File.WriteAllText(Path.Combine(block, "ro"), readOnly ? "1\n" : "0\n");
        Directory.CreateDirectory(Path.Combine(block, "holders"));
        Directory.CreateDirectory(Path.Combine(_roots.Sys, "class", "block", name));
        foreach (var p in partitions ?? [])
        {
            Directory.CreateDirectory(Path.Combine(block, p, "holders"));
            var cls = Directory.CreateDirectory(Path.Combine(_roots.Sys, "class", "block", p)).FullName;
            File.WriteAllText(Path.Combine(cls, "partition"), "1\n");
        }
    }

    /// <summary>A fake /dev node: a regular file under our root, named like the disk the fake /sys describes.</summary>
    private string Device(string name)
    {
        var path = Path.Combine(Directory.CreateDirectory(Path.Combine(_root, "dev")).FullName, name);
        File.WriteAllBytes(path, []);
        return path;
    }

    /// <summary>The fake /dev: files under our root are "block devices" of the fake /sys; every other path is resolved for real.</summary>
    private FlashTarget Resolve(string path) =>
        Path.GetFullPath(path).StartsWith(Path.Combine(_root, "dev") + "/", StringComparison.Ordinal)
            ? new FlashTarget(path, path, FileNodeKind.BlockDevice, Path.GetFileName(path))
            : new Flasher(_roots, _ => { }).Resolve(path);

    private Flasher Flasher() => new(_roots, _progress.Add, Resolve);

    private FlashRefusedException Refused(string device, FlashOptions? options = null) =>
        Assert.Throws<FlashRefusedException>(() => Flasher().Flash(_image, device, options ?? new FlashOptions()));

    [Fact]
    public void Flashing_a_file_target_writes_syncs_reads_back_and_reports_progress()
    {
        var target = Path.Combine(_root, "out.img");
        var hash = Flasher().Flash(_image, target, new FlashOptions());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(_image))), hash);
        Assert.Equal(File.ReadAllBytes(_image), File.ReadAllBytes(target));
        Assert.Contains(_progress, l => l.Contains("writing 100%", StringComparison.Ordinal));
        Assert.Contains(_progress, l => l.Contains("verifying 100%", StringComparison.Ordinal));
        Assert.Contains(_progress, l => l.StartsWith("flash: verified sha256", StringComparison.Ordinal));
    }

    [Fact]
    public void The_disk_holding_the_root_filesystem_is_refused_even_with_force()
    {
        var error = Refused(Device("nvme0n1"), new FlashOptions(Force: true));
        Assert.Contains("system disk", error.Message);
    }

    [Fact]
    public void A_disk_with_a_mounted_partition_is_refused_and_the_message_says_how_to_unmount()
    {
        Mounts("/dev/nvme0n1p2 / ext4 rw 0 0", "/dev/sdb1 /media/tech/USB\\040STICK vfat rw 0 0");
        var error = Refused(Device("sdb"), new FlashOptions(Force: true));
        Assert.Contains("/dev/sdb1 is mounted on /media/tech/USB STICK", error.Message);
        Assert.Contains("umount", error.Message);
    }

    [Fact]
    public void A_partition_is_refused_in_favour_of_its_whole_disk()
    {
        Assert.Contains("is a partition", Refused(Device("sdb1")).Message);
    }

    [Fact]
    public void A_disk_used_as_swap_or_held_by_device_mapper_is_refused()
    {
        File.WriteAllLines(Path.Combine(_roots.Proc, "swaps"), ["Filename Type Size Used Priority", "/dev/sdb1 partition 1000 0 -2"]);
        Assert.Contains("swap", Refused(Device("sdb")).Message);
        File.Delete(Path.Combine(_roots.Proc, "swaps"));
        Directory.CreateDirectory(Path.Combine(_roots.Sys, "block", "sdb", "sdb1", "holders", "dm-0"));
        Assert.Contains("dm-0", Refused(Device("sdb")).Message);
    }

    [Fact]
    public void An_unexpectedly_large_disk_needs_force()
    {
        Disk("sdc", 2L * 1024 * 1024 * 1024 * 1024);
        var device = Device("sdc");
        Assert.Contains("--force", Refused(device).Message);
        Flasher().Flash(_image, device, new FlashOptions(Force: true));
        Assert.Equal(File.ReadAllBytes(_image), File.ReadAllBytes(device));
        Assert.Contains(_progress, l => l.Contains("block device", StringComparison.Ordinal) && l.Contains("fixed", StringComparison.Ordinal));
    }

    [Fact]
    public void A_disk_too_small_or_read_only_is_refused()
    {
        Disk("sdd", 1024 * 1024);
        Assert.Contains("the image needs", Refused(Device("sdd")).Message);
        Disk("sde", 1L << 30, readOnly: true);
        Assert.Contains("read-only", Refused(Device("sde")).Message);
    }

    [Fact]
    public void An_unknown_device_node_is_refused_rather_than_guessed_at()
    {
        Assert.Contains("not a block device", Refused("/dev/ppn-no-such-disk").Message);
    }

    [Fact]
    public void A_symlink_to_a_disk_is_that_disk_with_every_check()
    {
        var link = Path.Combine(_root, "usb-link");
        File.CreateSymbolicLink(link, Device("nvme0n1"));
        var resolved = new Flasher(_roots, _ => { }, p => Resolve(Path.GetFullPath(p) == link ? File.ResolveLinkTarget(p, returnFinalTarget: true)!.FullName : p));
        var error = Assert.Throws<FlashRefusedException>(() => resolved.Flash(_image, link, new FlashOptions(Force: true)));
        Assert.Contains("system disk", error.Message);
    }

    [Fact]
    public void A_character_device_a_directory_or_a_fifo_is_refused_before_anything_is_written()
    {
        Assert.Contains("is a character device", Refused("/dev/null").Message);
        var dir = Directory.CreateDirectory(Path.Combine(_root, "a-directory")).FullName;
        Assert.Contains("is a directory", Refused(dir).Message);
        var fifo = Path.Combine(_root, "fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            Assert.True(mkfifo.WaitForExit(TimeSpan.FromSeconds(10)) && mkfifo.ExitCode == 0, "mkfifo failed");
        }
        Assert.Contains("is a FIFO", Refused(fifo).Message);
    }

    [Fact]
    public void A_symlink_to_a_regular_file_writes_the_file_it_names_and_says_so()
    {
        var real = Path.Combine(_root, "real.img");
        File.WriteAllBytes(real, []);
        var link = Path.Combine(_root, "link.img");
        File.CreateSymbolicLink(link, real);
        Flasher().Flash(_image, link, new FlashOptions());
        Assert.Equal(File.ReadAllBytes(_image), File.ReadAllBytes(real));
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.Contains(_progress, l => l.Contains($"regular file {real}", StringComparison.Ordinal));
    }

    [Fact]
    public void The_image_itself_as_target_is_refused_and_left_intact()
    {
        var before = File.ReadAllBytes(_image);
        var link = Path.Combine(_root, "image-link");
        File.CreateSymbolicLink(link, _image);
        Assert.Contains("is the image itself", Refused(_image).Message);
        Assert.Contains("is the image itself", Refused(link).Message);
        Assert.Equal(before, File.ReadAllBytes(_image));
    }

    [Fact]
    public void A_file_target_in_a_missing_directory_or_under_dev_is_refused()
    {
        Assert.Contains("directory does not exist", Refused(Path.Combine(_root, "no-such-dir", "out.img")).Message);
        Assert.Contains("not a block device", Refused("/dev/ppn-no-such-disk").Message);
    }
}

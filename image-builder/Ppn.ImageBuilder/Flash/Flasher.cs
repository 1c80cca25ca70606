using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using Ppn.ImageBuilder.Build;
using Ppn.Linux;

namespace Ppn.ImageBuilder.Flash;

/// <summary>Where the flasher looks at the host: /proc and /sys, replaceable by fake trees in tests.</summary>
public sealed record HostRoots(string Proc = "/proc", string Sys = "/sys");

/// <summary>The flasher refused a target; the message says why and what to do.</summary>
public sealed class FlashRefusedException(string message) : Exception(message);

public sealed record FlashOptions(bool Force = false, long LargeDiskLimit = FlashOptions.DefaultLargeDiskLimit)
{
    /// <summary>Node boot media are USB sticks and small SSDs; a bigger target is more likely a wrong guess.</summary>
    public const long DefaultLargeDiskLimit = 256L * 1024 * 1024 * 1024;
}

/// <summary>
/// What a --device argument names once every symlink is resolved: the path the flasher opens (never the link),
/// its kind, and for a block device its name in /sys/class/block.
/// </summary>
public sealed record FlashTarget(string Given, string Path, FileNodeKind Kind, string? BlockName = null);

/// <summary>
/// Writes a disk image to a block device (or a regular file) with the checks of a careful tool: never a
/// partition, a mounted or swapping disk, the disk holding /, a read-only or too-small device; a disk larger
/// than <see cref="FlashOptions.LargeDiskLimit"/> only with --force. The target is resolved first (a symlink
/// to a disk is that disk, with every check); anything but a regular file or a block device is refused. After
/// writing: fsync, drop the cache, read back and compare sha256.
/// </summary>
public sealed partial class Flasher(HostRoots roots, Action<string> progress, Func<string, FlashTarget>? resolve = null)
{
    private const int Chunk = 4 * 1024 * 1024;

    /// <summary>The real target of <paramref name="device"/> on this host: realpath(3), statx(2), /sys/dev/block.</summary>
    public FlashTarget Resolve(string device)
    {
        if (resolve is not null)
        {
            return resolve(device);
        }
        if (FileNode.RealPath(device) is not { } real)
        {
            var full = Path.GetFullPath(device);
            var parent = FileNode.RealPath(Path.GetDirectoryName(full) ?? "/");
            if (parent is null)
            {
                throw new FlashRefusedException($"{device}: its directory does not exist; give the whole disk (e.g. /dev/sdX, see lsblk) or an image file in an existing directory");
            }
            if (parent == "/dev" || parent.StartsWith("/dev/", StringComparison.Ordinal))
            {
                throw new FlashRefusedException($"{device} is not a block device known to {roots.Sys}/class/block; give the whole disk, e.g. /dev/sdX (see lsblk)");
            }
            return new FlashTarget(device, Path.Combine(parent, Path.GetFileName(full)), FileNodeKind.Missing);
        }
        var node = FileNode.Stat(real);
        if (node.Kind != FileNodeKind.BlockDevice)
        {
            return new FlashTarget(device, real, node.Kind);
        }
        // /sys/dev/block/MAJ:MIN links to the device's directory, whose name is its /sys/class/block name.
        var link = Path.Combine(roots.Sys, "dev", "block", $"{node.Major}:{node.Minor}");
        var name = FileNode.RealPath(link) is { } sysDir ? Path.GetFileName(sysDir) : Path.GetFileName(real);
        return new FlashTarget(device, real, node.Kind, name);
    }

    /// <summary>Checks the target and returns a description of it; throws <see cref="FlashRefusedException"/>.</summary>
    public string Check(string device, long imageLength, FlashOptions options) => Check(Resolve(device), imageLength, options);

    private string Check(FlashTarget target, long imageLength, FlashOptions options)
    {
        var device = target.Given == target.Path ? target.Given : $"{target.Given} (→ {target.Path})";
        switch (target.Kind)
        {
            case FileNodeKind.Missing:
                return $"new regular file {target.Path}";
            case FileNodeKind.Regular:
                return $"regular file {target.Path}";
            case FileNodeKind.BlockDevice:
                break;
            default:
                throw new FlashRefusedException($"{device} is {FileNode.Describe(target.Kind)}: give the whole disk (a block device, e.g. /dev/sdX; see lsblk) or an image file");
        }
        var name = target.BlockName!;
        var classDir = Path.Combine(roots.Sys, "class", "block", name);
        if (!Directory.Exists(classDir))
        {
            throw new FlashRefusedException($"{device} is not a block device known to {roots.Sys}/class/block; give the whole disk, e.g. /dev/sdX (see lsblk)");
        }
        if (File.Exists(Path.Combine(classDir, "partition")))
        {
            throw new FlashRefusedException($"{device} is a partition; flash the whole disk it belongs to (lsblk shows it)");
        }
        var blockDir = Path.Combine(roots.Sys, "block", name);
        var partitions = Directory.Exists(blockDir)
            ? Directory.GetDirectories(blockDir).Select(Path.GetFileName).Where(p => p!.StartsWith(name, StringComparison.Ordinal)).Select(p => p!).ToList()
            : [];
        var members = new HashSet<string>(partitions.Append(name), StringComparer.Ordinal);

        foreach (var (source, mountPoint) in Mounts())
        {
            if (!source.StartsWith("/dev/", StringComparison.Ordinal))
            {
                continue;
            }
            // A mount source may be a link (/dev/disk/by-uuid/…, /dev/mapper/…): compare the device it names.
            var real = FileNode.RealPath(source) ?? source;
            if (members.Contains(Path.GetFileName(source)) || members.Contains(Path.GetFileName(real)))
            {
                if (mountPoint == "/")
                {
                    throw new FlashRefusedException($"{device} holds the running system's root filesystem ({source} on /); this is the system disk");
                }
                throw new FlashRefusedException($"{source} is mounted on {mountPoint}; unmount it first (umount {mountPoint}) and check it is the disk you mean");
            }
        }
        foreach (var swap in Swaps())
        {
            if (members.Contains(Path.GetFileName(swap)) || members.Contains(Path.GetFileName(FileNode.RealPath(swap) ?? swap)))
            {
                throw new FlashRefusedException($"{swap} is in use as swap; swapoff {swap} first");
            }
        }
        foreach (var member in members)
        {
            var holders = Path.Combine(member == name ? blockDir : Path.Combine(blockDir, member), "holders");
            if (Directory.Exists(holders) && Directory.EnumerateFileSystemEntries(holders).Any())
            {
                throw new FlashRefusedException($"{member} is held by {string.Join(", ", Directory.EnumerateFileSystemEntries(holders).Select(Path.GetFileName))} (LVM, RAID or dm-crypt); release it first");
            }
        }
        if (ReadSysNumber(Path.Combine(blockDir, "ro")) == 1)
        {
            throw new FlashRefusedException($"{device} is read-only (write-protect switch?)");
        }
        long sectors = ReadSysNumber(Path.Combine(blockDir, "size")) ?? 0;
        long size = sectors is >= 0 and <= long.MaxValue / 512 ? sectors * 512 : 0; // always 512-byte units (block/genhd.c)
        if (size < imageLength)
        {
            throw new FlashRefusedException($"{device} has {NodeImageBuilder.Size(size)}, the image needs {NodeImageBuilder.Size(imageLength)}");
        }
        if (size > options.LargeDiskLimit && !options.Force)
        {
            throw new FlashRefusedException($"{device} is {NodeImageBuilder.Size(size)}, larger than a node boot disk is expected to be ({NodeImageBuilder.Size(options.LargeDiskLimit)}); if you are sure, add --force");
        }
        var model = File.Exists(Path.Combine(blockDir, "device", "model")) ? File.ReadAllText(Path.Combine(blockDir, "device", "model")).Trim() : "unknown model";
        var removable = ReadSysNumber(Path.Combine(blockDir, "removable")) == 1 ? "removable" : "fixed";
        return $"block device {device} ({model}, {removable}, {NodeImageBuilder.Size(size)})";
    }

    /// <summary>Checks, writes, syncs and reads back. Returns the sha256 that was verified on the target.</summary>
    public string Flash(string image, string device, FlashOptions options)
    {
        var length = new FileInfo(image).Length;
        var target = Resolve(device);
        var description = Check(target, length, options);
        progress($"flash: {Path.GetFileName(image)} ({NodeImageBuilder.Size(length)}) → {description}");
        var isFile = target.Kind is FileNodeKind.Regular or FileNodeKind.Missing;
        if (isFile && FileNode.RealPath(image) == target.Path)
        {
            // FileMode.Create would truncate the image before reading it.
            throw new FlashRefusedException($"{device} is the image itself; give the disk to write it to");
        }

        string expected;
        var clock = Stopwatch.StartNew();
        // A file target gets its whole length allocated before the first byte (posix_fallocate): a full
        // filesystem refuses here instead of leaving half an image. A block device's size was checked above.
        var streamOptions = new FileStreamOptions
        {
            Mode = isFile ? FileMode.Create : FileMode.Open,
            Access = FileAccess.Write,
            Share = FileShare.None,
            BufferSize = 1,
            PreallocationSize = isFile ? length : 0,
        };
        using (var source = File.OpenRead(image))
        using (var output = new FileStream(target.Path, streamOptions))
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            var buffer = new byte[Chunk];
            long done = 0;
            int lastDecile = -1;
            int n;
            while ((n = source.Read(buffer)) > 0)
            {
                output.Write(buffer, 0, n);
                hash.AppendData(buffer, 0, n);
                done += n;
                Report("writing", done, length, clock, ref lastDecile);
            }
            output.Flush(flushToDisk: true);
            expected = Convert.ToHexStringLower(hash.GetHashAndReset());
        }

        progress("flash: written and synced; reading back");
        string actual;
        clock.Restart();
        using (var back = new FileStream(target.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1))
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            // Drop cached pages so the read-back comes from the medium, not from what we just wrote.
            _ = posix_fadvise(back.SafeFileHandle, 0, 0, PosixFadvDontNeed);
            var buffer = new byte[Chunk];
            long done = 0;
            int lastDecile = -1;
            while (done < length)
            {
                int n = back.Read(buffer, 0, (int)Math.Min(buffer.Length, length - done));
                if (n == 0)
                {
                    break;
                }
                hash.AppendData(buffer, 0, n);
                done += n;
                Report("verifying", done, length, clock, ref lastDecile);
            }
            actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        }
        if (actual != expected)
        {
            throw new IOException($"read-back of {device} does not match the image (sha256 {actual}, expected {expected}): the medium may be failing; do not use it");
        }
        progress($"flash: verified sha256 {actual}");
        return actual;
    }

    private void Report(string what, long done, long total, Stopwatch clock, ref int lastDecile)
    {
        int decile = total == 0 ? 10 : (int)(done * 10 / total);
        if (decile != lastDecile)
        {
            lastDecile = decile;
            double rate = done / 1048576.0 / Math.Max(clock.Elapsed.TotalSeconds, 0.001);
            progress(string.Create(CultureInfo.InvariantCulture, $"flash: {what} {decile * 10,3}%  {done / 1048576.0:0.0} of {total / 1048576.0:0.0} MiB  {rate:0.0} MiB/s"));
        }
    }

    private IEnumerable<(string Source, string Target)> Mounts()
    {
        var path = Path.Combine(roots.Proc, "mounts");
        if (!File.Exists(path))
        {
            throw new FlashRefusedException($"cannot read {path} to check for mounted partitions; refusing to guess");
        }
        foreach (var line in File.ReadAllLines(path))
        {
            var f = line.Split(' ');
            if (f.Length >= 2)
            {
                yield return (Unescape(f[0]), Unescape(f[1]));
            }
        }
    }

    private IEnumerable<string> Swaps()
    {
        var path = Path.Combine(roots.Proc, "swaps");
        return File.Exists(path) ? File.ReadAllLines(path).Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(f => f.Length > 0).Select(f => f[0]) : [];
    }

    /// <summary>/proc/mounts escapes space, tab, newline and backslash as octal (fs/proc_namespace.c mangle()).</summary>
    private static string Unescape(string s) => s.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
        .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);

    private static long? ReadSysNumber(string path) =>
        File.Exists(path) && long.TryParse(File.ReadAllText(path).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;

    private const int PosixFadvDontNeed = 4; // <linux/fadvise.h>

    [LibraryImport("libc", SetLastError = true)]
    private static partial int posix_fadvise(SafeFileHandle fd, long offset, long length, int advice);
}

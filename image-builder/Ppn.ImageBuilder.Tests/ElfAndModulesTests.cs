using Ppn.ImageBuilder.Elf;
using Ppn.ImageBuilder.Modules;

namespace Ppn.ImageBuilder.Tests;

public class ElfAndModulesTests
{
    private static readonly string Kernel = Directory.GetDirectories("/lib/modules").Select(Path.GetFileName).Order(StringComparer.Ordinal).Last()!;

    [Theory]
    [InlineData("/bin/ls")]
    [InlineData("/usr/bin/qemu-system-x86_64")]
    [InlineData("/usr/lib/x86_64-linux-gnu/libc.so.6")]
    public void The_library_closure_equals_what_ldd_reports(string binary)
    {
        var ours = new LibraryResolver().Resolve([binary]).Select(l => Path.GetFileName(l.ImagePath)).ToHashSet();
        var ldd = CpioWriterTests.Run("ldd", binary, "/").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Trim().Split(' ')[0])
            .Where(n => !n.StartsWith("linux-vdso", StringComparison.Ordinal) && n != "statically")
            .Select(Path.GetFileName)
            .ToHashSet();
        Assert.Subset(ours, ldd!);
        Assert.Subset(ldd!, ours);
    }

    [Fact]
    public void The_loader_is_shipped_once_and_linked_under_its_other_name()
    {
        var libraries = new LibraryResolver().Resolve(["/bin/ls"]);
        var loaders = libraries.Where(l => Path.GetFileName(l.ImagePath) == "ld-linux-x86-64.so.2").ToList();
        Assert.Equal(2, loaders.Count); // PT_INTERP /lib64/... and libc's DT_NEEDED in the multiarch directory
        var copy = Assert.Single(loaders, l => l.SameAs is null);
        var link = Assert.Single(loaders, l => l.SameAs is not null);
        Assert.Equal(copy.ImagePath, link.SameAs);
        Assert.All(libraries.Where(l => l.SameAs is null).GroupBy(l => LibraryResolver.RealPath(l.HostPath)), g => Assert.Single(g));
    }

    [Fact]
    public void Names_of_one_file_are_found_by_real_path()
    {
        var dir = Directory.CreateTempSubdirectory("ppn-realpath-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "usr/lib"));
            File.WriteAllText(Path.Combine(dir, "usr/lib/libx.so"), "x");
            File.CreateSymbolicLink(Path.Combine(dir, "lib"), "usr/lib");
            File.CreateSymbolicLink(Path.Combine(dir, "usr/lib/liby.so"), "libx.so");
            Assert.Equal(Path.Combine(LibraryResolver.RealPath(dir), "usr/lib/libx.so"), LibraryResolver.RealPath(Path.Combine(dir, "lib/liby.so")));
            File.CreateSymbolicLink(Path.Combine(dir, "loop"), "loop");
            Assert.Throws<IOException>(() => LibraryResolver.RealPath(Path.Combine(dir, "loop")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_missing_library_names_who_needs_it()
    {
        var resolver = new LibraryResolver(searchPath: ["/nonexistent"]);
        var ex = Assert.Throws<FileNotFoundException>(() => resolver.Resolve(["/bin/ls"]));
        Assert.Contains("/bin/ls needs ", ex.Message);
    }

    [Fact]
    public void Hostile_elf_bytes_are_a_format_error_not_a_crash()
    {
        var real = File.ReadAllBytes("/bin/true");
        var random = new Random(1234);
        for (int i = 0; i < 2000; i++)
        {
            var copy = real[..Math.Min(real.Length, 4096)].ToArray();
            for (int j = 0; j < 8; j++) copy[random.Next(copy.Length)] = (byte)random.Next(256);
            try { ElfDynamicInfo.Parse(copy, "mutated"); } catch (FormatException) { }
        }
        Assert.Throws<FormatException>(() => ElfDynamicInfo.Parse("not an elf"u8, "text"));
    }

    [Fact]
    public void Wireguard_and_virtio_net_bring_their_dependencies()
    {
        var set = ModuleSet.Parse(File.ReadAllText($"/lib/modules/{Kernel}/modules.dep"), "modules.dep");
        var names = set.Closure(["wireguard", "virtio_net"], Kernel).Select(ModuleSet.NameOf).ToHashSet();
        Assert.Superset(new HashSet<string> { "wireguard", "udp_tunnel", "ip6_udp_tunnel", "libchacha20poly1305", "virtio_net", "virtio", "virtio_ring", "net_failover", "failover" }, names);
    }

    [Fact]
    public void The_filtered_modules_dep_lists_only_shipped_modules_with_their_dependencies()
    {
        var set = ModuleSet.Parse("kernel/a.ko: kernel/b.ko\nkernel/b.ko:\nkernel/c.ko:\n", "test");
        var shipped = set.Closure(["a"], "test");
        Assert.Equal("kernel/a.ko: kernel/b.ko\nkernel/b.ko:\n", set.FilteredModulesDep(shipped));
    }

    [Fact]
    public void An_unknown_module_is_a_clear_error()
    {
        var set = ModuleSet.Parse("kernel/a.ko:\n", "test");
        var ex = Assert.Throws<FileNotFoundException>(() => set.Closure(["nosuch"], "6.1-test"));
        Assert.Contains("'nosuch' is not in modules.dep of kernel 6.1-test", ex.Message);
    }
}

using Ppn.Appliance.Init;

namespace Ppn.Appliance.Tests;

public class ModuleDependenciesTests
{
    [Fact]
    public void Every_module_follows_its_dependencies()
    {
        const string dep = """
            kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/virtio/virtio_ring.ko:
            kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
            kernel/net/core/failover.ko:
            kernel/fs/efivarfs/efivarfs.ko:
            """;
        var order = ModuleDependencies.Parse(dep, "test").LoadOrder().Select(Path.GetFileNameWithoutExtension).ToList();

        Assert.Equal(6, order.Count);
        Assert.True(order.IndexOf("virtio_ring") < order.IndexOf("virtio"));
        Assert.True(order.IndexOf("virtio") < order.IndexOf("virtio_net"));
        Assert.True(order.IndexOf("failover") < order.IndexOf("net_failover"));
        Assert.True(order.IndexOf("net_failover") < order.IndexOf("virtio_net"));
    }

    [Fact]
    public void The_real_kernel_module_graph_orders_wireguard_after_its_crypto()
    {
        // make deps installs linux-image-amd64 on every build host; its modules.dep is the real graph.
        var release = Directory.GetDirectories("/lib/modules").Order(StringComparer.Ordinal).Last();
        var deps = ModuleDependencies.Parse(File.ReadAllText(Path.Combine(release, "modules.dep")), "modules.dep");
        var order = deps.LoadOrder().ToList();
        int wg = order.FindIndex(m => m.EndsWith("/wireguard.ko", StringComparison.Ordinal));
        Assert.True(wg > order.FindIndex(m => m.EndsWith("/udp_tunnel.ko", StringComparison.Ordinal)));
        Assert.True(wg > order.FindIndex(m => m.EndsWith("/libchacha20poly1305.ko", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_cycle_is_reported_not_looped()
    {
        var deps = ModuleDependencies.Parse("a.ko: b.ko\nb.ko: a.ko\n", "test");
        var ex = Assert.Throws<FormatException>(() => deps.LoadOrder());
        Assert.Contains("cycle", ex.Message);
    }

    [Fact]
    public void A_malformed_line_names_file_and_line()
    {
        var ex = Assert.Throws<FormatException>(() => ModuleDependencies.Parse("a.ko: b.ko\nnot a module line\n", "modules.dep"));
        Assert.StartsWith("modules.dep:2:", ex.Message);
    }
}

using Ppn.Rig.Emulation;

namespace Ppn.Rig.Tests;

public class NodeImageTests
{
    [Fact]
    public void A_missing_image_says_where_it_looked_and_to_run_make_image()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"ppn-no-image-{Guid.NewGuid():N}");
        var e = Assert.Throws<NodeImageMissingException>(() => NodeImage.Locate(dir));
        Assert.Equal($"no node image at {dir} (vmlinuz and initramfs.cpio.gz missing); run `make image`", e.Message);
    }

    [Fact]
    public void An_image_is_a_directory_with_vmlinuz_and_initramfs()
    {
        var dir = Directory.CreateTempSubdirectory("ppn-image-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "vmlinuz"), "k");
            File.WriteAllText(Path.Combine(dir, "initramfs.cpio.gz"), "i");
            var image = NodeImage.Locate(dir);
            var boot = image.ToBootSource();
            Assert.Equal(Path.Combine(dir, "vmlinuz"), boot.Kernel);
            Assert.Equal(Path.Combine(dir, "initramfs.cpio.gz"), boot.Initramfs);
            Assert.StartsWith("console=ttyS0", boot.CommandLine);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

using System.Diagnostics;
using Ppn.UefiVars.Efivarfs;

namespace Ppn.UefiVars.Tests;

public sealed class InodeFlagsTests
{
    [Fact]
    public void Ioctl_numbers_follow_the_asm_generic_encoding_with_a_64_bit_long()
    {
        Assert.Equal(8, IntPtr.Size); // sizeof(long) on the targets we ship (x86-64, arm64)
        Assert.Equal(InodeFlags.FS_IOC_GETFLAGS, InodeFlags.Ioc(2, 'f', 1, 8));
        Assert.Equal(InodeFlags.FS_IOC_SETFLAGS, InodeFlags.Ioc(1, 'f', 2, 8));
    }

    [Fact]
    public void Header_text_defines_the_values_we_use()
    {
        const string fs = "/usr/include/linux/fs.h";
        if (!File.Exists(fs)) return; // Build hosts without kernel headers check the numbers above only.
        var header = File.ReadAllText(fs);
        Assert.Matches(@"#define\s+FS_IOC_GETFLAGS\s+_IOR\('f', 1, long\)", header);
        Assert.Matches(@"#define\s+FS_IOC_SETFLAGS\s+_IOW\('f', 2, long\)", header);
        Assert.Matches(@"#define\s+FS_IMMUTABLE_FL\s+0x00000010", header);
        Assert.Matches(@"#define\s+EFIVARFS_MAGIC\s+0xde5e81e4", File.ReadAllText("/usr/include/linux/magic.h"));
    }

    [Fact]
    public void Constants_equal_what_the_C_compiler_computes_from_linux_fs_h()
    {
        var gcc = new[] { "/usr/bin/gcc", "/usr/bin/cc" }.FirstOrDefault(File.Exists);
        if (gcc is null || !File.Exists("/usr/include/linux/fs.h")) return;
        var dir = Directory.CreateTempSubdirectory("ppn-fsh-").FullName;
        try
        {
            var source = Path.Combine(dir, "c.c");
            File.WriteAllText(source, """
                #include <stdio.h>
                #include <sys/statfs.h>
                #include <linux/fs.h>
                #include <linux/magic.h>
                int main(void) {
                    printf("%lx %lx %x %lx %zu\n", (unsigned long)FS_IOC_GETFLAGS, (unsigned long)FS_IOC_SETFLAGS,
                           (unsigned)FS_IMMUTABLE_FL, (unsigned long)EFIVARFS_MAGIC, sizeof(struct statfs));
                    return 0;
                }
                """);
            Run(gcc, $"-o {dir}/c {source}");
            var fields = Run(Path.Combine(dir, "c"), "").Trim().Split(' ');
            Assert.Equal(InodeFlags.FS_IOC_GETFLAGS, Convert.ToUInt32(fields[0], 16));
            Assert.Equal(InodeFlags.FS_IOC_SETFLAGS, Convert.ToUInt32(fields[1], 16));
            Assert.Equal(InodeFlags.FS_IMMUTABLE_FL, Convert.ToUInt32(fields[2], 16));
            Assert.Equal(InodeFlags.EFIVARFS_MAGIC, Convert.ToUInt32(fields[3], 16));
            Assert.True(int.Parse(fields[4]) <= Linux.Interop.LibC.StatfsBufferSize, "struct statfs outgrew our buffer");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)), $"{file} did not finish in 60 s");
        Assert.True(process.ExitCode == 0, $"{file} {arguments} failed: {error.Result}");
        return output.Result;
    }
}

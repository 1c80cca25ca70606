namespace Ppn.UefiVars.Efivarfs;

/// <summary>
/// Numbers from linux/fs.h and linux/magic.h that efivarfs needs. The ioctl numbers follow the
/// asm-generic/ioctl.h encoding with sizeof(long) = 8 (x86-64, arm64); a test checks them against the
/// installed headers.
/// </summary>
public static class InodeFlags
{
    /// <summary>FS_IOC_GETFLAGS = _IOR('f', 1, long).</summary>
    public const uint FS_IOC_GETFLAGS = 0x80086601;

    /// <summary>FS_IOC_SETFLAGS = _IOW('f', 2, long). efivarfs reads and writes an unsigned int, not a long.</summary>
    public const uint FS_IOC_SETFLAGS = 0x40086602;

    /// <summary>FS_IMMUTABLE_FL: the only flag efivarfs reports or accepts (others give EOPNOTSUPP).</summary>
    public const uint FS_IMMUTABLE_FL = 0x00000010;

    /// <summary>EFIVARFS_MAGIC, statfs f_type of an efivarfs mount.</summary>
    public const uint EFIVARFS_MAGIC = 0xde5e81e4;

    /// <summary>_IOC(dir, type, nr, size) from asm-generic/ioctl.h: dir 1 = write, 2 = read.</summary>
    public static uint Ioc(uint direction, char type, uint number, uint size) =>
        (direction << 30) | (size << 16) | ((uint)type << 8) | number;
}

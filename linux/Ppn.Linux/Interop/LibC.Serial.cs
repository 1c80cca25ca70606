using System.Runtime.InteropServices;

#pragma warning disable CS8981 // kernel struct name kept as in the headers (termios)

namespace Ppn.Linux.Interop;

/// <summary>
/// Serial lines through termios(3) and pseudo-terminals (openpty(3), in glibc's libc since 2.34): the test rig
/// reads a bench node's USB serial console, and tests it against a pty pair.
/// </summary>
public static unsafe partial class LibC
{
    /// <summary>
    /// glibc's struct termios on Linux (bits/termios-struct.h): four tcflag_t, c_line, c_cc[NCCS = 32], then
    /// c_ispeed and c_ospeed after 3 bytes of padding: 60 bytes (checked in a test).
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 60)]
    public struct termios
    {
        [FieldOffset(0)] public uint c_iflag;
        [FieldOffset(4)] public uint c_oflag;
        [FieldOffset(8)] public uint c_cflag;
        [FieldOffset(12)] public uint c_lflag;
        [FieldOffset(16)] public byte c_line;
        [FieldOffset(17)] public fixed byte c_cc[32];
        [FieldOffset(52)] public uint c_ispeed;
        [FieldOffset(56)] public uint c_ospeed;
    }

    // asm-generic/termbits.h
    public const uint CREAD = 0x80;
    public const uint CLOCAL = 0x800;
    public const uint ICANON = 0x2;
    public const uint ECHO = 0x8;
    public const int VTIME = 5;
    public const int VMIN = 6;
    public const int TCSANOW = 0;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int tcgetattr(int fd, termios* t);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int tcsetattr(int fd, int optionalActions, termios* t);

    [LibraryImport(Lib)]
    public static partial void cfmakeraw(termios* t);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int cfsetispeed(termios* t, uint speed);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int cfsetospeed(termios* t, uint speed);

    [LibraryImport(Lib)]
    public static partial uint cfgetospeed(termios* t);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int openpty(int* master, int* slave, byte* name, termios* termp, void* winp);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int ptsname_r(int fd, byte* buf, nuint buflen);

    /// <summary>The Bxxxx speed constant (asm-generic/termbits.h) for a baud rate, or 0 when there is none.</summary>
    public static uint BaudConstant(int baud) => baud switch
    {
        9600 => 0x0D,      // B9600   0000015
        19200 => 0x0E,     // B19200  0000016
        38400 => 0x0F,     // B38400  0000017
        57600 => 0x1001,   // B57600  0010001
        115200 => 0x1002,  // B115200 0010002
        230400 => 0x1003,  // B230400 0010003
        460800 => 0x1004,  // B460800 0010004
        921600 => 0x1007,  // B921600 0010007
        _ => 0,
    };
}

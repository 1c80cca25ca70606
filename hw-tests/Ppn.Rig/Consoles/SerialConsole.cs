using Ppn.Linux;
using Ppn.Linux.Interop;

namespace Ppn.Rig.Consoles;

/// <summary>
/// A bench node's serial console (a USB serial adapter, best named by its /dev/serial/by-id/ link, which
/// follows the adapter when it is unplugged and comes back under another ttyUSBn): opened non-blocking
/// without becoming our controlling terminal, put in raw mode (cfmakeraw: no echo, no line editing, no CR/NL
/// mapping, 8N1) at the rig file's baud with CLOCAL|CREAD, read with poll(2). A hangup or a read error means
/// the device is gone; <see cref="ConsoleCapture"/> then reopens it until it is back.
/// </summary>
public sealed class SerialConsole(string device, int baud) : IConsolePort
{
    public string Describe => $"{device} @ {baud}";

    public unsafe IConsoleConnection Open()
    {
        uint speed = LibC.BaudConstant(baud);
        if (speed == 0)
        {
            throw new ArgumentException($"{baud} is not a supported baud rate", nameof(baud));
        }
        var fd = SafeFd.TryOpen(device, OpenFlags.O_RDWR | OpenFlags.O_NOCTTY | OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC, out int errno);
        if (fd is null)
        {
            throw new SyscallException("open", device, errno, "is the adapter plugged in? (ls -l /dev/serial/by-id/)");
        }
        try
        {
            LibC.termios t;
            SyscallException.ThrowIfFailed(LibC.tcgetattr(fd.Fd, &t), "tcgetattr", device, "not a terminal device?");
            LibC.cfmakeraw(&t);
            t.c_cflag |= LibC.CLOCAL | LibC.CREAD;
            t.c_cc[LibC.VMIN] = 0;
            t.c_cc[LibC.VTIME] = 0;
            SyscallException.ThrowIfFailed(LibC.cfsetispeed(&t, speed), "cfsetispeed", device);
            SyscallException.ThrowIfFailed(LibC.cfsetospeed(&t, speed), "cfsetospeed", device);
            SyscallException.ThrowIfFailed(LibC.tcsetattr(fd.Fd, LibC.TCSANOW, &t), "tcsetattr", device);
            return new Connection(fd, device);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>The line's settings as the tty holds them (read through a second descriptor): output speed constant and whether it is raw.</summary>
    public static unsafe (uint Speed, bool Raw) ReadBack(string device)
    {
        using var fd = SafeFd.Open(device, OpenFlags.O_RDWR | OpenFlags.O_NOCTTY | OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC);
        LibC.termios t;
        SyscallException.ThrowIfFailed(LibC.tcgetattr(fd.Fd, &t), "tcgetattr", device);
        return (LibC.cfgetospeed(&t), (t.c_lflag & (LibC.ICANON | LibC.ECHO)) == 0);
    }

    private sealed unsafe class Connection(SafeFd fd, string device) : IConsoleConnection
    {
        private const short PollIn = 0x1;
        private const short PollErr = 0x8;
        private const short PollHup = 0x10;
        private const short PollNval = 0x20;

        public int Read(Span<byte> buffer, TimeSpan timeout)
        {
            var p = new LibC.pollfd { fd = fd.Fd, events = PollIn };
            int ready = LibC.poll(&p, 1, (int)Math.Clamp(timeout.TotalMilliseconds, 0, int.MaxValue));
            if (ready < 0)
            {
                int e = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                return e == (int)Errno.EINTR ? 0 : throw new SyscallException("poll", device, e);
            }
            if (ready == 0)
            {
                return 0;
            }
            if ((p.revents & PollIn) == 0 && (p.revents & (PollErr | PollHup | PollNval)) != 0)
            {
                throw new IOException($"{device}: hung up (device unplugged or the other end closed)");
            }
            fixed (byte* b = buffer)
            {
                nint n = LibC.read(fd.Fd, b, (nuint)buffer.Length);
                if (n > 0)
                {
                    return (int)n;
                }
                int e = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (n < 0 && e is (int)Errno.EAGAIN or (int)Errno.EINTR)
                {
                    return 0;
                }
                throw n == 0 ? new IOException($"{device}: end of file") : new SyscallException("read", device, e);
            }
        }

        public void Dispose() => fd.Dispose();
    }
}

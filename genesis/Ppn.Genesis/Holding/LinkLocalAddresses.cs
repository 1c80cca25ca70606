using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace Ppn.Genesis.Holding;

/// <summary>An IPv6 address of this node as /proc/net/if_inet6 lists it.</summary>
public sealed record InterfaceAddress(IPAddress Address, int InterfaceIndex, int PrefixLength, int Scope, int Flags, string InterfaceName)
{
    public const int ScopeLink = 0x20;
    public const int IFA_F_DADFAILED = 0x08;
    public const int IFA_F_TENTATIVE = 0x40;

    public bool IsLinkLocal => Scope == ScopeLink;
    public bool IsTentative => (Flags & IFA_F_TENTATIVE) != 0;
    public bool DadFailed => (Flags & IFA_F_DADFAILED) != 0;
    public bool IsUsable => IsLinkLocal && !IsTentative && !DadFailed && InterfaceName != "lo";

    public IPEndPoint EndPoint(int port) => new(new IPAddress(Address.GetAddressBytes(), InterfaceIndex), port);
}

public interface IInterfaceAddressSource
{
    IReadOnlyList<InterfaceAddress> Read();
}

/// <summary>
/// /proc/net/if_inet6: "fe800000000000005054fffe12345602 02 40 20 80 eth0" = address, ifindex, prefix length,
/// scope, flags, name (all hex). Lines that do not parse are skipped.
/// </summary>
public sealed class ProcNetIfInet6 : IInterfaceAddressSource
{
    private readonly string _path;

    public ProcNetIfInet6(string path = "/proc/net/if_inet6") => _path = path;

    public IReadOnlyList<InterfaceAddress> Read() => File.Exists(_path) ? Parse(File.ReadAllText(_path)) : [];

    public static IReadOnlyList<InterfaceAddress> Parse(string text)
    {
        var result = new List<InterfaceAddress>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length != 6 || f[0].Length != 32)
            {
                continue;
            }
            var bytes = new byte[16];
            bool ok = true;
            for (int i = 0; i < 16 && ok; i++)
            {
                ok = byte.TryParse(f[0].AsSpan(i * 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out bytes[i]);
            }
            if (ok
                && int.TryParse(f[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int index)
                && int.TryParse(f[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int prefix)
                && int.TryParse(f[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int scope)
                && int.TryParse(f[4], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int flags))
            {
                result.Add(new InterfaceAddress(new IPAddress(bytes), index, prefix, scope, flags, f[5]));
            }
        }
        return result;
    }

    /// <summary>
    /// Usable link-local addresses: waits (bounded) while duplicate address detection still marks them
    /// tentative, because a tentative address cannot be bound. Returns what is usable at the deadline.
    /// </summary>
    public static IReadOnlyList<InterfaceAddress> WaitForLinkLocal(IInterfaceAddressSource source, TimeSpan deadline, TimeSpan? pollInterval = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var all = source.Read();
            var usable = all.Where(a => a.IsUsable).ToList();
            bool pending = all.Any(a => a.IsLinkLocal && a.IsTentative && a.InterfaceName != "lo");
            if ((usable.Count > 0 && !pending) || clock.Elapsed >= deadline)
            {
                return usable;
            }
            Thread.Sleep(pollInterval ?? TimeSpan.FromMilliseconds(100));
        }
    }
}

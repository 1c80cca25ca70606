using Ppn.Mesh.Links;
using Ppn.Mesh.WireGuard;

namespace Ppn.Mesh;

public enum WireGuardBackendChoice { Auto, Kernel, Userspace }

/// <summary>Chooses the WireGuard backend for an interface.</summary>
public static class WireGuardBackends
{
    /// <summary>
    /// Auto: the userspace backend when a UAPI socket for the interface exists (a wireguard-go is serving it),
    /// else the kernel module. A kernel without the module then fails with the clear "no wireguard kernel module" error.
    /// </summary>
    public static IWireGuard Open(string name, WireGuardBackendChoice choice, ILinkConfigurator links, string uapiDirectory = UapiWireGuard.DefaultSocketDirectory)
    {
        var userspace = new UapiWireGuard(uapiDirectory);
        return choice switch
        {
            WireGuardBackendChoice.Userspace => userspace,
            WireGuardBackendChoice.Kernel => new KernelWireGuard(links),
            _ => IsServed(userspace.SocketPath(name)) ? userspace : new KernelWireGuard(links),
        };
    }

    /// <summary>A socket file a killed daemon left behind accepts no connection: then it is not the backend.</summary>
    private static bool IsServed(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }
        try
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            socket.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }
}

/// <summary>Where the node's mesh configuration comes from: its enrolment (the appliance reads it from UEFI variables).</summary>
public interface IEnrolmentSource
{
    /// <summary>A line for `ppn mesh status`: the enrolment in force, or why there is none.</summary>
    string Describe();
}

public sealed class NotEnrolled : IEnrolmentSource
{
    public static NotEnrolled Instance { get; } = new();
    public string Describe() => "not enrolled (no enrolment record yet: genesis provides it; use `ppn mesh up --config FILE` meanwhile)";
}

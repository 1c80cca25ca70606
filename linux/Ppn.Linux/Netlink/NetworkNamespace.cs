using Ppn.Linux.Interop;

namespace Ppn.Linux.Netlink;

/// <summary>
/// Runs code inside another network namespace: setns(2) moves only the calling thread, so the work runs on a
/// dedicated thread that enters the namespace, opens its sockets there, and ends (taking the namespace with it).
/// A socket created there stays in that namespace for its whole life, whichever thread uses it later; no pool
/// thread is ever left in a foreign namespace. The one home of this for the node, the rig and the authority simulator.
/// </summary>
public static class NetworkNamespace
{
    /// <summary>The bind-mount `ip netns add NAME` creates.</summary>
    public static string PathOf(string name) => $"/var/run/netns/{name}";

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <param name="namespacePath">The namespace file, e.g. <see cref="PathOf"/>.</param>
    /// <param name="timeout">How long the work may take (default 30 s); longer throws <see cref="TimeoutException"/>.</param>
    public static T Run<T>(string namespacePath, Func<T> body, TimeSpan? timeout = null)
    {
        T? result = default;
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using (var fd = SafeFd.Open(namespacePath, OpenFlags.O_RDONLY, advice: "does the network namespace still exist?"))
                {
                    SyscallException.ThrowIfFailed(LibC.setns(fd.Fd, NamespaceTypes.CLONE_NEWNET), "setns", namespacePath,
                        "entering a network namespace needs root (CAP_SYS_ADMIN)");
                }
                result = body();
            }
            catch (Exception e)
            {
                failure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
            }
        })
        { IsBackground = true, Name = "netns " + namespacePath };
        thread.Start();
        var limit = timeout ?? DefaultTimeout;
        if (!thread.Join(limit))
        {
            throw new TimeoutException($"work inside network namespace {namespacePath} did not finish within {limit.TotalSeconds:0.#} s");
        }
        failure?.Throw();
        return result!;
    }

    public static void Run(string namespacePath, Action body, TimeSpan? timeout = null) =>
        Run<bool>(namespacePath, () => { body(); return true; }, timeout);
}

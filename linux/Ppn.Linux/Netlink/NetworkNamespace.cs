using Ppn.Linux.Interop;

namespace Ppn.Linux.Netlink;

/// <summary>
/// Runs code inside another network namespace: setns(2) moves only the calling thread, so the work runs on a
/// dedicated thread that enters the namespace, opens its sockets there, and ends (taking the namespace with it).
/// </summary>
public static class NetworkNamespace
{
    /// <summary>The bind-mount `ip netns add NAME` creates.</summary>
    public static string PathOf(string name) => $"/var/run/netns/{name}";

    public static T Run<T>(string namespacePath, Func<T> body, TimeSpan? timeout = null)
    {
        T? result = default;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using (var fd = SafeFd.Open(namespacePath, OpenFlags.O_RDONLY))
                {
                    SyscallException.ThrowIfFailed(LibC.setns(fd.Fd, NamespaceTypes.CLONE_NEWNET), "setns", namespacePath, "entering a network namespace needs CAP_SYS_ADMIN");
                }
                result = body();
            }
            catch (Exception e)
            {
                failure = e;
            }
        })
        { IsBackground = true, Name = "netns " + namespacePath };
        thread.Start();
        if (!thread.Join(timeout ?? TimeSpan.FromSeconds(30)))
        {
            throw new TimeoutException($"work inside network namespace {namespacePath} did not finish in time");
        }
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }
        return result!;
    }

    public static void Run(string namespacePath, Action body, TimeSpan? timeout = null) =>
        Run<bool>(namespacePath, () => { body(); return true; }, timeout);
}

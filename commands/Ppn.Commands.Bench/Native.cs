using System.Runtime.InteropServices;

namespace Ppn.Commands.Bench;

/// <summary>The two calls the bench needs to pin a thread; bench-only, so not in linux/.</summary>
internal static partial class Native
{
    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_setaffinity(int pid, nuint size, ref ulong mask);

    [LibraryImport("libc")]
    private static partial int gettid();

    public static int CurrentThreadId => gettid();

    /// <summary>Pins thread <paramref name="tid"/> (0 = the calling thread) to one CPU.</summary>
    public static void Pin(int tid, int cpu)
    {
        ulong mask = 1UL << cpu;
        if (sched_setaffinity(tid, sizeof(ulong), ref mask) != 0)
        {
            throw new InvalidOperationException($"sched_setaffinity(thread {tid}, cpu {cpu}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Lets thread <paramref name="tid"/> (0 = the calling thread) run on every CPU again.</summary>
    public static void Unpin(int tid)
    {
        ulong mask = Environment.ProcessorCount >= 64 ? ulong.MaxValue : (1UL << Environment.ProcessorCount) - 1;
        sched_setaffinity(tid, sizeof(ulong), ref mask);
    }

    /// <summary>The thread of this process whose name (comm) is <paramref name="name"/>.</summary>
    public static int FindThread(string name)
    {
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n') == name) return int.Parse(Path.GetFileName(task));
            }
            catch (IOException)
            {
                // the thread ended while we looked
            }
        }
        throw new InvalidOperationException($"no thread named {name}");
    }

    /// <summary>Nanoseconds thread <paramref name="tid"/> has run on a CPU (/proc/self/task/TID/schedstat, field 1).</summary>
    public static long CpuNanoseconds(int tid) => Schedstat(tid).Running;

    /// <summary>
    /// Thread <paramref name="tid"/>'s time on a CPU and time runnable but waiting for one (schedstat fields 1 and
    /// 2). For a thread that never blocks in between, the sum of the two differences is its wall time, read
    /// without another thread watching it from a CPU.
    /// </summary>
    public static (long Running, long Waiting) Schedstat(int tid)
    {
        var fields = File.ReadAllText($"/proc/self/task/{tid}/schedstat").Split(' ');
        return (long.Parse(fields[0]), long.Parse(fields[1]));
    }
}

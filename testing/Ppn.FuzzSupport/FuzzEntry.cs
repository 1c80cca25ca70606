using SharpFuzz;

namespace Ppn.FuzzSupport;

/// <summary>One input of a harness: must not throw for any bytes (an invariant it checks throws on purpose).</summary>
public delegate void FuzzCheck(ReadOnlySpan<byte> input);

/// <summary>
/// The entry point of every harness. One process, many inputs (afl++ persistent mode through SharpFuzz's
/// shared-memory protocol), or <c>--once FILE...</c> to reproduce findings and check the seed corpus outside afl.
/// Instrumented code may only run once SharpFuzz has mapped afl's shared memory, i.e. inside the callback: so the
/// harness is made by <paramref name="create"/> on the first input, never before.
/// </summary>
public static class FuzzEntry
{
    /// <param name="maxInput">The largest input afl may hand over (bytes); longer ones are cut there.</param>
    public static void Run(string[] args, int maxInput, Func<FuzzCheck> create)
    {
        FuzzCheck? check = null;
        if (args.Length > 0 && args[0] == "--once")
        {
            foreach (var file in args.Skip(1)) (check ??= create())(File.ReadAllBytes(file));
            return;
        }
        var buffer = new byte[maxInput];
        Fuzzer.OutOfProcess.Run(stream =>
        {
            int length = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            (check ??= create())(buffer.AsSpan(0, length));
        });
    }
}

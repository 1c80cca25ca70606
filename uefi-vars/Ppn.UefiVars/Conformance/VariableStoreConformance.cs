using System.Diagnostics;
using Ppn.UefiVars.Efivarfs;

namespace Ppn.UefiVars.Conformance;

/// <summary>One check of the self-test.</summary>
public sealed record CheckResult(string Name, bool Passed, string Detail, TimeSpan Elapsed)
{
    public override string ToString() => $"{(Passed ? "PASS" : "FAIL")} {Name} ({Elapsed.TotalMilliseconds:F0} ms){(Detail.Length > 0 ? ": " + Detail : "")}";
}

/// <summary>
/// The behaviour every <see cref="IVariableStore"/> must show, runnable anywhere: xunit runs it on the
/// twin, <c>ppn uefi selftest</c> on a node, the emulated-node scenario on real efivarfs under OVMF.
/// It only touches scratch variables named <see cref="ScratchPrefix"/>… under our vendor GUID, removes
/// them at the end (and any left by an interrupted earlier run at the start), and writes a few hundred
/// bytes of NVRAM at most.
/// </summary>
public static class VariableStoreConformance
{
    public const string ScratchPrefix = "PpnSelfTest";

    private const VariableAttributes Nbr = VariableAttributes.NonVolatileBootRuntime;

    public static IReadOnlyList<CheckResult> Run(IVariableStore store, Action<string>? log = null)
    {
        var results = new List<CheckResult>();
        var run = $"{ScratchPrefix}{Environment.ProcessId % 10000:D4}{Random.Shared.Next(0x10000):x4}";
        VariableName Scratch(string suffix) => VariableName.Ppn($"{run}{suffix}");
        var inspector = store as IVariableFileInspector;

        void Check(string name, Action body)
        {
            var clock = Stopwatch.StartNew();
            CheckResult result;
            try
            {
                body();
                result = new CheckResult(name, true, "", clock.Elapsed);
            }
            catch (Exception e)
            {
                result = new CheckResult(name, false, $"{e.GetType().Name}: {e.Message}", clock.Elapsed);
            }
            results.Add(result);
            log?.Invoke(result.ToString());
        }

        Check("store is reachable and leftovers of earlier runs are removed", () => Sweep(store, log));

        Check("a variable that does not exist reads as null", () =>
            Expect(store.TryRead(Scratch("Absent")) is null, "TryRead returned a value"));

        var main = Scratch("A");
        var pattern = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        Check("create then read returns the same attributes and every byte value", () =>
        {
            store.Write(main, Nbr, pattern, WriteMode.Create);
            var read = Require(store.TryRead(main));
            Expect(read.Attributes == Nbr, $"attributes read back as 0x{(uint)read.Attributes:x}, wrote 0x{(uint)Nbr:x}");
            Expect(read.Data.AsSpan().SequenceEqual(pattern), "value read back differs from the value written");
        });

        Check("the variable is listed under the PPN vendor GUID", () =>
            Expect(store.List().Contains(main), $"List() does not contain {main}"));

        if (inspector is not null)
        {
            Check("a written variable is immutable again afterwards (efivarfs protection kept)", () =>
                Expect(inspector.IsImmutable(main) == true, "FS_IMMUTABLE_FL is not set after the write"));
        }

        Check("create on an existing variable fails with AlreadyExists and keeps the value", () =>
        {
            ExpectError(VariableErrorKind.AlreadyExists, () => store.Write(main, Nbr, [1], WriteMode.Create));
            Expect(Require(store.TryRead(main)).Data.AsSpan().SequenceEqual(pattern), "the value changed");
        });

        Check("replace stores the whole new value (a shorter value leaves no tail)", () =>
        {
            store.Write(main, Nbr, [0xAA, 0xBB], WriteMode.CreateOrReplace);
            var read = Require(store.TryRead(main));
            Expect(read.Data.AsSpan().SequenceEqual(new byte[] { 0xAA, 0xBB }), $"read back {Convert.ToHexString(read.Data)}");
        });

        Check("append adds bytes to the end of the value", () =>
        {
            store.Write(main, Nbr, [0xCC], WriteMode.Append);
            var read = Require(store.TryRead(main));
            Expect(read.Data.AsSpan().SequenceEqual(new byte[] { 0xAA, 0xBB, 0xCC }), $"read back {Convert.ToHexString(read.Data)}");
            Expect(read.Attributes == Nbr, $"attributes read back as 0x{(uint)read.Attributes:x}; APPEND_WRITE must not be stored");
        });

        Check("append creates a variable that does not exist", () =>
        {
            var appended = Scratch("B");
            store.Write(appended, Nbr, [7, 8], WriteMode.Append);
            Expect(Require(store.TryRead(appended)).Data.AsSpan().SequenceEqual(new byte[] { 7, 8 }), "wrong value");
            store.Delete(appended);
        });

        Check("an existing variable keeps its attributes (InvalidAttributes) and its value", () =>
        {
            ExpectError(VariableErrorKind.InvalidAttributes, () =>
                store.Write(main, VariableAttributes.NonVolatile | VariableAttributes.BootServiceAccess, [9], WriteMode.CreateOrReplace));
            Expect(Require(store.TryRead(main)).Data.Length == 3, "the value changed");
        });

        Check("runtime access without boot-service access is refused and leaves nothing behind", () =>
        {
            var bad = Scratch("C");
            ExpectError(VariableErrorKind.InvalidAttributes, () =>
                store.Write(bad, VariableAttributes.NonVolatile | VariableAttributes.RuntimeAccess, [1], WriteMode.Create));
            Expect(store.TryRead(bad) is null, "a variable was created");
            Expect(!store.List().Contains(bad), "the refused variable is listed");
        });

        Check("attribute bits outside EFI_VARIABLE_MASK are refused", () =>
            ExpectError(VariableErrorKind.InvalidAttributes, () =>
                store.Write(Scratch("D"), (VariableAttributes)0x100 | Nbr, [1], WriteMode.Create)));

        Check("an empty value is refused (SetVariable with 0 bytes would delete)", () =>
        {
            ExpectError(VariableErrorKind.InvalidValue, () => store.Write(main, Nbr, [], WriteMode.CreateOrReplace));
            Expect(Require(store.TryRead(main)).Data.Length == 3, "the variable changed");
        });

        Check("a name efivarfs cannot store is refused with InvalidName", () =>
            ExpectError(VariableErrorKind.InvalidName, () => store.Write(VariableName.Ppn("Bad/Name"), Nbr, [1], WriteMode.Create)));

        if (inspector is not null)
        {
            Check("a secret variable is readable by its owner only (0600)", () =>
            {
                var secret = Scratch("S");
                store.Write(secret, Nbr, [0x5e], WriteMode.Create, secret: true);
                var mode = inspector.GetFileMode(secret);
                Expect(mode == EfivarfsStore.SecretMode, $"mode is {Octal(mode)}, expected 0600");
                store.Write(main, Nbr, [1, 2, 3], WriteMode.CreateOrReplace, secret: true);
                mode = inspector.GetFileMode(main);
                Expect(mode == EfivarfsStore.SecretMode, $"an existing variable written as secret has mode {Octal(mode)}");
                store.Delete(secret);
            });
        }

        Check("delete removes the variable; deleting again fails with NotFound", () =>
        {
            store.Delete(main);
            Expect(store.TryRead(main) is null, "the variable still reads");
            Expect(!store.List().Contains(main), "the variable is still listed");
            ExpectError(VariableErrorKind.NotFound, () => store.Delete(main));
        });

        Check("no scratch variables remain", () =>
        {
            Sweep(store, log);
            var left = store.List().Where(IsScratch).ToList();
            Expect(left.Count == 0, "left behind: " + string.Join(", ", left));
        });
        return results;
    }

    private static bool IsScratch(VariableName name) =>
        name.Vendor == VariableName.PpnVendor && name.Name.StartsWith(ScratchPrefix, StringComparison.Ordinal);

    private static void Sweep(IVariableStore store, Action<string>? log)
    {
        foreach (var name in store.List().Where(IsScratch))
        {
            try
            {
                store.Delete(name);
            }
            catch (VariableStoreException e) when (e.Kind == VariableErrorKind.NotFound)
            {
            }
            log?.Invoke($"removed scratch variable {name}");
        }
    }

    private static Variable Require(Variable? variable) =>
        variable ?? throw new InvalidOperationException("the variable does not read back");

    private static void Expect(bool condition, string failure)
    {
        if (!condition) throw new InvalidOperationException(failure);
    }

    private static void ExpectError(VariableErrorKind kind, Action action)
    {
        try
        {
            action();
        }
        catch (VariableStoreException e) when (e.Kind == kind)
        {
            return;
        }
        catch (VariableStoreException e)
        {
            throw new InvalidOperationException($"expected {kind}, got {e.Kind}: {e.Message}", e);
        }
        throw new InvalidOperationException($"expected {kind}, but the call succeeded");
    }

    private static string Octal(UnixFileMode? mode) => mode is { } m ? Convert.ToString((int)m, 8).PadLeft(4, '0') : "(missing)";
}

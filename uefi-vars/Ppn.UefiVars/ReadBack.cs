using System.Security.Cryptography;

namespace Ppn.UefiVars;

/// <summary>What reading a variable back after writing it showed.</summary>
public enum ReadBack
{
    Same,
    Missing,
    Different,
}

/// <summary>
/// Write, read back, compare: the node's stores (identity, enrolment, replay state) use a record only once the
/// firmware gave back exactly what was written (a variable store can accept a write and lose it). One home for the
/// comparison, so it is constant-time for secrets and zeroes the copy it read.
/// </summary>
public static class ReadBackCheck
{
    /// <summary>Reads <paramref name="name"/> and compares it with <paramref name="expected"/>; read failures throw <see cref="VariableStoreException"/>.</summary>
    public static ReadBack ReadBack(this IVariableStore store, VariableName name, ReadOnlySpan<byte> expected)
    {
        var back = store.TryRead(name);
        if (back is null) return UefiVars.ReadBack.Missing;
        try
        {
            return back.Data.Length == expected.Length && CryptographicOperations.FixedTimeEquals(back.Data, expected)
                ? UefiVars.ReadBack.Same
                : UefiVars.ReadBack.Different;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(back.Data);
        }
    }

    /// <summary>"as missing" or "different from what was written", for "NAME read back ...".</summary>
    public static string Describe(this ReadBack result) => result == UefiVars.ReadBack.Missing ? "as missing" : "different from what was written";
}

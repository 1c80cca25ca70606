using Ppn.UefiVars.Testing;

namespace Ppn.UefiVars.Tests;

public class ReadBackTests
{
    private static readonly VariableName Name = VariableName.Ppn("PpnReadBackTest");

    [Fact]
    public void A_variable_reads_back_the_same_missing_or_different()
    {
        using var store = new TempDirEfivarfs();
        Assert.Equal(ReadBack.Missing, store.ReadBack(Name, [1, 2, 3]));
        store.Write(Name, VariableAttributes.NonVolatileBootRuntime, [1, 2, 3], WriteMode.CreateOrReplace);
        Assert.Equal(ReadBack.Same, store.ReadBack(Name, [1, 2, 3]));
        Assert.Equal(ReadBack.Different, store.ReadBack(Name, [1, 2, 4]));
        Assert.Equal(ReadBack.Different, store.ReadBack(Name, [1, 2]));
        Assert.Equal("as missing", ReadBack.Missing.Describe());
        Assert.Equal("different from what was written", ReadBack.Different.Describe());
    }
}

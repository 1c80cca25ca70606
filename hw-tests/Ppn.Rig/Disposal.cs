namespace Ppn.Rig;

/// <summary>Cleanup that goes on past a failure: every item is disposed, and what failed is collected for one report.</summary>
internal static class Disposal
{
    public static void Each(IEnumerable<IDisposable> items, List<Exception> errors)
    {
        foreach (var item in items)
        {
            try
            {
                item.Dispose();
            }
            catch (Exception e)
            {
                errors.Add(e);
            }
        }
    }
}

using System.Diagnostics;
using Geralt;

namespace Ppn.Commands.Tests;

internal static class Repo
{
    /// <summary>The directory holding ppn.slnx, found by walking up from the test binaries.</summary>
    public static string Root
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "ppn.slnx"))) return dir.FullName;
            }
            throw new InvalidOperationException("ppn.slnx not found above " + AppContext.BaseDirectory);
        }
    }

    public static string VectorsPath => Path.Combine(Root, "docs", "protocol", "vectors", "commands.json");
}

/// <summary>Fixed keys (the same as the vectors'), so failures are reproducible.</summary>
internal static class TestKeys
{
    public static readonly byte[] AuthorityPrivate = Convert.FromHexString("a8abababababababababababababababababababababababababababababab6b");
    public static readonly byte[] NodePrivate = Convert.FromHexString("c8cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd4d");
    public static byte[] AuthorityPublic => Public(AuthorityPrivate);
    public static byte[] NodePublic => Public(NodePrivate);

    public static byte[] Public(byte[] privateKey)
    {
        var pub = new byte[32];
        X25519.ComputePublicKey(pub, privateKey);
        return pub;
    }

    public static CommandKeyring NodeRing() => CommandKeyring.ForNode(NodePrivate, AuthorityPublic);
    public static CommandSealer Sealer() => CommandSealer.ForNode(AuthorityPrivate, NodePublic);
}

internal static class Wait
{
    /// <summary>Polls <paramref name="condition"/> until true or the deadline; no fixed sleeps.</summary>
    public static bool Until(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        var spinner = new SpinWait();
        while (!condition())
        {
            if (clock.Elapsed > timeout) return false;
            spinner.SpinOnce(sleep1Threshold: 20);
        }
        return true;
    }
}

using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Ppn.Appliance.Tests;

/// <summary>Rules about what may go into the node binary, checked on the compiled assemblies.</summary>
public class NodeBinaryRulesTests
{
    // Managed-only members of System.Security.Cryptography; everything else there is backed by OpenSSL on
    // Linux, which the image does not ship: the runtime then aborts the process, and as PID 1 that is a
    // kernel panic (seen in the emulated node before this rule existed).
    private static readonly HashSet<string> ManagedOnlyCrypto = ["CryptographicOperations", "CryptographicException"];

    public static IEnumerable<object[]> NodeAssemblies() =>
        Directory.GetFiles(AppContext.BaseDirectory, "Ppn.*.dll")
            .Select(Path.GetFileName)
            .Where(n => n is not null && !n.Contains(".Tests", StringComparison.Ordinal) && !n.Contains(".Testing", StringComparison.Ordinal))
            .Append("ppn.dll")
            .Order(StringComparer.Ordinal)
            .Select(n => new object[] { n! });

    [Theory]
    [MemberData(nameof(NodeAssemblies))]
    public void Node_code_uses_no_openssl_backed_cryptography(string assembly)
    {
        using var pe = new PEReader(File.OpenRead(Path.Combine(AppContext.BaseDirectory, assembly)));
        var reader = pe.GetMetadataReader();
        var offending = reader.TypeReferences
            .Select(h => reader.GetTypeReference(h))
            .Where(t => reader.GetString(t.Namespace).StartsWith("System.Security.Cryptography", StringComparison.Ordinal))
            .Select(t => reader.GetString(t.Name))
            .Where(n => !ManagedOnlyCrypto.Contains(n))
            .ToList();
        Assert.True(offending.Count == 0,
            $"{assembly} uses {string.Join(", ", offending)} from System.Security.Cryptography: use libsodium (Geralt) or Ppn.Linux.KernelRandom instead");
    }

    [Fact]
    public void Every_node_library_is_checked()
    {
        var names = NodeAssemblies().Select(a => (string)a[0]).ToList();
        Assert.Superset(new HashSet<string> { "ppn.dll", "Ppn.Genesis.dll", "Ppn.Mesh.dll", "Ppn.Nic.dll", "Ppn.UefiVars.dll", "Ppn.Linux.dll" }, names.ToHashSet());
    }
}

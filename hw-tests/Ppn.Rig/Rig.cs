using System.Globalization;
using Ppn.Rig.Emulation;
using Ppn.Rig.Net;

namespace Ppn.Rig;

/// <summary>
/// One rig run: a private network namespace with one tap (the emulated link), a work directory for
/// NVRAM files and console logs, and the nodes made on it. Nodes share the tap, so one runs at a time.
/// Dispose kills every node and deletes the namespace, also after a failed test.
/// </summary>
public sealed class Rig : IDisposable
{
    public const string TapName = "tap0";
    private readonly List<QemuNode> _nodes = [];

    private Rig(NetworkNamespace ns, string workDirectory)
    {
        Namespace = ns;
        WorkDirectory = workDirectory;
    }

    public NetworkNamespace Namespace { get; }
    public string WorkDirectory { get; }
    public NodeNetwork Network => new(Namespace, TapName);

    /// <summary>Deletes what crashed runs left, then makes the namespace, the tap and the work directory.</summary>
    public static Rig Create(string runName)
    {
        RigEnvironment.RequireEmulation();
        NetworkNamespace.DeleteStale();
        var work = Path.Combine(RigEnvironment.WorkRoot, string.Create(CultureInfo.InvariantCulture,
            $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{runName}-{Environment.ProcessId}"));
        Directory.CreateDirectory(work);
        var ns = NetworkNamespace.Create();
        try
        {
            ns.AddTap(TapName);
            return new Rig(ns, work);
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    /// <summary>A node with a factory-new NVRAM and a new MAC, on the rig's link. Not powered on.</summary>
    public QemuNode FactoryNewNode(string name, BootSource boot)
    {
        var nvram = Path.Combine(WorkDirectory, $"{name}.OVMF_VARS.fd");
        QemuNode.CreateFactoryNewNvram(nvram);
        var node = new QemuNode(new QemuNodeOptions
        {
            Name = name,
            Boot = boot,
            NvramPath = nvram,
            LogDirectory = WorkDirectory,
            Network = Network,
        });
        _nodes.Add(node);
        return node;
    }

    public void Dispose()
    {
        List<Exception> errors = [];
        foreach (var node in _nodes)
        {
            try
            {
                node.Dispose();
            }
            catch (Exception e)
            {
                errors.Add(e);
            }
        }
        Namespace.Dispose();
        if (errors.Count > 0)
        {
            throw new AggregateException("the rig could not stop every node", errors);
        }
    }
}

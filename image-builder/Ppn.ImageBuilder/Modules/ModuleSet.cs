namespace Ppn.ImageBuilder.Modules;

/// <summary>
/// The kernel modules an image ships: the named ones plus their dependency closure from kmod's
/// modules.dep ("kernel/x.ko: kernel/dep.ko ..."), and the filtered modules.dep the appliance loads them
/// from (dependencies first) at boot.
/// </summary>
public sealed class ModuleSet
{
    private readonly Dictionary<string, string[]> _deps = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _byName = new(StringComparer.Ordinal);

    /// <summary>What every node image carries, and why (docs/image.md).</summary>
    public static readonly IReadOnlyList<string> Required = ["efivarfs", "wireguard", "virtio_net", "virtio_pci", "e1000e", "tg3"];

    public static ModuleSet Parse(string modulesDep, string source)
    {
        var set = new ModuleSet();
        int n = 0;
        foreach (var raw in modulesDep.Split('\n'))
        {
            n++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int colon = line.IndexOf(':');
            if (colon <= 0) throw new FormatException($"{source}:{n}: expected 'module.ko: deps...'");
            var module = line[..colon];
            set._deps[module] = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            set._byName[NameOf(module)] = module;
        }
        return set;
    }

    /// <summary>"kernel/drivers/net/virtio_net.ko.xz" → "virtio_net" (kmod treats '-' and '_' alike).</summary>
    public static string NameOf(string path)
    {
        var file = Path.GetFileName(path);
        foreach (var suffix in new[] { ".ko.xz", ".ko.zst", ".ko.gz", ".ko" })
        {
            if (file.EndsWith(suffix, StringComparison.Ordinal))
            {
                file = file[..^suffix.Length];
                break;
            }
        }
        return file.Replace('-', '_');
    }

    /// <summary>The relative paths of the named modules and all they depend on, sorted.</summary>
    public IReadOnlyList<string> Closure(IEnumerable<string> names, string kernelVersion)
    {
        var result = new SortedSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        foreach (var name in names)
        {
            if (!_byName.TryGetValue(name.Replace('-', '_'), out var path))
            {
                throw new FileNotFoundException($"module '{name}' is not in modules.dep of kernel {kernelVersion}; is it built as a module (=m) in this kernel's config?");
            }
            stack.Push(path);
        }
        while (stack.Count > 0)
        {
            var path = stack.Pop();
            if (!result.Add(path)) continue;
            foreach (var dep in _deps.GetValueOrDefault(path, []))
            {
                stack.Push(dep);
            }
        }
        return result.ToList();
    }

    /// <summary>modules.dep restricted to <paramref name="shipped"/>, in kmod's format and order of deps.</summary>
    public string FilteredModulesDep(IReadOnlyList<string> shipped) =>
        string.Concat(shipped.Select(m => $"{m}:{string.Concat(_deps.GetValueOrDefault(m, []).Select(d => " " + d))}\n"));
}

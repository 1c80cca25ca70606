using Ppn.Linux;
using Ppn.Linux.Interop;

namespace Ppn.Appliance.Init;

/// <summary>Loads a kernel module from a file (finit_module in production, a recorder in tests).</summary>
public interface IModuleLoader
{
    /// <summary>Returns false when the module is already present (EEXIST), throws on other failures.</summary>
    bool Load(string path);
}

public sealed unsafe class FinitModuleLoader : IModuleLoader
{
    public bool Load(string path)
    {
        using var fd = SafeFd.Open(path, OpenFlags.O_RDONLY, advice: "the image is missing a module file; rebuild it with ppn-image");
        long rc;
        fixed (byte* noParameters = "\0"u8)
        {
            rc = LibC.syscall3(SyscallNumbers.FinitModule, fd.Fd, (long)noParameters, 0);
        }
        if (rc < 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno == (int)Errno.EEXIST)
            {
                return false;
            }
            throw new SyscallException("finit_module", path, errno, errno switch
            {
                (int)Errno.ENOEXEC => "the module was built for another kernel; rebuild the image for this kernel",
                (int)Errno.ENOENT => "a symbol it needs is missing: a dependency did not load first",
                (int)Errno.EPERM => "module loading is disabled or not permitted (lockdown?)",
                _ => null,
            });
        }
        return true;
    }
}

/// <summary>
/// modules.dep (kmod's format: "kernel/x.ko: kernel/dep1.ko kernel/dep2.ko") parsed and ordered so that
/// every module follows its dependencies. Paths are relative to /lib/modules/&lt;release&gt;.
/// </summary>
public sealed class ModuleDependencies
{
    private readonly Dictionary<string, string[]> _deps = new(StringComparer.Ordinal);
    private readonly List<string> _declared = new();

    public static ModuleDependencies Parse(string text, string source)
    {
        var result = new ModuleDependencies();
        int lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            int colon = line.IndexOf(':');
            if (colon <= 0)
            {
                throw new FormatException($"{source}:{lineNumber}: expected 'module.ko: deps...', got '{line}'");
            }
            var module = line[..colon].Trim();
            var deps = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (!result._deps.TryAdd(module, deps))
            {
                throw new FormatException($"{source}:{lineNumber}: module '{module}' is listed twice");
            }
            result._declared.Add(module);
        }
        return result;
    }

    public IReadOnlyList<string> Modules => _declared;

    /// <summary>"kernel/drivers/net/virtio_net.ko" → "virtio_net" (kmod's name: '-' read as '_').</summary>
    public static string NameOf(string path) => Ppn.Linux.Modules.ModuleAliases.Normalise(Path.GetFileNameWithoutExtension(path));

    /// <summary><paramref name="modules"/> (paths) and everything they depend on.</summary>
    public IReadOnlySet<string> Closure(IEnumerable<string> modules)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>(modules);
        while (stack.Count > 0)
        {
            var m = stack.Pop();
            if (!result.Add(m)) continue;
            foreach (var d in _deps.GetValueOrDefault(m, [])) stack.Push(d);
        }
        return result;
    }

    /// <summary>Every listed module, dependencies first, each once; declared order breaks ties.</summary>
    public IReadOnlyList<string> LoadOrder()
    {
        var order = new List<string>();
        var state = new Dictionary<string, bool>(StringComparer.Ordinal); // false = visiting, true = done
        foreach (var module in _declared)
        {
            Visit(module, order, state, depth: 0);
        }
        return order;
    }

    private void Visit(string module, List<string> order, Dictionary<string, bool> state, int depth)
    {
        if (state.TryGetValue(module, out var done))
        {
            if (!done)
            {
                throw new FormatException($"modules.dep has a dependency cycle through '{module}'");
            }
            return;
        }
        if (depth > 64)
        {
            throw new FormatException($"modules.dep dependency chain deeper than 64 at '{module}'");
        }
        state[module] = false;
        if (_deps.TryGetValue(module, out var deps))
        {
            // kmod lists a module's dependencies with the one to load last first; visiting them in
            // reverse keeps that order while the recursion guarantees dependencies-first regardless.
            for (int i = deps.Length - 1; i >= 0; i--)
            {
                Visit(deps[i], order, state, depth + 1);
            }
        }
        state[module] = true;
        order.Add(module);
    }
}

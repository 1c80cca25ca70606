namespace Ppn.ImageBuilder.Elf;

/// <summary>
/// A shared object found for an image: where the loader will look for it, and where it is on this host.
/// <paramref name="SameAs"/> names the image path of the same host file found under another name (the loader is both
/// PT_INTERP <c>/lib64/ld-linux-x86-64.so.2</c> and libc's DT_NEEDED in the multiarch directory): the image gets a
/// symlink there, not a second copy.
/// </summary>
public sealed record ResolvedLibrary(string ImagePath, string HostPath, string? SameAs = null);

/// <summary>
/// Finds the transitive shared-library closure of executables the way ld.so does (ld.so(8): DT_RUNPATH with
/// $ORIGIN, then the ld.so.conf directories, then the default directories), without running anything.
/// Each library is placed in the image at the path the loader will search, as a regular file (symlinks
/// dereferenced), so the image does not depend on the host's merged-/usr layout.
/// </summary>
public sealed class LibraryResolver
{
    private readonly IReadOnlyList<string> _searchPath;
    private readonly Func<string, byte[]> _readFile;
    private readonly Func<string, bool> _exists;
    private readonly Func<string, string> _realPath;

    public static readonly IReadOnlyList<string> DefaultDirectories =
        ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];

    public LibraryResolver(IReadOnlyList<string>? searchPath = null, Func<string, byte[]>? readFile = null, Func<string, bool>? exists = null,
        Func<string, string>? realPath = null)
    {
        _searchPath = searchPath ?? HostSearchPath();
        _readFile = readFile ?? File.ReadAllBytes;
        _exists = exists ?? File.Exists;
        _realPath = realPath ?? RealPath;
    }

    /// <summary>The path with every symlink (of the file and its directories) resolved, as realpath(3).</summary>
    public static string RealPath(string path) => RealPath(path, 0);

    private static string RealPath(string path, int links)
    {
        // 40 links: the kernel's own limit before ELOOP (fs/namei.c MAXSYMLINKS).
        if (links > 40) throw new IOException($"{path}: too many levels of symbolic links");
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full);
        var resolvedDir = dir is null || dir == "/" ? "/" : RealPath(dir, links + 1);
        var here = Path.Combine(resolvedDir, Path.GetFileName(full));
        var target = new FileInfo(here).LinkTarget;
        return target is null ? here : RealPath(Path.IsPathRooted(target) ? target : Path.Combine(resolvedDir, target), links + 1);
    }

    /// <summary>ld.so.conf directories (with include globs) followed by the defaults.</summary>
    public static IReadOnlyList<string> HostSearchPath(string conf = "/etc/ld.so.conf")
    {
        var dirs = new List<string>();
        ReadConf(conf, dirs, depth: 0);
        foreach (var d in DefaultDirectories)
        {
            if (!dirs.Contains(d)) dirs.Add(d);
        }
        return dirs;
    }

    private static void ReadConf(string path, List<string> dirs, int depth)
    {
        if (depth > 8 || !File.Exists(path)) return;
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Split('#')[0].Trim();
            if (line.Length == 0) continue;
            if (line.StartsWith("include ", StringComparison.Ordinal))
            {
                var pattern = line[8..].Trim();
                var dir = Path.GetDirectoryName(pattern) ?? "/";
                if (!Directory.Exists(dir)) continue;
                foreach (var file in Directory.GetFiles(dir, Path.GetFileName(pattern)).Order(StringComparer.Ordinal))
                {
                    ReadConf(file, dirs, depth + 1);
                }
            }
            else if (!dirs.Contains(line))
            {
                dirs.Add(line);
            }
        }
    }

    /// <summary>The loader (PT_INTERP) and every library the roots need, each once, sorted by image path.</summary>
    public IReadOnlyList<ResolvedLibrary> Resolve(IEnumerable<string> roots)
    {
        var found = new SortedDictionary<string, ResolvedLibrary>(StringComparer.Ordinal);
        var queue = new Queue<(string Path, string RequiredBy)>(roots.Select(r => (r, "(root)")));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (queue.Count > 0)
        {
            var (path, _) = queue.Dequeue();
            if (!seen.Add(path)) continue;
            var info = ElfDynamicInfo.Parse(_readFile(path), path);
            if (info.Interpreter is { } interp && !found.ContainsKey(interp))
            {
                if (!_exists(interp))
                {
                    throw new FileNotFoundException($"{path} needs the loader {interp}, which is not on this build host");
                }
                found[interp] = new ResolvedLibrary(interp, interp);
                queue.Enqueue((interp, path));
            }
            var origin = Path.GetDirectoryName(path) ?? "/";
            foreach (var name in info.Needed)
            {
                var hit = Find(name, info.RunPath.Select(p => p.Replace("$ORIGIN", origin, StringComparison.Ordinal).Replace("${ORIGIN}", origin, StringComparison.Ordinal)))
                    ?? throw new FileNotFoundException($"{path} needs {name}, found in none of: {string.Join(':', info.RunPath.Concat(_searchPath))}; install the Debian package that ships it");
                if (!found.ContainsKey(hit))
                {
                    found[hit] = new ResolvedLibrary(hit, hit);
                }
                queue.Enqueue((hit, path));
            }
        }
        // Several names of one host file (merged /usr, the /lib64 loader link): the first image path by ordinal order
        // is the file, the others link to it.
        var firstByRealPath = new Dictionary<string, string>(StringComparer.Ordinal);
        var result = new List<ResolvedLibrary>(found.Count);
        foreach (var library in found.Values)
        {
            var real = _realPath(library.HostPath);
            if (firstByRealPath.TryGetValue(real, out var first))
            {
                result.Add(library with { SameAs = first });
            }
            else
            {
                firstByRealPath[real] = library.ImagePath;
                result.Add(library);
            }
        }
        return result;
    }

    private string? Find(string name, IEnumerable<string> runPath)
    {
        if (name.Contains('/'))
        {
            return _exists(name) ? name : null;
        }
        foreach (var dir in runPath.Concat(_searchPath))
        {
            var candidate = Path.Combine(dir, name);
            if (_exists(candidate)) return candidate;
        }
        return null;
    }
}

namespace Ppn.Linux.Modules;

/// <summary>
/// kmod's modules.alias ("alias PATTERN MODULE" per line, PATTERN an fnmatch(3) glob): which module drives which
/// device. A device's sysfs `modalias` ("pci:v00008086d000010D3sv…") matched against the patterns names the modules
/// it needs, as udev/modprobe do at coldplug. The image builder ships it filtered to the image's modules; PID 1
/// loads a device driver only when a present device matches one of its patterns.
/// </summary>
public sealed class ModuleAliases
{
    private readonly List<(string Pattern, string Module)> _entries = [];

    public IReadOnlyList<(string Pattern, string Module)> Entries => _entries;

    /// <summary>kmod treats '-' and '_' in module names alike; names here use '_'.</summary>
    public static string Normalise(string module) => module.Replace('-', '_');

    public static ModuleAliases Parse(string text, string source)
    {
        var result = new ModuleAliases();
        int lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length != 3 || f[0] != "alias")
            {
                throw new FormatException($"{source}:{lineNumber}: expected 'alias PATTERN MODULE', got '{line}'");
            }
            result._entries.Add((f[1], Normalise(f[2])));
        }
        return result;
    }

    /// <summary>The lines for <paramref name="modules"/> only, in kmod's format and the original order.</summary>
    public string Filtered(IEnumerable<string> modules)
    {
        var keep = modules.Select(Normalise).ToHashSet(StringComparer.Ordinal);
        return string.Concat(_entries.Where(e => keep.Contains(e.Module)).Select(e => $"alias {e.Pattern} {e.Module}\n"));
    }

    /// <summary>
    /// Whether <paramref name="pattern"/> matches a device's modalias ("bus:…"), rather than a name the kernel
    /// requests a module by (fs-efivarfs, crypto-…, net-pf-…, rtnl-link-…, devname:…, char-major-…).
    /// </summary>
    public static bool IsDevicePattern(string pattern)
    {
        int colon = pattern.IndexOf(':');
        if (colon <= 0) return false;
        var bus = pattern.AsSpan(0, colon);
        if (bus is "devname" or "symbol") return false;
        foreach (char c in bus)
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_')) return false;
        }
        return true;
    }

    /// <summary>Modules with at least one device pattern: drivers, loaded only for a present device.</summary>
    public IReadOnlySet<string> DeviceDrivers() => _entries.Where(e => IsDevicePattern(e.Pattern)).Select(e => e.Module).ToHashSet(StringComparer.Ordinal);

    /// <summary>The modules one of whose device patterns matches one of <paramref name="modaliases"/>.</summary>
    public IReadOnlySet<string> DriversFor(IEnumerable<string> modaliases)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        var devices = modaliases.ToList();
        foreach (var (pattern, module) in _entries)
        {
            if (result.Contains(module) || !IsDevicePattern(pattern)) continue;
            foreach (var device in devices)
            {
                if (GlobMatch(pattern, device))
                {
                    result.Add(module);
                    break;
                }
            }
        }
        return result;
    }

    /// <summary>
    /// fnmatch(3) without flags, as kmod matches aliases: '*' any run, '?' one character, '[set]' / '[!set]'
    /// with ranges; '\' escapes. Iterative with one backtrack point per '*', so linear in practice.
    /// </summary>
    public static bool GlobMatch(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        int p = 0, t = 0, starP = -1, starT = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length)
            {
                char c = pattern[p];
                if (c == '*')
                {
                    starP = p++;
                    starT = t;
                    continue;
                }
                if (c == '?')
                {
                    p++;
                    t++;
                    continue;
                }
                if (c == '[' && TryClass(pattern, p, text[t], out int next, out bool inClass))
                {
                    if (inClass)
                    {
                        p = next;
                        t++;
                        continue;
                    }
                }
                else
                {
                    if (c == '\\' && p + 1 < pattern.Length) c = pattern[++p];
                    if (c == text[t])
                    {
                        p++;
                        t++;
                        continue;
                    }
                }
            }
            if (starP < 0) return false;
            p = starP + 1;
            t = ++starT;
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }

    // A bracket expression at pattern[start] == '['; false when it is not one (an unclosed '[' is a literal).
    private static bool TryClass(ReadOnlySpan<char> pattern, int start, char c, out int next, out bool matched)
    {
        int i = start + 1;
        bool negate = i < pattern.Length && (pattern[i] == '!' || pattern[i] == '^');
        if (negate) i++;
        bool found = false;
        bool first = true;
        while (i < pattern.Length && (pattern[i] != ']' || first))
        {
            first = false;
            char lo = pattern[i];
            if (i + 2 < pattern.Length && pattern[i + 1] == '-' && pattern[i + 2] != ']')
            {
                char hi = pattern[i + 2];
                if (c >= lo && c <= hi) found = true;
                i += 3;
            }
            else
            {
                if (c == lo) found = true;
                i++;
            }
        }
        if (i >= pattern.Length)
        {
            next = start;
            matched = false;
            return false;
        }
        next = i + 1;
        matched = found != negate;
        return true;
    }
}

/// <summary>The modalias of every device present, from sysfs (/sys/bus/*/devices/*/modalias); a temp directory is its twin.</summary>
public sealed class SysfsDeviceAliases(string sysfsRoot = "/sys")
{
    public IReadOnlyList<string> Read()
    {
        var result = new List<string>();
        var bus = Path.Combine(sysfsRoot, "bus");
        if (!Directory.Exists(bus)) return result;
        foreach (var busDir in Directory.EnumerateDirectories(bus))
        {
            var devices = Path.Combine(busDir, "devices");
            if (!Directory.Exists(devices)) continue;
            foreach (var device in Directory.EnumerateFileSystemEntries(devices))
            {
                var file = Path.Combine(device, "modalias");
                try
                {
                    var alias = File.ReadAllText(file).Trim();
                    if (alias.Length > 0) result.Add(alias);
                }
                catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException)
                {
                    // no modalias (not every device has one), or the device went away while we looked
                }
            }
        }
        result.Sort(StringComparer.Ordinal);
        return result;
    }
}

using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Ppn.Architecture.Tests;

/// <summary>
/// The dependency table in docs/architecture.md §Folders is the allowed list: the folder-level graph of the product
/// projects' ProjectReferences must equal it, arrow for arrow, so a new dependency fails here until the page says it.
/// Around it, the rules the page states: no product project references a test-side project, no project references an
/// executable to borrow a class, and no source file is compiled into a second project.
/// </summary>
public sealed partial class ProjectGraphTests
{
    private static readonly IReadOnlyList<Project> Projects = Project.LoadAll();

    [Fact]
    public void The_architecture_table_equals_the_folder_graph_of_the_product_projects()
    {
        var documented = DocumentedFolderGraph();
        var actual = Projects.Where(p => !p.IsTestSide)
            .GroupBy(p => p.Folder)
            .ToDictionary(g => g.Key, g => g.SelectMany(p => p.References).Select(r => r.Folder).Where(f => f != g.Key).ToHashSet());

        var problems = new List<string>();
        foreach (var (folder, references) in actual.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!documented.TryGetValue(folder, out var allowed))
            {
                problems.Add($"{folder}/ has product projects but no row in docs/architecture.md's table");
                continue;
            }
            problems.AddRange(references.Except(allowed).Order().Select(r => $"{folder}/ → {r}/ is a ProjectReference the table does not list"));
            problems.AddRange(allowed.Except(references).Order().Select(r => $"{folder}/ → {r}/ is in the table but no product project in {folder}/ references {r}/"));
        }
        problems.AddRange(documented.Keys.Except(actual.Keys).Order().Select(f => $"the table has a row for {f}/, which holds no product project"));
        Assert.True(problems.Count == 0, "docs/architecture.md §Folders and the ProjectReference graph disagree:\n" + string.Join('\n', problems));
    }

    [Fact]
    public void What_ships_to_a_node_or_a_build_host_references_no_twin_no_test_support_and_no_rig()
    {
        // hw-tests (the rig) runs on the bench beside the nodes and may use twins (a wireguard-go hub, an efivarfs
        // twin behind the genesis node process); nothing outside it may, and nothing outside it references it.
        var arrows = Projects.Where(p => !p.IsTestSide && p.Folder != "hw-tests")
            .SelectMany(p => p.References.Where(r => r.IsTestSide || r.Folder == "hw-tests").Select(r => $"{p.Name} → {r.Name}"))
            .ToList();
        Assert.True(arrows.Count == 0, "twins, test support and the rig stay out of what ships:\n" + string.Join('\n', arrows));
    }

    [Fact]
    public void Only_tests_reference_an_executable_and_only_the_one_they_test()
    {
        // A test project may start the executable it tests (ppn, ppn-image, ppn-rig, the genesis node process);
        // nothing else references an executable to borrow a class: the class moves into a library.
        var arrows = Projects
            .SelectMany(p => p.References.Where(r => r.IsExecutable).Select(r => (From: p, To: r)))
            .Where(a => !(a.From.IsTestProject && a.From.Folder == a.To.Folder))
            .Select(a => $"{a.From.Name} → {a.To.Name}")
            .ToList();
        Assert.True(arrows.Count == 0, "a project references an executable project:\n" + string.Join('\n', arrows));
    }

    [Fact]
    public void No_source_file_is_compiled_into_a_second_project()
    {
        var linked = Projects
            .SelectMany(p => p.Document.Descendants("Compile")
                .Select(c => (string?)c.Attribute("Include"))
                .Where(i => i is not null && i.Contains("..", StringComparison.Ordinal))
                .Select(i => $"{p.Name} compiles {i}"))
            .ToList();
        Assert.True(linked.Count == 0, "a source file linked into another project (reference its library instead):\n" + string.Join('\n', linked));
    }

    [Fact]
    public void Every_project_is_in_the_solution()
    {
        var inSolution = Projects.Select(p => p.Path).ToHashSet(StringComparer.Ordinal);
        var onDisk = Directory.EnumerateFiles(Repository.Root, "*.csproj", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(Repository.Root, p))
            .Where(p => !p.StartsWith("artifacts", StringComparison.Ordinal) && !p.StartsWith("out", StringComparison.Ordinal))
            .Where(p => !inSolution.Contains(p))
            .Order()
            .ToList();
        Assert.True(onDisk.Count == 0, "projects on disk but not in ppn.slnx (make test would not build or run them):\n" + string.Join('\n', onDisk));
    }

    /// <summary>The rows of the table under "## Folders and the direction of dependencies": folder → the folders its product projects reference.</summary>
    private static Dictionary<string, HashSet<string>> DocumentedFolderGraph()
    {
        var page = File.ReadAllText(Repository.PathOf("docs/architecture.md"));
        int start = page.IndexOf("## Folders and the direction of dependencies", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/architecture.md lost its section \"Folders and the direction of dependencies\"");
        var rows = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var line in page[start..].Split('\n').SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')))
        {
            var cells = line.Split('|');
            var folder = FolderCell().Match(cells[1]);
            if (!folder.Success)
            {
                continue; // the header and its rule
            }
            var references = cells[^2].Trim();
            rows[folder.Groups[1].Value] = references is "—" or "-" or ""
                ? []
                : FolderCell().Matches(references).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        }
        Assert.True(rows.Count > 0, "no table rows found under \"Folders and the direction of dependencies\"");
        return rows;
    }

    [GeneratedRegex(@"`([a-z-]+)/`")]
    private static partial Regex FolderCell();
}

/// <summary>One project of ppn.slnx as its csproj declares it.</summary>
internal sealed class Project
{
    private Project(string path, XDocument document)
    {
        Path = path;
        Document = document;
        Name = System.IO.Path.GetFileNameWithoutExtension(path);
        Folder = path.Split('/')[0];
    }

    /// <summary>Relative to the repository root, e.g. <c>mesh/Ppn.Mesh/Ppn.Mesh.csproj</c>.</summary>
    public string Path { get; }
    public string Name { get; }

    /// <summary>The top-level folder: the part of the architecture it belongs to.</summary>
    public string Folder { get; }
    public XDocument Document { get; }
    public IReadOnlyList<Project> References { get; private set; } = [];

    public bool IsTestProject => Name.EndsWith(".Tests", StringComparison.Ordinal) || Name.EndsWith(".Scenarios", StringComparison.Ordinal);

    /// <summary>Tests, twins (.Testing), fuzz harnesses, benchmarks and shared test support: never shipped, may reference product code freely.</summary>
    public bool IsTestSide => IsTestProject || Folder == "testing"
        || Name.EndsWith(".Testing", StringComparison.Ordinal) || Name.EndsWith(".Fuzz", StringComparison.Ordinal) || Name.EndsWith(".Bench", StringComparison.Ordinal);

    public bool IsExecutable => Document.Descendants("OutputType").Any(e => e.Value.Trim() == "Exe");

    public static IReadOnlyList<Project> LoadAll()
    {
        var solution = XDocument.Load(Repository.PathOf("ppn.slnx"));
        var projects = solution.Descendants("Project")
            .Select(e => (string)e.Attribute("Path")!)
            .Select(p => new Project(p, XDocument.Load(Repository.PathOf(p))))
            .ToDictionary(p => p.Path, StringComparer.Ordinal);
        foreach (var project in projects.Values)
        {
            var directory = System.IO.Path.GetDirectoryName(project.Path)!;
            project.References = project.Document.Descendants("ProjectReference")
                .Select(r => System.IO.Path.GetRelativePath(Repository.Root, System.IO.Path.GetFullPath(System.IO.Path.Combine(Repository.Root, directory, (string)r.Attribute("Include")!))))
                .Select(r => projects.TryGetValue(r, out var target) ? target : throw new InvalidOperationException($"{project.Path} references {r}, which is not in ppn.slnx"))
                .ToList();
        }
        return projects.Values.ToList();
    }
}

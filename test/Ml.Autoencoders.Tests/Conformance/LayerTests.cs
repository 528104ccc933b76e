using System.Reflection;

namespace Ml.Autoencoders.Tests;

/// <summary>The layers of docs/architecture.md, checked on the compiled assemblies.</summary>
[TestClass]
public sealed class LayerTests
{
    private static Assembly Core => typeof(Ml.Autoencoders.Models.AutoencoderModel).Assembly;

    private static Assembly Adapter => typeof(Ml.Autoencoders.Transforms.AutoencoderTransformer).Assembly;

    private static Assembly[] Library => [Core, Adapter];

    /// <summary>No dependency cycle between the library's folders (namespaces), read from the compiled type references.</summary>
    [TestMethod]
    public void NoDependencyCycleBetweenFolders()
    {
        var graph = FolderGraph.Read(Library);
        var cycles = graph.Cycles();
        Assert.IsEmpty(cycles, string.Join("\n\n", cycles.Select(c =>
            $"cycle between {c.Count} folders: {string.Join(", ", c)}\n  " + string.Join("\n  ", graph.Describe(c)))));
    }

    /// <summary>The detector itself: planting the reverse of a real edge makes a cycle that names both folders.</summary>
    [TestMethod]
    public void APlantedBackEdgeIsACycle()
    {
        var graph = FolderGraph.Read(Library);
        Assert.IsNotEmpty(graph.Edges, "the library's folders reference each other");
        var (from, to) = graph.Edges.Keys.OrderBy(e => e.From, StringComparer.Ordinal).ThenBy(e => e.To, StringComparer.Ordinal).First();
        int before = graph.Cycles().Count(c => c.Contains(from) && c.Contains(to));
        graph.Plant(to, from);
        Assert.AreEqual(0, before);
        Assert.IsTrue(graph.Cycles().Any(c => c.Contains(from) && c.Contains(to)), $"planted {to} -> {from} against {from} -> {to}");
    }

    /// <summary>The core compiles without ML.NET: it references no Microsoft.ML assembly, and no adapter assembly.</summary>
    [TestMethod]
    public void CoreKnowsNothingOfMlNet()
    {
        Assert.AreEqual("Ml.Autoencoders.Core", Core.GetName().Name);
        var references = Core.GetReferencedAssemblies().Select(a => a.Name!).ToList();
        CollectionAssert.DoesNotContain(references, Adapter.GetName().Name);
        Assert.IsFalse(references.Any(r => r.StartsWith("Microsoft.ML", StringComparison.Ordinal)),
            "the core references " + string.Join(", ", references.Where(r => r.StartsWith("Microsoft.ML", StringComparison.Ordinal))));
    }

    /// <summary>No folder name lives in both assemblies: a folder is one layer, in one project.</summary>
    [TestMethod]
    public void EachFolderLivesInOneProject()
    {
        var core = FolderGraph.Read(Core).Folders;
        var adapter = FolderGraph.Read(Adapter).Folders;
        CollectionAssert.AreEquivalent(Array.Empty<string>(), core.Intersect(adapter).ToArray());
    }

    /// <summary>
    /// Folders outside the bodies that may name a body's types, each with why. Anything else must reach bodies through
    /// <c>BodyKinds</c>, <c>BodyOptions</c> and <c>IBodySpec</c>, so a new body is its folder and one line in the list.
    /// </summary>
    private static readonly Dictionary<string, string> MayNameABody = new()
    {
        ["Ml.Autoencoders.Networks.Bodies"] = "the one list of bodies",
        ["Ml.Autoencoders"] = "presets (AutoencoderPresets) build a body's public options, as a user does",
        ["Microsoft.ML"] = "catalog calls that take a preset's public options (e.g. DecoderUpsampling)",
    };

    /// <summary>No folder outside a body's own switches on its types (see <see cref="MayNameABody"/>); bodies may build on each other.</summary>
    [TestMethod]
    public void OnlyTheBodyListNamesEachBody()
    {
        var graph = FolderGraph.Read(Library);
        var bodies = Ml.Autoencoders.Networks.Bodies.BodyKinds.All.Select(k => k.GetType().Namespace!).ToHashSet(StringComparer.Ordinal);
        Assert.IsGreaterThanOrEqualTo(2, bodies.Count, "each body has its own folder");
        var outside = graph.Edges.Where(e => bodies.Contains(e.Key.To) && !bodies.Contains(e.Key.From) && !MayNameABody.ContainsKey(e.Key.From))
            .Select(e => $"{e.Key.From} -> {e.Key.To}: {e.Value}").ToList();
        Assert.IsEmpty(outside, "folders that name a body's types:\n" + string.Join("\n", outside));
    }
}

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
}

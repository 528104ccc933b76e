using System.Reflection;
using System.Runtime.CompilerServices;

namespace Ml.Autoencoders.Tests;

/// <summary>ML.NET's convention for extension packages: catalog extension methods live in namespace Microsoft.ML.</summary>
[TestClass]
public sealed class CatalogNamespaceTests
{
    /// <summary>Every public extension method whose first parameter is an ML.NET type is declared in namespace Microsoft.ML, so <c>using Microsoft.ML;</c> finds it.</summary>
    [TestMethod]
    public void CatalogExtensionMethodsLiveInMicrosoftML()
    {
        var adapter = typeof(Ml.Autoencoders.Transforms.AutoencoderTransformer).Assembly;
        var extensions = adapter.GetExportedTypes()
            .Where(t => t.IsAbstract && t.IsSealed)
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.IsDefined(typeof(ExtensionAttribute))))
            .Where(m => m.GetParameters()[0].ParameterType.Namespace?.StartsWith("Microsoft.ML", StringComparison.Ordinal) == true)
            .ToList();
        Assert.IsGreaterThan(10, extensions.Count, "the catalog methods were found");
        var elsewhere = extensions.Where(m => m.DeclaringType!.Namespace != "Microsoft.ML").Select(m => $"{m.DeclaringType!.FullName}.{m.Name}").Distinct().ToList();
        Assert.IsEmpty(elsewhere, "catalog extension methods outside namespace Microsoft.ML: " + string.Join(", ", elsewhere));
    }
}

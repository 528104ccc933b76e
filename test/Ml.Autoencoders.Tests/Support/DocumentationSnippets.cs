using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Ml.Autoencoders.Tests;

/// <summary>How a <c>```csharp</c> block of the documentation is checked (docs/contributing.md, "Code blocks").</summary>
public enum SnippetKind
{
    /// <summary>No marker (or <c>&lt;!-- snippet: run --&gt;</c>): a complete program (top-level statements, as a
    /// <c>dotnet new console</c> app has them) that is compiled against the packages alone and run.</summary>
    Run,

    /// <summary><c>&lt;!-- snippet: compile-only; given: T name, ... --&gt;</c>: statements compiled as the body of a
    /// method whose parameters are the given declarations; not run.</summary>
    CompileOnly,

    /// <summary><c>&lt;!-- snippet: fragment of PATH --&gt;</c>: every code line of the block occurs, in order, in PATH (a
    /// sample or test file that the build compiles).</summary>
    Fragment,
}

/// <summary>One fenced C# block of README.md or docs/*.md, with the marker that precedes it.</summary>
/// <param name="File">The Markdown file, relative to the repository root (forward slashes).</param>
/// <param name="Line">The 1-based line of the block's first code line in that file.</param>
/// <param name="Code">The block's text (without the fences; the fence's indentation removed).</param>
/// <param name="Kind">How the block is checked.</param>
/// <param name="Argument">The fragment's path, or the compile-only block's given declarations ("" when none).</param>
public sealed record DocumentationSnippet(string File, int Line, string Code, SnippetKind Kind, string Argument)
{
    /// <summary>The block's identity in test names and messages: <c>FILE:LINE</c>.</summary>
    public string Id => $"{File}:{Line}";
}

/// <summary>
/// Finds the C# blocks of the documentation, compiles them with Roslyn against the assemblies a package user has
/// (the framework, Ml.Autoencoders and its core, Microsoft.ML, TorchSharp, ONNX Runtime, ImageAnalytics: the test
/// host's trusted assemblies minus the test, sample-data and test-framework ones), runs the runnable ones in this
/// process, and checks fragments against the files they quote.
/// </summary>
public static partial class DocumentationSnippets
{
    /// <summary>The usings a <c>dotnet new console</c> app has implicitly (ImplicitUsings for Microsoft.NET.Sdk).</summary>
    private static readonly string[] ImplicitUsings =
        ["System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks"];

    /// <summary>Assemblies a package user does not have: a snippet that needs them does not compile.</summary>
    private static readonly string[] ExcludedAssemblyPrefixes =
        ["Ml.Autoencoders.Tests", "Ml.Autoencoders.SampleData", "Ml.Autoencoders.Samples", "Ml.Autoencoders.LoadCheck", "MSTest", "Microsoft.VisualStudio.TestPlatform", "Microsoft.Testing", "Microsoft.TestPlatform", "Microsoft.CodeAnalysis", "testhost"];

    private static readonly Lazy<IReadOnlyList<DocumentationSnippet>> Found = new(() => FindAll(RepositoryRoot()));
    private static readonly Lazy<MetadataReference[]> References = new(LoadReferences);
    private static readonly Lazy<string[]> LibraryNamespaces = new(FindLibraryNamespaces);

    /// <summary>The repository root: the folder above the test binaries that holds Ml.Autoencoders.sln.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "Ml.Autoencoders.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"No Ml.Autoencoders.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>README.md and every Markdown file under docs/, relative to the root, in a fixed order.</summary>
    public static IReadOnlyList<string> DocumentationFiles(string root) =>
        new[] { "README.md" }
            .Concat(Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
                .Order(StringComparer.Ordinal))
            .ToList();

    /// <summary>Every C# block of the documentation (parsed once per test run).</summary>
    public static IReadOnlyList<DocumentationSnippet> All() => Found.Value;

    /// <summary>The block with this <see cref="DocumentationSnippet.Id"/>.</summary>
    public static DocumentationSnippet Get(string id) =>
        All().SingleOrDefault(s => s.Id == id) ?? throw new KeyNotFoundException($"No C# block at {id}.");

    /// <summary>Parses the blocks of the documentation files under <paramref name="root"/>; a marker that is not followed by
    /// a C# block, or that names no known kind, throws <see cref="FormatException"/> naming its file and line.</summary>
    public static IReadOnlyList<DocumentationSnippet> FindAll(string root) =>
        DocumentationFiles(root).SelectMany(f => Parse(f, System.IO.File.ReadAllText(Path.Combine(root, f)))).ToList();

    /// <summary>Parses the blocks of one Markdown text (see <see cref="FindAll"/>).</summary>
    public static IEnumerable<DocumentationSnippet> Parse(string file, string markdown)
    {
        string[] lines = markdown.Replace("\r\n", "\n").Split('\n');
        (SnippetKind Kind, string Argument, int Line)? pending = null;
        for (int i = 0; i < lines.Length; i++)
        {
            var marker = MarkerLine().Match(lines[i]);
            if (marker.Success)
            {
                pending = (ParseMarker(marker.Groups[1].Value.Trim(), file, i + 1, out string argument), argument, i + 1);
                continue;
            }
            var fence = FenceLine().Match(lines[i]);
            if (!fence.Success)
            {
                if (pending is not null && lines[i].Trim().Length > 0)
                    throw new FormatException($"{file}:{pending.Value.Line}: a snippet marker must be followed by a ```csharp block.");
                continue;
            }
            string indent = fence.Groups[1].Value, ticks = fence.Groups[2].Value, language = fence.Groups[3].Value;
            int start = i + 1, end = start;
            while (end < lines.Length && !lines[end].TrimStart().StartsWith(ticks, StringComparison.Ordinal)) end++;
            bool csharp = language is "csharp" or "cs" or "c#" or "C#";
            if (pending is not null && !csharp)
                throw new FormatException($"{file}:{pending.Value.Line}: a snippet marker must be followed by a ```csharp block, not ```{language}.");
            if (csharp)
            {
                string code = string.Join("\n", lines[start..end].Select(l => l.StartsWith(indent, StringComparison.Ordinal) ? l[indent.Length..] : l.TrimStart()));
                yield return new DocumentationSnippet(file, start + 1, code, pending?.Kind ?? SnippetKind.Run, pending?.Argument ?? "");
            }
            pending = null;
            i = end;
        }
        if (pending is not null)
            throw new FormatException($"{file}:{pending.Value.Line}: a snippet marker must be followed by a ```csharp block.");
    }

    private static SnippetKind ParseMarker(string text, string file, int line, out string argument)
    {
        argument = "";
        if (text == "run") return SnippetKind.Run;
        if (text == "compile-only") return SnippetKind.CompileOnly;
        if (text.StartsWith("compile-only;", StringComparison.Ordinal))
        {
            string rest = text["compile-only;".Length..].Trim();
            if (!rest.StartsWith("given:", StringComparison.Ordinal))
                throw new FormatException($"{file}:{line}: expected 'compile-only; given: Type name, ...', found '{text}'.");
            argument = rest["given:".Length..].Trim();
            return SnippetKind.CompileOnly;
        }
        if (text.StartsWith("fragment of ", StringComparison.Ordinal))
        {
            argument = text["fragment of ".Length..].Trim();
            return SnippetKind.Fragment;
        }
        throw new FormatException($"{file}:{line}: unknown snippet marker '{text}' (known: run, compile-only[; given: ...], fragment of PATH).");
    }

    /// <summary>Checks a fragment: each of its code lines (trailing <c>//</c> comments, blank and comment-only lines
    /// ignored, whitespace trimmed) equals a line of the quoted file, in the same order. Returns null when it does,
    /// else what is missing.</summary>
    public static string? FragmentMismatch(DocumentationSnippet snippet, string root)
    {
        string path = Path.Combine(root, snippet.Argument);
        if (!snippet.Argument.EndsWith(".cs", StringComparison.Ordinal) || !(snippet.Argument.StartsWith("src/", StringComparison.Ordinal) || snippet.Argument.StartsWith("test/", StringComparison.Ordinal)))
            return $"{snippet.Id}: a fragment quotes a .cs file under src/ or test/ (compiled by the build), not '{snippet.Argument}'.";
        if (!System.IO.File.Exists(path))
            return $"{snippet.Id}: the quoted file {snippet.Argument} does not exist.";
        string[] source = System.IO.File.ReadAllLines(path).Select(CodeOf).ToArray();
        int at = 0, blockLine = snippet.Line - 1;
        foreach (string raw in snippet.Code.Split('\n'))
        {
            blockLine++;
            string code = CodeOf(raw);
            if (code.Length == 0) continue;
            int found = Array.IndexOf(source, code, at);
            if (found < 0)
                return $"{snippet.File}:{blockLine}: '{code}' is not a line of {snippet.Argument}" + (at > 0 ? $" after its line {at}" : "") + ".";
            at = found + 1;
        }
        return null;
    }

    /// <summary>A line's code: its trailing <c>//</c> comment removed (outside string and character literals), trimmed.</summary>
    public static string CodeOf(string line)
    {
        bool inString = false, verbatim = false, inChar = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (inString)
            {
                if (!verbatim && c == '\\') i++;
                else if (c == '"')
                {
                    if (verbatim && i + 1 < line.Length && line[i + 1] == '"') i++;
                    else inString = false;
                }
            }
            else if (inChar)
            {
                if (c == '\\') i++;
                else if (c == '\'') inChar = false;
            }
            else if (c == '"')
            {
                inString = true;
                verbatim = i > 0 && line[i - 1] == '@' || i > 1 && line[i - 1] == '$' && line[i - 2] == '@';
            }
            else if (c == '\'') inChar = true;
            else if (c == '/' && i + 1 < line.Length && line[i + 1] == '/') return line[..i].Trim();
        }
        return line.Trim();
    }

    /// <summary>Compiles a Run or CompileOnly block; returns the assembly's bytes, or throws
    /// <see cref="InvalidOperationException"/> with the compiler's errors at their documentation file and line.</summary>
    public static byte[] Compile(DocumentationSnippet snippet)
    {
        string global = string.Join("\n", ImplicitUsings.Select(u => $"global using global::{u};"));
        string source = snippet.Kind switch
        {
            SnippetKind.Run => $"#line {snippet.Line} \"{snippet.File}\"\n{snippet.Code}\n",
            SnippetKind.CompileOnly => WrapInMethod(snippet),
            _ => throw new ArgumentException($"{snippet.Id} is a fragment: it is checked against its file, not compiled alone."),
        };
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var compilation = CSharpCompilation.Create(
            "Snippet_" + Regex.Replace(snippet.Id, "[^A-Za-z0-9]", "_"),
            [CSharpSyntaxTree.ParseText(global, parse), CSharpSyntaxTree.ParseText(source, parse, path: snippet.File)],
            References.Value,
            new CSharpCompilationOptions(snippet.Kind == SnippetKind.Run ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary,
                nullableContextOptions: NullableContextOptions.Enable, optimizationLevel: OptimizationLevel.Release));
        using var stream = new MemoryStream();
        var result = compilation.Emit(stream);
        if (!result.Success)
        {
            var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString());
            throw new InvalidOperationException($"The C# block at {snippet.Id} does not compile:\n" + string.Join("\n", errors));
        }
        return stream.ToArray();
    }

    /// <summary>Wraps a compile-only block: its leading using directives stay at the top, next to the library's
    /// namespaces and Microsoft.ML's; its statements become the body of a method taking the given declarations.</summary>
    private static string WrapInMethod(DocumentationSnippet snippet)
    {
        string[] lines = snippet.Code.Split('\n');
        int first = 0;
        while (first < lines.Length && (lines[first].Trim().Length == 0 || lines[first].TrimStart().StartsWith("//", StringComparison.Ordinal) || UsingDirective().IsMatch(lines[first])))
            first++;
        var text = new StringBuilder();
        foreach (string ns in new[] { "Microsoft.ML", "Microsoft.ML.Data" }.Concat(LibraryNamespaces.Value))
            text.Append("using ").Append(ns).Append(";\n");
        text.Append($"#line {snippet.Line} \"{snippet.File}\"\n");
        foreach (string line in lines[..first]) text.Append(UsingDirective().IsMatch(line) ? line : "").Append('\n');
        text.Append("#line hidden\n");
        bool async = Regex.IsMatch(snippet.Code, @"\bawait\b");
        text.Append("internal static class Snippet\n{\n");
        text.Append(async ? "    internal static async Task Body(" : "    internal static void Body(").Append(snippet.Argument).Append(")\n    {\n");
        text.Append($"#line {snippet.Line + first} \"{snippet.File}\"\n");
        foreach (string line in lines[first..]) text.Append(line).Append('\n');
        text.Append("#line hidden\n    }\n}\n");
        return text.ToString();
    }

    /// <summary>Runs a compiled Run block in this process, in <paramref name="workingDirectory"/> (restored afterwards):
    /// its entry point must return normally (and 0, when it returns an exit code).</summary>
    public static void Run(DocumentationSnippet snippet, byte[] assembly, string workingDirectory)
    {
        var entry = Assembly.Load(assembly).EntryPoint ?? throw new InvalidOperationException($"{snippet.Id} has no entry point.");
        string previous = Environment.CurrentDirectory;
        Environment.CurrentDirectory = workingDirectory;
        try
        {
            object? result = entry.Invoke(null, entry.GetParameters().Length == 0 ? null : [Array.Empty<string>()]);
            if (result is Task task) result = task.GetType().GetProperty("Result")?.GetValue(task) ?? WaitFor(task);
            if (result is int code && code != 0)
                throw new InvalidOperationException($"The program at {snippet.Id} returned exit code {code}.");
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw new InvalidOperationException($"The program at {snippet.Id} threw {e.InnerException.GetType().Name}: {e.InnerException.Message}", e.InnerException);
        }
        finally
        {
            Environment.CurrentDirectory = previous;
        }
    }

    private static object? WaitFor(Task task)
    {
        task.GetAwaiter().GetResult();
        return null;
    }

    private static MetadataReference[] LoadReferences()
    {
        string trusted = (string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "";
        var paths = trusted.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(AppDomain.CurrentDomain.GetAssemblies().Where(a => !a.IsDynamic && a.Location.Length > 0).Select(a => a.Location))
            .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Where(p => !ExcludedAssemblyPrefixes.Any(x => Path.GetFileName(p).StartsWith(x, StringComparison.OrdinalIgnoreCase)))
            .DistinctBy(Path.GetFileName, StringComparer.OrdinalIgnoreCase);
        var references = new List<MetadataReference>();
        foreach (string path in paths)
        {
            try
            {
                using var stream = System.IO.File.OpenRead(path);
                using var reader = new System.Reflection.PortableExecutable.PEReader(stream);
                if (!reader.HasMetadata) continue; // a native library named .dll
            }
            catch (BadImageFormatException)
            {
                continue;
            }
            references.Add(MetadataReference.CreateFromFile(path));
        }
        return references.ToArray();
    }

    private static string[] FindLibraryNamespaces() =>
        new[] { typeof(Transforms.AutoencoderTransformer).Assembly, typeof(Models.AutoencoderModel).Assembly }
            .SelectMany(a => a.GetExportedTypes())
            .Select(t => t.Namespace)
            .OfType<string>()
            .Where(ns => ns.StartsWith("Ml.Autoencoders", StringComparison.Ordinal))
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToArray();

    [GeneratedRegex(@"^\s*<!--\s*snippet:(.*?)-->\s*$")]
    private static partial Regex MarkerLine();

    [GeneratedRegex(@"^(\s*)(```+)\s*([^\s`]*)")]
    private static partial Regex FenceLine();

    [GeneratedRegex(@"^\s*using\s+(static\s+)?[A-Za-z_][\w.]*\s*;\s*(//.*)?$|^\s*using\s+\w+\s*=\s*[\w.]+\s*;\s*(//.*)?$")]
    private static partial Regex UsingDirective();
}

using System.Text.RegularExpressions;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The documentation cannot drift from the code: every <c>```csharp</c> block of README.md and docs/*.md is compiled
/// against what a package user has and run when it is a program, or checked line by line against the sample it quotes
/// (the convention: docs/contributing.md, "Code blocks"). Also: the first page stays a first page, CI runs the test
/// command it gives, and every relative link of the documentation reaches a file and, with an anchor, a heading.
/// </summary>
[TestClass]
public sealed partial class DocumentationSnippetTests
{
    /// <summary>The identities (<c>FILE:LINE</c>) of every C# block; empty when the documentation does not parse
    /// (<see cref="TheDocumentationParses"/> then says why).</summary>
    public static IEnumerable<object[]> SnippetIds
    {
        get
        {
            IReadOnlyList<DocumentationSnippet> all;
            try
            {
                all = DocumentationSnippets.All();
            }
            catch (FormatException)
            {
                yield break;
            }
            foreach (var snippet in all) yield return [snippet.Id];
        }
    }

    /// <summary>Every marker names a known kind and is followed by a C# block; each kind is used at least once.</summary>
    [TestMethod]
    public void TheDocumentationParses()
    {
        var all = DocumentationSnippets.FindAll(DocumentationSnippets.RepositoryRoot());
        foreach (SnippetKind kind in Enum.GetValues<SnippetKind>())
            Assert.IsTrue(all.Any(s => s.Kind == kind), $"No C# block of kind {kind} in README.md or docs/.");
    }

    /// <summary>A program compiles against the packages alone and runs (exit code 0); a compile-only block compiles; a
    /// fragment's code lines occur, in order, in the file it quotes.</summary>
    [TestMethod]
    [DynamicData(nameof(SnippetIds))]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void EveryCSharpBlockCompilesAndRuns(string id)
    {
        var snippet = DocumentationSnippets.Get(id);
        switch (snippet.Kind)
        {
            case SnippetKind.Fragment:
                string? mismatch = DocumentationSnippets.FragmentMismatch(snippet, DocumentationSnippets.RepositoryRoot());
                Assert.IsNull(mismatch, mismatch);
                break;
            case SnippetKind.CompileOnly:
                DocumentationSnippets.Compile(snippet);
                break;
            case SnippetKind.Run:
                byte[] assembly = DocumentationSnippets.Compile(snippet);
                using (var directory = new TempDirectory("ml-autoencoders-snippet"))
                    DocumentationSnippets.Run(snippet, assembly, directory.Path);
                break;
        }
    }

    /// <summary>README.md is a first page (at most 12 KB) whose first C# block is a runnable quick start that uses the
    /// package alone (no sample-only helper).</summary>
    [TestMethod]
    public void TheFirstPageIsShortAndOpensWithARunnableQuickStart()
    {
        string root = DocumentationSnippets.RepositoryRoot();
        long bytes = new FileInfo(Path.Combine(root, "README.md")).Length;
        Assert.IsLessThanOrEqualTo(12 * 1024L, bytes, $"README.md is {bytes} bytes: move detail to a guide in docs/.");
        var first = DocumentationSnippets.All().First(s => s.File == "README.md");
        Assert.AreEqual(SnippetKind.Run, first.Kind, $"README.md's first C# block ({first.Id}) must be a runnable program.");
        StringAssert.Contains(first.Code, "using Microsoft.ML;");
        Assert.DoesNotContain("SampleData", first.Code, "The quick start must not use the samples' data helpers.");
    }

    /// <summary>.ci/run runs exactly the test command README.md gives.</summary>
    [TestMethod]
    public void CiRunsTheTestCommandTheReadmeGives()
    {
        string root = DocumentationSnippets.RepositoryRoot();
        string command = File.ReadAllLines(Path.Combine(root, ".ci", "run")).Single(l => l.TrimStart().StartsWith("dotnet test", StringComparison.Ordinal)).Trim();
        string[] readme = File.ReadAllLines(Path.Combine(root, "README.md"));
        Assert.Contains(command, readme.Select(l => l.Trim()).ToArray(), $"README.md does not give .ci/run's command on a line of its own: {command}");
    }

    /// <summary>Every relative link of README.md and docs/*.md reaches a file, and a <c>#anchor</c> into a Markdown file
    /// reaches one of its headings (GitHub's anchors: lower case, punctuation dropped, spaces as hyphens).</summary>
    [TestMethod]
    public void RelativeLinksReachFilesAndHeadings()
    {
        string root = DocumentationSnippets.RepositoryRoot();
        var broken = new List<string>();
        foreach (string file in DocumentationSnippets.DocumentationFiles(root).Append("bench/README.md"))
        {
            string text = File.ReadAllText(Path.Combine(root, file));
            string folder = Path.GetDirectoryName(Path.Combine(root, file))!;
            foreach (Match link in MarkdownLink().Matches(StripCode(text)))
            {
                string target = link.Groups[1].Value;
                if (target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal)) continue;
                string[] parts = target.Split('#', 2);
                string path = parts[0].Length == 0 ? Path.Combine(root, file) : Path.GetFullPath(Path.Combine(folder, Uri.UnescapeDataString(parts[0])));
                if (!File.Exists(path) && !Directory.Exists(path))
                {
                    broken.Add($"{file}: {target} (no such file)");
                    continue;
                }
                if (parts.Length == 2 && path.EndsWith(".md", StringComparison.Ordinal) && !Anchors(File.ReadAllText(path)).Contains(parts[1]))
                    broken.Add($"{file}: {target} (no such heading)");
            }
        }
        Assert.IsEmpty(broken, "Broken links:\n" + string.Join("\n", broken));
    }

    /// <summary>The checks themselves: a fragment line that its file lacks is named, an unknown marker is refused with its
    /// line, a block that does not compile reports the documentation's file and line.</summary>
    [TestMethod]
    public void TheChecksCatchDrift()
    {
        string root = DocumentationSnippets.RepositoryRoot();
        var fragment = new DocumentationSnippet("docs/x.md", 10, "var ml = new MLContext(seed: 0);   // comment\nvar nothing = NoSuchCall();", SnippetKind.Fragment, "src/Ml.Autoencoders.Samples/ReadmeSample.cs");
        StringAssert.Contains(DocumentationSnippets.FragmentMismatch(fragment, root), "docs/x.md:11: 'var nothing = NoSuchCall();' is not a line of src/Ml.Autoencoders.Samples/ReadmeSample.cs");
        Assert.IsNull(DocumentationSnippets.FragmentMismatch(fragment with { Code = "var ml = new MLContext(seed: 0);   // another comment" }, root));

        var unknown = Assert.ThrowsExactly<FormatException>(() => DocumentationSnippets.Parse("docs/x.md", "text\n<!-- snippet: runs -->\n```csharp\nvar x = 1;\n```\n").ToList());
        StringAssert.Contains(unknown.Message, "docs/x.md:2: unknown snippet marker 'runs'");
        var dangling = Assert.ThrowsExactly<FormatException>(() => DocumentationSnippets.Parse("docs/x.md", "<!-- snippet: compile-only -->\n```bash\nls\n```\n").ToList());
        StringAssert.Contains(dangling.Message, "docs/x.md:1:");

        var parsed = DocumentationSnippets.Parse("docs/x.md", "# T\n<!-- snippet: compile-only; given: int rows -->\n```csharp\nusing Microsoft.ML;\n\nint twice = rows * 2;\nstring s = twice;\n```\n").Single();
        Assert.AreEqual(("docs/x.md:4", SnippetKind.CompileOnly, "int rows"), (parsed.Id, parsed.Kind, parsed.Argument));
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => DocumentationSnippets.Compile(parsed));
        StringAssert.Contains(error.Message, "docs/x.md(7,");
        DocumentationSnippets.Compile(parsed with { Code = "using Microsoft.ML;\n\nint twice = rows * 2;\nvar ml = new MLContext(seed: twice);" });
    }

    /// <summary>The text outside fenced code blocks and inline code spans.</summary>
    private static string StripCode(string markdown) =>
        InlineCode().Replace(FencedCode().Replace(markdown, ""), "");

    /// <summary>The anchors GitHub gives a Markdown file's headings.</summary>
    private static HashSet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match heading in Heading().Matches(FencedCode().Replace(markdown, "")))
        {
            string slug = new string(heading.Groups[1].Value.Trim().ToLowerInvariant()
                .Where(c => char.IsLetterOrDigit(c) || c is ' ' or '-' or '_').ToArray()).Replace(' ', '-');
            int n = counts.GetValueOrDefault(slug);
            counts[slug] = n + 1;
            anchors.Add(n == 0 ? slug : $"{slug}-{n}");
        }
        return anchors;
    }

    [GeneratedRegex(@"\]\(([^)\s]+)\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"^```.*?^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex FencedCode();

    [GeneratedRegex(@"`[^`\n]*`")]
    private static partial Regex InlineCode();

    [GeneratedRegex(@"^#{1,6}\s+(.+?)\s*#*\s*$", RegexOptions.Multiline)]
    private static partial Regex Heading();
}

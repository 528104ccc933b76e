using System.Globalization;
using OxyPlot;
using OxyPlot.SkiaSharp;
using SkiaSharp;

namespace Ml.Autoencoders.Samples;

/// <summary>What the samples' OxyPlot charts share: a font that has glyphs here, the house palette, PNG output.</summary>
internal static class PlotPng
{
    // matplotlib's tab10 palette: ten colours that stay distinct from each other.
    internal static readonly OxyColor[] Palette =
    [
        OxyColor.FromRgb(0x1f, 0x77, 0xb4), OxyColor.FromRgb(0xff, 0x7f, 0x0e), OxyColor.FromRgb(0x2c, 0xa0, 0x2c),
        OxyColor.FromRgb(0xd6, 0x27, 0x28), OxyColor.FromRgb(0x94, 0x67, 0xbd), OxyColor.FromRgb(0x8c, 0x56, 0x4b),
        OxyColor.FromRgb(0xe3, 0x77, 0xc2), OxyColor.FromRgb(0x7f, 0x7f, 0x7f), OxyColor.FromRgb(0xbc, 0xbd, 0x22),
        OxyColor.FromRgb(0x17, 0xbe, 0xcf),
    ];

    // OxyPlot asks Skia for a font by family name. Its default ("Segoe UI") is missing on Linux, where the
    // NoDependencies native assets then fall back to whatever font they scanned first (here a maths font).
    private static readonly string[] Families = ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica", "Segoe UI"];

    private static readonly Lazy<string?> Family = new(() =>
    {
        var installed = SKFontManager.Default.FontFamilies.ToHashSet(StringComparer.OrdinalIgnoreCase);
        return Families.FirstOrDefault(installed.Contains);
    });

    /// <summary>A plot model with the samples' font, invariant number format and white background.</summary>
    public static PlotModel NewModel(string title, double fontScale) => new()
    {
        Title = title,
        DefaultFont = Family.Value,
        DefaultFontSize = 15 * fontScale,
        TitleFontSize = 20 * fontScale,
        TitleFontWeight = FontWeights.Bold,
        Culture = CultureInfo.InvariantCulture,
        Background = OxyColors.White,
        PlotAreaBorderColor = OxyColor.FromRgb(0x33, 0x33, 0x33),
    };

    /// <summary>Renders <paramref name="model"/> to a <paramref name="width"/> x <paramref name="height"/> PNG; creates the directory if needed.</summary>
    public static void Save(PlotModel model, string path, int width, int height)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        // Text shaping would load HarfBuzz's native library, which no package here ships for Linux; Latin text needs none.
        var exporter = new PngExporter { Width = width, Height = height, UseTextShaping = false };
        using var file = File.Create(path);
        exporter.Export(model, file);
    }
}

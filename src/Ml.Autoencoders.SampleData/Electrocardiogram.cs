using System.Diagnostics;
using System.Globalization;

namespace Ml.Autoencoders.SampleData;

/// <summary>
/// SciPy's electrocardiogram (108,000 samples at 360 Hz, 5 minutes of lead MLII of MIT-BIH record 208), read from a text
/// file of one value per line that <c>data/ecg/export_electrocardiogram.py</c> writes; when the file is missing, the
/// script is run with the first Python that has SciPy (<c>$ECG_PYTHON</c>, <c>python3</c>, <c>/usr/bin/python3</c>).
/// </summary>
public static class Electrocardiogram
{
    /// <summary>Samples per second of the recording.</summary>
    public const int SampleRate = 360;

    /// <summary>Samples in the recording.</summary>
    public const int Length = 108_000;

    /// <summary>The export script, copied next to the binaries.</summary>
    public static string Script => Path.Combine(AppContext.BaseDirectory, "data", "ecg", "export_electrocardiogram.py");

    /// <summary>
    /// The recording in millivolts: read from <paramref name="path"/>, which is written first (by the export script) when
    /// it does not exist.
    /// </summary>
    /// <exception cref="InvalidOperationException">The file is missing and no Python with SciPy could write it; the message says what to run.</exception>
    /// <exception cref="InvalidDataException">The file does not hold 108,000 numbers.</exception>
    public static float[] Load(string path)
    {
        if (!File.Exists(path)) Export(path);
        var values = File.ReadLines(path).Where(l => l.Length > 0).Select(l => float.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        if (values.Length != Length) throw new InvalidDataException($"'{path}' holds {values.Length} values; SciPy's electrocardiogram has {Length}. Delete it to export it again.");
        return values;
    }

    /// <summary>Runs the export script to write <paramref name="path"/>, trying each Python in turn.</summary>
    /// <exception cref="InvalidOperationException">No Python could run it; the message has each one's error and the command to run by hand.</exception>
    public static void Export(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var pythons = new[] { Environment.GetEnvironmentVariable("ECG_PYTHON"), "python3", "/usr/bin/python3" }.Where(p => !string.IsNullOrEmpty(p)).Distinct();
        var errors = new List<string>();
        foreach (string python in pythons!)
        {
            try
            {
                using var process = Process.Start(new ProcessStartInfo(python!, [Script, path]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
                string stderr = process.StandardError.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode == 0 && File.Exists(path))
                {
                    Console.WriteLine($"Exported SciPy's electrocardiogram with {python} to {path}");
                    return;
                }
                errors.Add($"{python}: exit code {process.ExitCode}: {stderr.Trim().Split('\n').LastOrDefault()}");
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                errors.Add($"{python}: {e.Message}");
            }
        }
        throw new InvalidOperationException(
            $"The electrocardiogram file '{path}' is missing and could not be exported ({string.Join("; ", errors)}). " +
            $"Run 'python3 {Script} {path}' with a Python that has SciPy 1.10 or 1.11 (or newer SciPy with pooch and a network), " +
            "or set ECG_PYTHON to such a Python.");
    }

    /// <summary>The mean of each block of <paramref name="factor"/> consecutive samples (a low-pass filter, then every factor-th sample); a partial last block is dropped.</summary>
    public static float[] Downsample(float[] series, int factor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(factor, 1);
        var result = new float[series.Length / factor];
        for (int i = 0; i < result.Length; i++)
        {
            double sum = 0;
            for (int j = 0; j < factor; j++) sum += series[i * factor + j];
            result[i] = (float)(sum / factor);
        }
        return result;
    }
}

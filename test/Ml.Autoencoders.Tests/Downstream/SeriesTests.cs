using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Anomaly;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Networks.Recurrent;
using Ml.Autoencoders.Series;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// Series on ML.NET's terms: <c>SlidingWindows</c> turns one row per time step into one row per window (laid out step by
/// step, as a recurrent body reads it, with the window's first step), and <c>TimeStepErrors</c> takes scored windows back
/// to one row per time step (the mean squared error at each step over the windows covering it).
/// </summary>
[TestClass]
public sealed class SeriesTests
{
    /// <summary>One time step: a scalar and a two-value vector.</summary>
    public sealed class Step
    {
        /// <summary>A scalar series.</summary>
        public float A { get; set; }

        /// <summary>Two more values per step.</summary>
        [VectorType(2)]
        public float[] B { get; set; } = [];

        /// <summary>Not a float: refused as a series column.</summary>
        public double D { get; set; }
    }

    /// <summary>A window read back.</summary>
    public sealed class Window
    {
        /// <summary>The window's values.</summary>
        public float[] Features { get; set; } = [];

        /// <summary>Its first step.</summary>
        public long WindowStart { get; set; }
    }

    /// <summary>A time step read back.</summary>
    public sealed class StepError
    {
        /// <summary>The step.</summary>
        public long TimeStep { get; set; }

        /// <summary>Its error.</summary>
        public float TimeStepError { get; set; }

        /// <summary>Windows covering it.</summary>
        public int WindowCount { get; set; }
    }

    private static Step[] Steps(int n) => Enumerable.Range(0, n).Select(t => new Step { A = t, B = [100 + t, 200 + t], D = t }).ToArray();

    /// <summary>
    /// Eight steps of three values (A, then B's two), windows of 3 with stride 2: windows start at 0, 2, 4 (a fourth would
    /// end beyond the series; step 7 is in no window), each holds its steps' values step by step, its type records
    /// (steps, features), and the view knows its row count. The input's columns do not pass through.
    /// </summary>
    [TestMethod]
    public void WindowsAreLaidOutStepByStepWithTheirFirstStep()
    {
        var ml = new MLContext(seed: 1);
        var series = ml.Data.LoadFromEnumerable(Steps(8));
        var windows = ml.Transforms.SlidingWindows("Features", ["A", "B"], windowSize: 3, stride: 2).Fit(series).Transform(series);

        var type = (VectorDataViewType)windows.Schema["Features"].Type;
        CollectionAssert.AreEqual(new[] { 3, 3 }, type.Dimensions.ToArray());
        Assert.AreEqual(NumberDataViewType.Int64, windows.Schema["WindowStart"].Type);
        Assert.HasCount(2, windows.Schema, "only the window and its start");
        Assert.AreEqual(3L, windows.GetRowCount());

        var rows = ml.Data.CreateEnumerable<Window>(windows, reuseRowObject: false).ToArray();
        CollectionAssert.AreEqual(new long[] { 0, 2, 4 }, rows.Select(r => r.WindowStart).ToArray());
        for (int w = 0; w < rows.Length; w++)
        {
            var expected = Enumerable.Range((int)rows[w].WindowStart, 3).SelectMany(t => new float[] { t, 100 + t, 200 + t }).ToArray();
            CollectionAssert.AreEqual(expected, rows[w].Features, $"window {w}");
        }
    }

    /// <summary>Stride 1 gives n - w + 1 windows; a stride longer than the window skips steps; a window as long as the series gives one.</summary>
    [TestMethod]
    [DataRow(10, 4, 1, new long[] { 0, 1, 2, 3, 4, 5, 6 })]
    [DataRow(10, 2, 3, new long[] { 0, 3, 6 })]
    [DataRow(5, 5, 1, new long[] { 0 })]
    public void WindowStartsFollowTheStride(int n, int window, int stride, long[] starts)
    {
        var ml = new MLContext(seed: 1);
        var series = ml.Data.LoadFromEnumerable(Steps(n));
        var windows = ml.Transforms.SlidingWindows("W", ["A"], window, stride).Fit(series).Transform(series);
        CollectionAssert.AreEqual(starts, windows.GetColumn<long>("WindowStart").ToArray());
        var values = windows.GetColumn<float[]>("W").ToArray();
        for (int i = 0; i < starts.Length; i++)
            CollectionAssert.AreEqual(Enumerable.Range((int)starts[i], window).Select(t => (float)t).ToArray(), values[i]);
    }

    /// <summary>Bad options and bad columns are refused before any data is read, with the parameter or column named.</summary>
    [TestMethod]
    public void BadOptionsAndColumnsAreRefusedByName()
    {
        var ml = new MLContext(seed: 1);
        var series = ml.Data.LoadFromEnumerable(Steps(8));
        Assert.AreEqual("stride", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.SlidingWindows("F", ["A"], 3, stride: 0)).ParamName);
        Assert.AreEqual("windowSize", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.SlidingWindows("F", ["A"], 0)).ParamName);
        Assert.AreEqual("inputColumnNames", Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.SlidingWindows("F", [], 3)).ParamName);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.SlidingWindows("F", ["A", "A"], 3)).Message, "named twice");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.SlidingWindows("WindowStart", ["A"], 3)).Message, "both named 'WindowStart'");

        var missing = Assert.ThrowsExactly<AutoencoderSchemaException>(() => ml.Transforms.SlidingWindows("F", ["A", "Nope"], 3).Fit(series));
        Assert.AreEqual("Nope", missing.ColumnName);
        StringAssert.Contains(missing.Message, "'A'", "the available columns are listed");
        var wrongType = Assert.ThrowsExactly<AutoencoderSchemaException>(() => ml.Transforms.SlidingWindows("F", ["D"], 3).Fit(series));
        StringAssert.Contains(wrongType.Message, "must be Single");
        StringAssert.Contains(wrongType.Message, "Double");
        var shapeOfSeries = (SchemaShape)typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static, [typeof(DataViewSchema)])!
            .Invoke(null, [series.Schema])!;
        var shape = Assert.ThrowsExactly<AutoencoderSchemaException>(() => ml.Transforms.SlidingWindows("F", ["D"], 3).GetOutputSchema(shapeOfSeries));
        Assert.AreEqual("D", shape.ColumnName);
        var fitted = ml.Transforms.SlidingWindows("F", ["A"], 3).Fit(series);
        var other = ml.Data.LoadFromEnumerable(new[] { new { X = 1f } });
        Assert.AreEqual("A", Assert.ThrowsExactly<AutoencoderSchemaException>(() => fitted.Transform(other)).ColumnName);
    }

    /// <summary>
    /// A window longer than the series is refused at Transform when the input knows its length, and at the first MoveNext
    /// when it does not (a streamed enumerable); either way the message gives both lengths.
    /// </summary>
    [TestMethod]
    public void AWindowLongerThanTheSeriesIsRefused()
    {
        var ml = new MLContext(seed: 1);
        var known = ml.Data.LoadFromEnumerable(Steps(4));
        var transformer = ml.Transforms.SlidingWindows("F", ["A"], 5).Fit(known);
        var early = Assert.ThrowsExactly<AutoencoderDataException>(() => transformer.Transform(known));
        StringAssert.Contains(early.Message, "The series has 4 rows; a window of 5 steps needs at least 5");

        var streamed = ml.Data.LoadFromEnumerable(Steps(4).Select(s => s)); // an IEnumerable: no row count
        Assert.IsNull(streamed.GetRowCount());
        var windows = transformer.Transform(streamed);
        var late = Assert.ThrowsExactly<AutoencoderDataException>(() => windows.GetColumn<long>("WindowStart").ToArray());
        StringAssert.Contains(late.Message, "The series has 4 rows; a window of 5 steps needs at least 5");
    }

    /// <summary>A NaN in the series fails when a cursor reaches it, naming the column, the row and the index in a vector.</summary>
    [TestMethod]
    public void ANaNInTheSeriesNamesItsRowAndColumn()
    {
        var ml = new MLContext(seed: 1);
        var steps = Steps(9);
        steps[6].B = [1, float.NaN];
        var series = ml.Data.LoadFromEnumerable(steps);
        var windows = ml.Transforms.SlidingWindows("F", ["A", "B"], 3).Fit(series).Transform(series);
        var e = Assert.ThrowsExactly<AutoencoderDataException>(() => windows.GetColumn<float[]>("F").ToArray());
        Assert.AreEqual("B", e.ColumnName);
        Assert.AreEqual(6L, e.Row);
        StringAssert.Contains(e.Message, "Row 6 of column 'B' holds NaN at index 1");
        // Only the window starts asked for: the values are still read and checked.
        Assert.ThrowsExactly<AutoencoderDataException>(() => windows.GetColumn<long>("WindowStart").ToArray());
    }

    /// <summary>
    /// The transform cannot be a row-to-row mapper (its rows are made from several input rows): asked for one, it says so
    /// and what to use; ML.NET's PredictionEngine checks IsRowToRowMapper first and refuses with its own message.
    /// </summary>
    [TestMethod]
    public void APredictionEngineIsRefusedWithTheReason()
    {
        var ml = new MLContext(seed: 1);
        var series = ml.Data.LoadFromEnumerable(Steps(8));
        var transformer = ml.Transforms.SlidingWindows("Features", ["A"], 3).Fit(series);
        Assert.IsFalse(transformer.IsRowToRowMapper);
        var e = Assert.ThrowsExactly<NotSupportedException>(() => transformer.GetRowToRowMapper(series.Schema));
        StringAssert.Contains(e.Message, "not a row-to-row mapping");
        var engine = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Model.CreatePredictionEngine<Step, Window>(transformer));
        StringAssert.Contains(engine.Message, "Must be a row to row mapper");
    }

    /// <summary>
    /// The hand-computed case. Windows of 2 steps x 2 features starting at 0, 1, 2 with squared errors (per value)
    /// [1, 9 | 0, 4], [4, 0 | 1, 1], [0, 0 | 9, 1], so per-step errors (mean over the 2 features) [5, 2], [2, 1], [0, 5]:
    /// step 0 = 5 (1 window), step 1 = (2 + 2) / 2 = 2, step 2 = (1 + 0) / 2 = 0.5, step 3 = 5 (1 window), and step 4
    /// (series length 5) is in no window: NaN, 0. The same from the arrays, from the windows and reconstructions through
    /// ML.NET (window size from the column's dimensions), and from a squared-error column.
    /// </summary>
    [TestMethod]
    public void PerStepErrorsAverageTheWindowsCoveringEachStep()
    {
        float[] squared = [1, 9, 0, 4, 4, 0, 1, 1, 0, 0, 9, 1];
        long[] starts = [0, 1, 2];
        float[] expectedErrors = [5, 2, 0.5f, 5, float.NaN];
        int[] expectedCounts = [1, 2, 2, 1, 0];

        var fromArrays = TimeStepErrorSeries.FromSquaredErrors(starts, squared, windowSize: 2, seriesLength: 5);
        CollectionAssert.AreEqual(expectedErrors, fromArrays.Errors);
        CollectionAssert.AreEqual(expectedCounts, fromArrays.WindowCounts);

        // Windows x = 10 everywhere and reconstructions x - sqrt(squared error): the same errors, exactly.
        var windows = Enumerable.Repeat(10f, squared.Length).ToArray();
        var reconstructions = squared.Select(s => 10f - MathF.Sqrt(s)).ToArray();
        var fromReconstructions = TimeStepErrorSeries.FromReconstructions(starts, windows, reconstructions, 2, 5);
        CollectionAssert.AreEqual(expectedErrors, fromReconstructions.Errors);

        var ml = new MLContext(seed: 1);
        var schema = SchemaDefinition.Create(typeof(ScoredWindow));
        schema[nameof(ScoredWindow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 2, 2);
        schema[nameof(ScoredWindow.Reconstruction)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 4);
        schema[nameof(ScoredWindow.Errors)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 4);
        var scored = ml.Data.LoadFromEnumerable(starts.Select((s, w) => new ScoredWindow
        {
            WindowStart = s, Features = windows[(w * 4)..(w * 4 + 4)], Reconstruction = reconstructions[(w * 4)..(w * 4 + 4)], Errors = squared[(w * 4)..(w * 4 + 4)],
        }).ToArray(), schema);

        var viaMlNet = ml.Transforms.TimeStepErrors(new TimeStepErrorOptions { SeriesLength = 5 }).Fit(scored).Transform(scored);
        var steps = ml.Data.CreateEnumerable<StepError>(viaMlNet, reuseRowObject: false).ToArray();
        CollectionAssert.AreEqual(new long[] { 0, 1, 2, 3, 4 }, steps.Select(s => s.TimeStep).ToArray());
        CollectionAssert.AreEqual(expectedErrors, steps.Select(s => s.TimeStepError).ToArray());
        CollectionAssert.AreEqual(expectedCounts, steps.Select(s => s.WindowCount).ToArray());

        // The squared errors alone: the window size from the window column's dimensions, or given.
        var viaErrors = ml.Transforms.TimeStepErrors(new TimeStepErrorOptions { SquaredErrorsColumnName = "Errors" }).Fit(scored).Transform(scored);
        CollectionAssert.AreEqual(expectedErrors[..4], viaErrors.GetColumn<float>("TimeStepError").ToArray(), "without a series length: up to the end of the last window");
        var sized = new TimeStepErrorOptions { SquaredErrorsColumnName = "Errors", FeatureColumnName = "Reconstruction", WindowSize = 2 };
        CollectionAssert.AreEqual(expectedErrors[..4], ml.Transforms.TimeStepErrors(sized).Fit(scored).Compute(scored).Errors);

        // Neither the window column (here: Reconstruction) nor the Errors column has (steps, features) dimensions: the window size must be given.
        sized.WindowSize = null;
        var noSize = Assert.ThrowsExactly<AutoencoderSchemaException>(() => ml.Transforms.TimeStepErrors(sized).Fit(scored));
        StringAssert.Contains(noSize.Message, "give windowSize");
        var beyond = ml.Transforms.TimeStepErrors(new TimeStepErrorOptions { SeriesLength = 3 }).Fit(scored).Transform(scored);
        var e = Assert.ThrowsExactly<AutoencoderDataException>(() => beyond.GetColumn<float>("TimeStepError").ToArray());
        StringAssert.Contains(e.Message, "beyond the series length 3");
    }

    /// <summary>A scored window as a test builds it.</summary>
    public sealed class ScoredWindow
    {
        /// <summary>Its first step.</summary>
        public long WindowStart { get; set; }

        /// <summary>The window.</summary>
        public float[] Features { get; set; } = [];

        /// <summary>Its reconstruction.</summary>
        public float[] Reconstruction { get; set; } = [];

        /// <summary>Squared errors per value.</summary>
        public float[] Errors { get; set; } = [];
    }

    private static IDataView Sine(MLContext ml, int n, int seed) => ml.Data.LoadFromEnumerable(Enumerable.Range(0, n)
        .Select(t => new Step { A = (float)Math.Sin(0.4 * t + seed), B = [(float)Math.Cos(0.4 * t + seed), 0.5f], D = 0 }).ToArray());

    /// <summary>
    /// The whole series pipeline in ML.NET: SlidingWindows, a small LSTM autoencoder and TimeStepErrors fit in one call;
    /// Transform of another series gives one row per step of it (stride 1: every step covered by min(t + 1, w, n - t)
    /// windows), the same errors as the array computation on the autoencoder's own reconstructions, and saved with
    /// mlContext.Model.Save the chain loads back and gives the same rows; each series stage saves to its own file too.
    /// </summary>
    [TestMethod]
    public void AWindowedAutoencoderMapsASeriesToPerStepErrorsAndSavesAsAChain()
    {
        const int n = 40, w = 6;
        var ml = new MLContext(seed: 1);
        var pipeline = ml.Transforms.SlidingWindows("Features", ["A", "B"], w)
            .Append(ml.Transforms.Autoencoder(new AutoencoderOptions
            {
                Body = new RecurrentOptions { Steps = w, Features = 3, HiddenSize = 4 },
                HiddenLayerSizes = [], LatentDimension = 2, Epochs = 2, BatchSize = 8, Seed = 3,
            }))
            .Append(ml.Transforms.TimeStepErrors());
        var model = pipeline.Fit(Sine(ml, 60, seed: 0));
        var test = Sine(ml, n, seed: 1);
        var steps = ml.Data.CreateEnumerable<StepError>(model.Transform(test), reuseRowObject: false).ToArray();
        Assert.HasCount(n, steps);
        CollectionAssert.AreEqual(Enumerable.Range(0, n).Select(t => Math.Min(Math.Min(t + 1, w), n - t)).ToArray(), steps.Select(s => s.WindowCount).ToArray());

        var windows = model.Take(2).Aggregate(test, (view, stage) => stage.Transform(view));
        var starts = windows.GetColumn<long>("WindowStart").ToArray();
        var x = windows.GetColumn<float[]>("Features").SelectMany(v => v).ToArray();
        var r = windows.GetColumn<float[]>("Reconstruction").SelectMany(v => v).ToArray();
        var expected = TimeStepErrorSeries.FromReconstructions(starts, x, r, w);
        CollectionAssert.AreEqual(expected.Errors, steps.Select(s => s.TimeStepError).ToArray());

        using var dir = new TempDirectory("series");
        ml.Model.Save(model, test.Schema, dir.File("series.zip"));
        var loaded = new MLContext(seed: 5).Model.Load(dir.File("series.zip"), out _);
        var again = ml.Data.CreateEnumerable<StepError>(loaded.Transform(test), reuseRowObject: false).ToArray();
        CollectionAssert.AreEqual(steps.Select(s => s.TimeStepError).ToArray(), again.Select(s => s.TimeStepError).ToArray());

        var windowing = (SlidingWindowTransformer)model.First();
        windowing.Save(dir.File("windows.bin"));
        var windowsLoaded = SlidingWindowTransformer.Load(dir.File("windows.bin"));
        Assert.AreEqual(w, windowsLoaded.WindowSize);
        CollectionAssert.AreEqual(x, windowsLoaded.Transform(test).GetColumn<float[]>("Features").SelectMany(v => v).ToArray());
        var perStep = (TimeStepErrorTransformer)model.Last();
        perStep.Save(dir.File("steps.bin"));
        Assert.AreEqual("TimeStepError", TimeStepErrorTransformer.Load(dir.File("steps.bin")).Options.ErrorColumnName);
        File.WriteAllBytes(dir.File("other.bin"), File.ReadAllBytes(dir.File("steps.bin")));
        StringAssert.Contains(Assert.ThrowsExactly<Persistence.AutoencoderModelFormatException>(() => SlidingWindowTransformer.Load(dir.File("other.bin"))).Message, "magic");
        ((AutoencoderTransformer)model.ElementAt(1)).Release();
    }

    /// <summary>
    /// PCA's reconstruction of windows (the series case's linear baseline): its mean squared error is ReconstructionMse's,
    /// and with every component kept it gives the rows back.
    /// </summary>
    [TestMethod]
    public void PcaReconstructionMatchesItsError()
    {
        var rows = Synthetic.Flatten(Synthetic.LowRank(60, 6, 3, seed: 2));
        var pca = Analysis.PcaBaseline.Fit(rows, 6, 2);
        var reconstruction = pca.Reconstruct(rows);
        double mse = rows.Zip(reconstruction, (a, b) => (double)(a - b) * (a - b)).Average();
        Assert.AreEqual(pca.ReconstructionMse(rows), mse, 1e-6);
        var all = Analysis.PcaBaseline.Fit(rows, 6, 6).Reconstruct(rows);
        for (int i = 0; i < rows.Length; i++) Assert.AreEqual(rows[i], all[i], 1e-5f, $"value {i}");
        Assert.ThrowsExactly<ArgumentException>(() => pca.Reconstruct(rows.AsSpan(1)));
    }

    /// <summary>
    /// The anomaly detector on windows: its per-value errors (FeatureErrorsColumnName) give the per-step errors through
    /// SquaredErrorsColumnName, the same as its autoencoder's reconstructions give them, times the member's weight (a single
    /// member's errors are rescaled by its weight, as its scores are).
    /// </summary>
    [TestMethod]
    public void TheAnomalyDetectorsPerValueErrorsGiveTheSamePerStepErrors()
    {
        const int w = 5;
        var ml = new MLContext(seed: 1);
        var train = ml.Transforms.SlidingWindows("Features", ["A"], w).Fit(Sine(ml, 50, 0)).Transform(Sine(ml, 50, 0));
        var options = new AutoencoderOptions { Body = new RecurrentOptions { Steps = w, HiddenSize = 3, Cell = RecurrentCell.Gru }, HiddenLayerSizes = [], LatentDimension = 2, Epochs = 2, Seed = 9 };
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Autoencoder = options, FeatureErrorsColumnName = "Errors" }).Fit(train);
        var scored = detector.Transform(train);
        var fromDetector = new TimeStepErrorEstimator(new TimeStepErrorOptions { SquaredErrorsColumnName = "Errors", WindowSize = w }).Fit(scored).Compute(scored);
        var fromAutoencoder = ml.Transforms.TimeStepErrors().Fit(detector.Autoencoder.Transform(train)).Compute(detector.Autoencoder.Transform(train));
        Assert.HasCount(50, fromDetector.Errors);
        for (int t = 0; t < 50; t++) Assert.AreEqual(detector.MemberWeights[0] * fromAutoencoder.Errors[t], fromDetector.Errors[t], 1e-5f * Math.Max(1, fromDetector.Errors[t]), $"step {t}");
        detector.Release();
    }
}

using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Tests.Conformance;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// One fitted autoencoder, several threads started together, each with its own cursor or PredictionEngine: every
/// thread gets, bit for bit, what one thread gets. The dense model has LeakyReLU hidden layers (the default), the
/// variational one every output column, the sampled code included.
/// </summary>
[TestClass]
public sealed class ConcurrencyTests
{
    private const int Threads = 4;
    private const int Rounds = 3;
    private static readonly MLContext Ml = new(seed: 1);
    private static readonly float[][] Rows = Synthetic.LowRank(600, 20, 3, seed: 21);
    private static AutoencoderTransformer? dense, variational;

    private static readonly string[] DenseColumns =
        [AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.ReconstructionError];

    private static readonly string[] VariationalColumns =
        [.. DenseColumns, AutoencoderColumnNames.LatentLogVariance, AutoencoderColumnNames.SampledLatentCode];

    /// <summary>784-style dense body, small: 20-16-8-3, LeakyReLU hidden layers, batches of 32 rows in cursors.</summary>
    private static AutoencoderTransformer Dense() => dense ??= Ml.Transforms.Autoencoder(new AutoencoderOptions
    {
        HiddenLayerSizes = [16, 8],
        LatentDimension = 3,
        Epochs = 2,
        TransformBatchSize = 32,
    }).Fit(Ml.ToDataView(Rows));

    /// <summary>A variational autoencoder with every output column, batches of 32 rows in cursors.</summary>
    private static AutoencoderTransformer Variational()
    {
        if (variational is not null) return variational;
        var options = AutoencoderPresets.Variational(latentDimension: 3, hiddenLayerSizes: [16]);
        options.Outputs = AutoencoderOutputs.AllVariational;
        options.Epochs = 2;
        options.TransformBatchSize = 32;
        return variational = Ml.Transforms.Autoencoder(options).Fit(Ml.ToDataView(Rows));
    }

    /// <summary>Frees the shared models.</summary>
    [ClassCleanup]
    public static void Cleanup()
    {
        dense?.Model.Dispose();
        variational?.Model.Dispose();
    }

    /// <summary>Four threads, each with its own cursor (half of them over a view of their own), three rounds each: every value equals one thread's.</summary>
    [TestMethod]
    public void DenseCursorsOnSeveralThreadsMatchOneThreadBitForBit() => CursorsMatchOneThread(Dense(), DenseColumns);

    /// <summary>The same for a variational autoencoder; its sampled code is keyed on the row's position, so it agrees too.</summary>
    [TestMethod]
    public void VariationalCursorsOnSeveralThreadsMatchOneThreadBitForBit() => CursorsMatchOneThread(Variational(), VariationalColumns);

    private static void CursorsMatchOneThread(AutoencoderTransformer model, string[] columns)
    {
        var data = Ml.ToDataView(Rows);
        var shared = model.Transform(data);
        var expected = EstimatorConformance.ReadOutputs(shared, columns);
        var results = OnThreads(t => Enumerable.Range(0, Rounds)
            .Select(_ => EstimatorConformance.ReadOutputs(t % 2 == 0 ? shared : model.Transform(data), columns))
            .ToArray());
        for (int t = 0; t < Threads; t++)
            for (int round = 0; round < Rounds; round++)
                AssertSameBits(expected, results[t][round], $"thread {t}, round {round}");
    }

    /// <summary>
    /// Four threads, each with its own PredictionEngine over the shared transformer, each predicting all 600 rows from
    /// its own starting row: every row's outputs equal those one engine on one thread gives.
    /// </summary>
    [TestMethod]
    public void DensePredictionEnginesOnSeveralThreadsMatchOneThreadBitForBit()
    {
        var model = Dense();
        var expected = Predict<DenseOutputs>(model, Order(0));
        var results = OnThreads(t => Predict<DenseOutputs>(model, Order(t)));
        for (int t = 0; t < Threads; t++)
        {
            var order = Order(t);
            for (int i = 0; i < order.Length; i++)
            {
                int row = order[i];
                var (want, got) = (expected[row], results[t][i]);
                string at = $"thread {t}, row {row}";
                AssertSameBits(want.LatentCode, got.LatentCode, $"{at}: LatentCode");
                AssertSameBits(want.Reconstruction, got.Reconstruction, $"{at}: Reconstruction");
                AssertSameBits([want.ReconstructionError], [got.ReconstructionError], $"{at}: ReconstructionError");
            }
        }
    }

    /// <summary>
    /// Variational: an engine's sampled code is keyed on its own row counter (the number of rows it has predicted), so
    /// each thread's engine must give what a fresh engine gives on one thread for the same sequence of rows, every column
    /// bit for bit; the deterministic columns must also equal one engine's for the same row, whatever its position.
    /// </summary>
    [TestMethod]
    public void VariationalPredictionEnginesOnSeveralThreadsMatchOneThreadBitForBit()
    {
        var model = Variational();
        var sequential = Enumerable.Range(0, Threads).Select(t => Predict<VariationalOutputs>(model, Order(t))).ToArray();
        var byRow = Predict<VariationalOutputs>(model, Order(0));
        var results = OnThreads(t => Predict<VariationalOutputs>(model, Order(t)));
        for (int t = 0; t < Threads; t++)
        {
            var order = Order(t);
            for (int i = 0; i < order.Length; i++)
            {
                var (want, got, same) = (sequential[t][i], results[t][i], byRow[order[i]]);
                string at = $"thread {t}, prediction {i} (row {order[i]})";
                AssertSameBits(want.SampledLatentCode, got.SampledLatentCode, $"{at}: SampledLatentCode");
                foreach (var (a, b) in new[] { (want, got), (same, got) })
                {
                    AssertSameBits(a.LatentCode, b.LatentCode, $"{at}: LatentCode");
                    AssertSameBits(a.LatentLogVariance, b.LatentLogVariance, $"{at}: LatentLogVariance");
                    AssertSameBits(a.Reconstruction, b.Reconstruction, $"{at}: Reconstruction");
                    AssertSameBits([a.ReconstructionError], [b.ReconstructionError], $"{at}: ReconstructionError");
                }
            }
            Assert.IsFalse(results[t].Select(r => r.SampledLatentCode).Zip(results[t], (s, r) => s.SequenceEqual(r.LatentCode)).All(x => x),
                "the sampled code is not the mean");
        }
    }

    /// <summary>
    /// GetRowCursorSet (asked for four cursors), each cursor read on its own thread: every row comes exactly once, with
    /// the values one cursor gives (rows matched by their row id).
    /// </summary>
    [TestMethod]
    public void RowCursorSetReadOnSeveralThreadsServesEachRowOnceWithOneCursorsValues()
    {
        foreach (var (model, columns) in new[] { (Dense(), DenseColumns), (Variational(), VariationalColumns) })
        {
            var view = model.Transform(Ml.ToDataView(Rows));
            var expected = EstimatorConformance.ReadOutputs(view, columns);
            var set = view.GetRowCursorSet(columns.Select(c => view.Schema[c]), Threads);
            Assert.IsTrue(set.Length is >= 1 and <= Threads, $"{set.Length} cursors");
            var parts = OnThreads(t => t < set.Length ? ReadWithIds(set[t], columns) : []);
            foreach (var cursor in set) cursor.Dispose();
            var seen = new HashSet<long>();
            foreach (var (id, values) in parts.SelectMany(p => p))
            {
                Assert.IsTrue(seen.Add(id), $"row {id} served twice");
                for (int c = 0; c < columns.Length; c++)
                    AssertSameBits(expected[columns[c]][(int)id], values[c], $"cursor set: '{columns[c]}' of row {id}");
            }
            Assert.AreEqual(Rows.Length, seen.Count, "every row once");
        }
    }

    /// <summary>
    /// Forward passes while another thread collects garbage in a loop: for two seconds the models' one-row forward pass
    /// (dense with LeakyReLU; variational with its sampled code), then a cursor and a PredictionEngine pass over every
    /// row of each. None fails and every pass gives the first one's values. TorchSharp turns a number passed as a Scalar
    /// (<c>nn.LeakyReLU</c>'s slope, <c>x.mul(0.5)</c>, <c>square()</c>, the alpha of a one-argument <c>add</c>) into a
    /// Scalar per call that such a collection can free while libtorch reads it; the library holds its Scalars instead
    /// (Runtime.Scalars). The race is timing-dependent: with <c>nn.LeakyReLU(0.01)</c> back in <c>Activations.Create</c>
    /// this test failed in 4 of 6 runs (1-2 s each) on a busy 2-core box; <see cref="ScalarLifetimeTests"/> checks the
    /// call sites themselves, deterministically.
    /// </summary>
    [TestMethod]
    public void ForwardPassesAgreeWhileAnotherThreadCollectsGarbage()
    {
        var data = Ml.ToDataView(Rows);
        var models = new[] { (Model: Dense(), Columns: DenseColumns), (Model: Variational(), Columns: VariationalColumns) };
        const int BatchRows = 1;
        var batch = Synthetic.Flatten(Rows.Take(BatchRows).ToArray());
        var expectedRuns = models.Select(m => RunBatch(m.Model, batch, BatchRows)).ToArray();
        var expectedViews = models.Select(m => EstimatorConformance.ReadOutputs(m.Model.Transform(data), m.Columns)).ToArray();
        var expectedDense = Predict<DenseOutputs>(Dense(), Order(0));
        var expectedVariational = Predict<VariationalOutputs>(Variational(), Order(0));
        bool stop = false;
        long collections = 0, runs = 0;
        var collector = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                GC.Collect(0); // young garbage: the temporaries of a forward pass (and cheap, so thousands a second)
                GC.WaitForPendingFinalizers();
                collections++;
            }
        });
        collector.Start();
        try
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(2))
                for (int m = 0; m < models.Length; m++, runs++)
                {
                    var outputs = RunBatch(models[m].Model, batch, BatchRows);
                    for (int o = 0; o < outputs.Length; o++) AssertSameBits(expectedRuns[m][o], outputs[o], $"forward pass {runs}, model {m}, output {o}");
                }
            for (int m = 0; m < models.Length; m++)
                AssertSameBits(expectedViews[m], EstimatorConformance.ReadOutputs(models[m].Model.Transform(data), models[m].Columns), $"cursor, model {m}");
            var dense = Predict<DenseOutputs>(Dense(), Order(0));
            var vae = Predict<VariationalOutputs>(Variational(), Order(0));
            for (int i = 0; i < Rows.Length; i++)
            {
                AssertSameBits(expectedDense[i].Reconstruction, dense[i].Reconstruction, $"dense engine, row {i}");
                AssertSameBits(expectedVariational[i].SampledLatentCode, vae[i].SampledLatentCode, $"variational engine, row {i}");
                AssertSameBits(expectedVariational[i].Reconstruction, vae[i].Reconstruction, $"variational engine, row {i}");
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            collector.Join();
        }
        Assert.IsTrue(runs > 0 && collections > 0, $"{runs} forward passes, {collections} collections");
    }

    /// <summary>One forward pass over a batch through <c>AutoencoderModel.Run</c>: every output the model has.</summary>
    private static float[][] RunBatch(AutoencoderTransformer model, float[] batch, int rows)
    {
        int k = model.Model.LatentDimension, d = model.InputSize;
        bool gaussian = model.Model.IsVariational;
        var outputs = new[] { new float[rows * k], new float[rows * d], new float[rows], new float[gaussian ? rows * k : 0], new float[gaussian ? rows * k : 0] };
        model.Model.Run(batch, rows, new Models.AutoencoderModel.RunOutputs
        {
            Latent = outputs[0],
            Reconstruction = outputs[1],
            Error = outputs[2],
            LogVariance = outputs[3],
            Sampled = outputs[4],
        });
        return outputs;
    }

    /// <summary>Every row a cursor serves: its id (the source row's index here) and the values of <paramref name="columns"/>.</summary>
    private static List<(long Id, float[][] Values)> ReadWithIds(DataViewRowCursor cursor, string[] columns)
    {
        var id = cursor.GetIdGetter();
        var readers = columns.Select(name =>
        {
            var column = cursor.Schema[name];
            if (column.Type is VectorDataViewType)
            {
                var getter = cursor.GetGetter<VBuffer<float>>(column);
                VBuffer<float> value = default;
                return (Func<float[]>)(() => { getter(ref value); return value.DenseValues().ToArray(); });
            }
            var scalar = cursor.GetGetter<float>(column);
            return () => { float v = 0; scalar(ref v); return [v]; };
        }).ToArray();
        var result = new List<(long, float[][])>();
        DataViewRowId rowId = default;
        while (cursor.MoveNext())
        {
            id(ref rowId);
            result.Add(((long)rowId.Low, readers.Select(r => r()).ToArray()));
        }
        return result;
    }

    /// <summary>All rows, starting at row 150·t and wrapping around.</summary>
    private static int[] Order(int t) => Enumerable.Range(0, Rows.Length).Select(i => (i + 150 * t) % Rows.Length).ToArray();

    /// <summary>A fresh PredictionEngine over <paramref name="model"/>, fed <paramref name="order"/>'s rows one at a time.</summary>
    private static TOutput[] Predict<TOutput>(AutoencoderTransformer model, int[] order) where TOutput : class, new()
    {
        using var engine = Ml.Model.CreatePredictionEngine<VectorRow, TOutput>(model, inputSchemaDefinition: EstimatorConformance.SchemaFor(Rows[0].Length));
        return order.Select(row => engine.Predict(new VectorRow { Features = Rows[row] })).ToArray();
    }

    /// <summary>Runs <paramref name="work"/> on <see cref="Threads"/> threads released together; rethrows the first failure.</summary>
    private static T[] OnThreads<T>(Func<int, T> work)
    {
        var results = new T[Threads];
        var errors = new Exception?[Threads];
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            try
            {
                results[t] = work(t);
            }
            catch (Exception e)
            {
                errors[t] = e;
            }
        })).ToArray();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();
        if (errors.FirstOrDefault(e => e is not null) is { } error) ExceptionDispatchInfo.Throw(error);
        return results;
    }

    private static void AssertSameBits(Dictionary<string, List<float[]>> expected, Dictionary<string, List<float[]>> actual, string what)
    {
        foreach (var (name, rows) in expected)
        {
            Assert.AreEqual(rows.Count, actual[name].Count, $"{what}: row count of '{name}'");
            for (int i = 0; i < rows.Count; i++) AssertSameBits(rows[i], actual[name][i], $"{what}: '{name}' row {i}");
        }
    }

    private static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        Assert.AreEqual(expected.Length, actual.Length, $"{what}: length");
        for (int j = 0; j < expected.Length; j++)
            if (BitConverter.SingleToInt32Bits(expected[j]) != BitConverter.SingleToInt32Bits(actual[j]))
                Assert.Fail($"{what}, index {j}: expected {expected[j]:R}, got {actual[j]:R}");
    }

    /// <summary>What a PredictionEngine fills from the dense model.</summary>
    public sealed class DenseOutputs
    {
        /// <summary>The code.</summary>
        public float[] LatentCode { get; set; } = [];

        /// <summary>The reconstruction.</summary>
        public float[] Reconstruction { get; set; } = [];

        /// <summary>The reconstruction error.</summary>
        public float ReconstructionError { get; set; }
    }

    /// <summary>What a PredictionEngine fills from the variational model: every column.</summary>
    public sealed class VariationalOutputs
    {
        /// <summary>The posterior mean.</summary>
        public float[] LatentCode { get; set; } = [];

        /// <summary>The posterior log-variance.</summary>
        public float[] LatentLogVariance { get; set; } = [];

        /// <summary>μ + σ·ε, ε keyed on the seed and the row's position.</summary>
        public float[] SampledLatentCode { get; set; } = [];

        /// <summary>The reconstruction (of the mean).</summary>
        public float[] Reconstruction { get; set; } = [];

        /// <summary>The reconstruction error.</summary>
        public float ReconstructionError { get; set; }
    }
}

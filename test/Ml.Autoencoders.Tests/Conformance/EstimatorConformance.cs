using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Ml.Autoencoders.Tests.Conformance;

/// <summary>
/// What every estimator of this library is checked against (like ML.NET's TestEstimatorCore and
/// scikit-learn's check_estimator). A test class describes its estimator with a <see cref="ConformanceCase"/>
/// and calls <see cref="EstimatorConformance.RunAll"/> or the single checks.
/// </summary>
internal sealed class ConformanceCase
{
    public required string Name { get; init; }
    public required Func<IEstimator<ITransformer>> CreateEstimator { get; init; }
    public required IDataView TrainData { get; init; }
    /// <summary>Rows to score; also used in reverse order and one at a time.</summary>
    public required VectorRow[] ScoreRows { get; init; }
    public required int FeatureSize { get; init; }
    /// <summary>Float or float-vector columns the estimator appends.</summary>
    public required string[] OutputColumns { get; init; }
    public required string InputColumnName { get; init; }
    /// <summary>Changes how many rows a transformer computes per batch (null: not batched).</summary>
    public Action<ITransformer, int>? SetBatchSize { get; init; }
    /// <summary>
    /// Class a PredictionEngine fills: its public float or float[] properties named like output columns are
    /// compared with Transform's values (default: <see cref="PredictionRow"/>, the autoencoder's columns).
    /// </summary>
    public Type PredictionType { get; init; } = typeof(PredictionRow);
    /// <summary>The library's own save/load round trip.</summary>
    public required Func<ITransformer, ITransformer> OwnSaveLoad { get; init; }

    /// <summary>Training data with no rows (default: scoring rows, none); a trainer that needs a key label gets one with it.</summary>
    public IDataView? EmptyTrainData { get; init; }

    /// <summary>False for estimators that need several rows by definition (k-NN needs k, t-SNE more rows than its perplexity).</summary>
    public bool FitsOnOneRow { get; init; } = true;
}

internal static class EstimatorConformance
{
    public static void RunAll(MLContext ml, ConformanceCase c)
    {
        var model = c.CreateEstimator().Fit(c.TrainData);
        try
        {
            SchemaAgrees(ml, c, model);
            FitTwiceGivesSameOutputs(ml, c, model);
            BatchSizeAndRowOrderDoNotMatter(ml, c, model);
            OneRowWorks(ml, c, model);
            BadInputIsRejected(ml, c, model);
            OwnSaveLoadRoundTrips(ml, c, model);
            PreviewShowsOutputs(ml, c, model);
            PredictionEngineAgrees(ml, c, model);
            MlNetSaveLoadRoundTrips(ml, c, model);
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    public static IDataView Score(MLContext ml, ConformanceCase c, VectorRow[] rows) =>
        ml.Data.LoadFromEnumerable(rows, SchemaFor(c.FeatureSize));

    public static SchemaDefinition SchemaFor(int size)
    {
        var schema = SchemaDefinition.Create(typeof(VectorRow));
        schema[nameof(VectorRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, size);
        return schema;
    }

    /// <summary>All output columns of all rows, as float arrays (a scalar becomes a one-element array).</summary>
    public static Dictionary<string, List<float[]>> ReadOutputs(IDataView view, IEnumerable<string> columns)
    {
        var result = columns.ToDictionary(n => n, _ => new List<float[]>());
        var cols = result.Keys.Select(n => view.Schema[n]).ToArray();
        using var cursor = view.GetRowCursor(cols);
        var readers = cols.Select(col => col.Type is VectorDataViewType
            ? ReadVector(cursor, col)
            : ReadScalar(cursor, col)).ToArray();
        while (cursor.MoveNext())
            for (int i = 0; i < cols.Length; i++) result[cols[i].Name].Add(readers[i]());
        return result;
    }

    private static Func<float[]> ReadVector(DataViewRowCursor cursor, DataViewSchema.Column col)
    {
        if (col.Type is VectorDataViewType { ItemType: KeyDataViewType })
        {
            // A reconstructed token sequence: its keys, as floats.
            var keys = cursor.GetGetter<VBuffer<uint>>(col);
            VBuffer<uint> keyValue = default;
            return () => { keys(ref keyValue); return keyValue.DenseValues().Select(k => (float)k).ToArray(); };
        }
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        VBuffer<float> value = default;
        return () => { getter(ref value); return value.DenseValues().ToArray(); };
    }

    private static Func<float[]> ReadScalar(DataViewRowCursor cursor, DataViewSchema.Column col)
    {
        var getter = cursor.GetGetter<float>(col);
        float value = 0;
        return () => { getter(ref value); return new[] { value }; };
    }

    public static void AssertSameOutputs(Dictionary<string, List<float[]>> expected, Dictionary<string, List<float[]>> actual, string what, float tolerance = 0)
    {
        foreach (var (name, rows) in expected)
        {
            Assert.AreEqual(rows.Count, actual[name].Count, $"{what}: row count of '{name}'");
            for (int i = 0; i < rows.Count; i++)
                for (int j = 0; j < rows[i].Length; j++)
                    Assert.AreEqual(rows[i][j], actual[name][i][j], tolerance, $"{what}: '{name}' row {i} index {j}");
        }
    }

    public static SchemaShape ShapeOf(DataViewSchema schema) =>
        (SchemaShape)typeof(SchemaShape).GetMethod("Create", BindingFlags.NonPublic | BindingFlags.Static, new[] { typeof(DataViewSchema) })!
            .Invoke(null, new object[] { schema })!;

    public static void SchemaAgrees(MLContext ml, ConformanceCase c, ITransformer model)
    {
        var predicted = c.CreateEstimator().GetOutputSchema(ShapeOf(c.TrainData.Schema));
        var produced = model.Transform(c.TrainData).Schema;
        var declared = model.GetOutputSchema(c.TrainData.Schema);
        foreach (var name in c.OutputColumns)
        {
            var shape = predicted.Single(col => col.Name == name);
            var column = produced[name];
            Assert.AreEqual(declared[name].Type, column.Type, $"{c.Name}: GetOutputSchema and Transform disagree on '{name}'");
            Assert.AreEqual(column.Type is VectorDataViewType vt ? vt.ItemType : column.Type, shape.ItemType, $"{c.Name}: item type of '{name}'");
            Assert.AreEqual(column.Type is VectorDataViewType, shape.Kind == SchemaShape.Column.VectorKind.Vector, $"{c.Name}: vector kind of '{name}'");
            if (column.Type is VectorDataViewType v) Assert.IsTrue(v.IsKnownSize && v.Size > 0, $"{c.Name}: '{name}' must have a known size");
        }
        foreach (var input in c.TrainData.Schema)
            Assert.AreEqual(input.Type, produced[input.Index].Type, $"{c.Name}: input column '{input.Name}' must pass through unchanged");
    }

    public static void FitTwiceGivesSameOutputs(MLContext ml, ConformanceCase c, ITransformer model)
    {
        var again = c.CreateEstimator().Fit(c.TrainData);
        try
        {
            var data = Score(ml, c, c.ScoreRows);
            AssertSameOutputs(ReadOutputs(model.Transform(data), c.OutputColumns), ReadOutputs(again.Transform(data), c.OutputColumns), $"{c.Name}: fit twice with the same seed");
        }
        finally { (again as IDisposable)?.Dispose(); }
    }

    public static void BatchSizeAndRowOrderDoNotMatter(MLContext ml, ConformanceCase c, ITransformer model)
    {
        var expected = ReadOutputs(model.Transform(Score(ml, c, c.ScoreRows)), c.OutputColumns);
        foreach (int batch in c.SetBatchSize is null ? new[] { 0 } : new[] { 1, 3, 64, 4096 })
        {
            c.SetBatchSize?.Invoke(model, batch);
            var reversed = ReadOutputs(model.Transform(Score(ml, c, c.ScoreRows.Reverse().ToArray())), c.OutputColumns);
            foreach (var list in reversed.Values) list.Reverse();
            AssertSameOutputs(expected, reversed, $"{c.Name}: batch size {batch}, reversed rows", 1e-5f);
        }
        c.SetBatchSize?.Invoke(model, 1024);
    }

    public static void OneRowWorks(MLContext ml, ConformanceCase c, ITransformer model)
    {
        var all = ReadOutputs(model.Transform(Score(ml, c, c.ScoreRows)), c.OutputColumns);
        int last = c.ScoreRows.Length - 1;
        var one = ReadOutputs(model.Transform(Score(ml, c, new[] { c.ScoreRows[last] })), c.OutputColumns);
        foreach (var name in c.OutputColumns)
        {
            Assert.AreEqual(1, one[name].Count, $"{c.Name}: one row in, one row out");
            CollectionAssert.AreEqual(all[name][last], one[name][0], new ToleranceComparer(1e-5f), $"{c.Name}: '{name}' of a lone row");
        }
        // Fitting on a single row must work too (a degenerate but legal data set), where the method allows it.
        if (!c.FitsOnOneRow) return;
        var single = c.CreateEstimator().Fit(Score(ml, c, new[] { c.ScoreRows[0] }));
        (single as IDisposable)?.Dispose();
    }

    public static void BadInputIsRejected(MLContext ml, ConformanceCase c, ITransformer model)
    {
        // Missing column.
        var renamed = ml.Transforms.CopyColumns("Other", c.InputColumnName).Append(ml.Transforms.DropColumns(c.InputColumnName)).Fit(c.TrainData).Transform(c.TrainData);
        var e1 = Assert.ThrowsExactly<Data.AutoencoderSchemaException>(() => model.Transform(renamed));
        StringAssert.Contains(e1.Message, c.InputColumnName);
        Assert.ThrowsExactly<Data.AutoencoderSchemaException>(() => c.CreateEstimator().Fit(renamed));
        // Wrong vector size.
        var wrongSize = ml.Data.LoadFromEnumerable(new[] { new VectorRow { Features = new float[c.FeatureSize + 1] } }, SchemaFor(c.FeatureSize + 1));
        var e2 = Assert.ThrowsExactly<Data.AutoencoderSchemaException>(() => model.Transform(wrongSize));
        StringAssert.Contains(e2.Message, c.FeatureSize.ToString());
        // NaN in a row: the error names the row.
        var rows = c.ScoreRows.Select(r => new VectorRow { Features = (float[])r.Features.Clone() }).ToArray();
        rows[^1].Features[0] = float.NaN;
        var e3 = Assert.ThrowsExactly<Data.AutoencoderDataException>(() => ReadOutputs(model.Transform(Score(ml, c, rows)), c.OutputColumns));
        Assert.AreEqual(rows.Length - 1, e3.Row);
        StringAssert.Contains(e3.Message, $"Row {rows.Length - 1}");
        // Empty data.
        var e4 = Assert.ThrowsExactly<Data.AutoencoderDataException>(() => c.CreateEstimator().Fit(c.EmptyTrainData ?? Score(ml, c, Array.Empty<VectorRow>())));
        StringAssert.Contains(e4.Message, "no rows");
    }

    public static void OwnSaveLoadRoundTrips(MLContext ml, ConformanceCase c, ITransformer model)
    {
        var loaded = c.OwnSaveLoad(model);
        try
        {
            var data = Score(ml, c, c.ScoreRows);
            AssertSameOutputs(ReadOutputs(model.Transform(data), c.OutputColumns), ReadOutputs(loaded.Transform(data), c.OutputColumns), $"{c.Name}: own save/load");
        }
        finally { (loaded as IDisposable)?.Dispose(); }
    }

    public static void MlNetSaveLoadRoundTrips(MLContext ml, ConformanceCase c, ITransformer model)
    {
        var path = Path.Combine(Path.GetTempPath(), $"mlae-conformance-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, c.TrainData.Schema, path);
            var loaded = ml.Model.Load(path, out _);
            var data = Score(ml, c, c.ScoreRows);
            AssertSameOutputs(ReadOutputs(model.Transform(data), c.OutputColumns), ReadOutputs(loaded.Transform(data), c.OutputColumns), $"{c.Name}: mlContext.Model save/load");
        }
        finally { File.Delete(path); }
    }

    public static void PreviewShowsOutputs(MLContext ml, ConformanceCase c, ITransformer model)
    {
        var preview = model.Transform(Score(ml, c, c.ScoreRows)).Preview(maxRows: 5);
        Assert.AreEqual(Math.Min(5, c.ScoreRows.Length), preview.RowView.Length, $"{c.Name}: Preview rows");
        foreach (var name in c.OutputColumns)
            Assert.IsTrue(preview.ColumnView.Any(col => col.Column.Name == name && col.Values.All(v => v is not null)), $"{c.Name}: Preview shows '{name}'");
    }

    public static void PredictionEngineAgrees(MLContext ml, ConformanceCase c, ITransformer model)
    {
        var expected = ReadOutputs(model.Transform(Score(ml, c, c.ScoreRows)), c.OutputColumns);
        var create = typeof(ModelOperationsCatalog).GetMethods()
            .Single(m => m.Name == nameof(ModelOperationsCatalog.CreatePredictionEngine) && m.GetParameters().Length == 4 && m.GetParameters()[2].ParameterType == typeof(SchemaDefinition))
            .MakeGenericMethod(typeof(VectorRow), c.PredictionType);
        dynamic engine = create.Invoke(ml.Model, new object?[] { model, true, SchemaFor(c.FeatureSize), null })!;
        var properties = c.PredictionType.GetProperties().Where(p => c.OutputColumns.Contains(p.Name)).ToArray();
        Assert.IsTrue(properties.Length > 0, $"{c.Name}: {c.PredictionType.Name} must map at least one output column");
        for (int i = 0; i < c.ScoreRows.Length; i++)
        {
            object predicted = engine.Predict(c.ScoreRows[i]);
            foreach (var property in properties)
            {
                var value = property.GetValue(predicted) switch { float[] v => v, float f => new[] { f }, var other => throw new InvalidOperationException($"Unexpected {other}") };
                CollectionAssert.AreEqual(expected[property.Name][i], value, new ToleranceComparer(1e-5f), $"{c.Name}: PredictionEngine '{property.Name}' of row {i}");
            }
        }
    }

    internal sealed class ToleranceComparer(float tolerance) : System.Collections.IComparer
    {
        public int Compare(object? x, object? y) => Math.Abs((float)x! - (float)y!) <= tolerance ? 0 : 1;
    }
}

/// <summary>What a prediction engine fills: the autoencoder's default output columns.</summary>
public sealed class PredictionRow
{
    /// <summary>The latent code.</summary>
    public float[] LatentCode { get; set; } = Array.Empty<float>();

    /// <summary>The reconstruction error.</summary>
    public float ReconstructionError { get; set; }
}

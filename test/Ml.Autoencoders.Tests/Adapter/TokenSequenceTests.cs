using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Data;
using Ml.Autoencoders.Tests.Conformance;
using Ml.Autoencoders.Networks.Recurrent;
using Ml.Autoencoders.Networks.Tokens;
using Ml.Autoencoders.Transforms;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The token-sequence body through ML.NET: key columns of any length from ML.NET's text transforms in, code,
/// reconstructed keys (with the input's key values) and mean token cross-entropy out; learning, the ML.NET workout
/// (schema, batch size and row order, one row, PredictionEngine, both save/load routes, concurrency) and named errors.
/// </summary>
[TestClass]
public sealed class TokenSequenceTests
{
    private static readonly string[] Words = TokenWords.Words(48, 6, seed: 3);

    private static AutoencoderOptions Options(int epochs = 60, RecurrentCell cell = RecurrentCell.Gru) => new()
    {
        InputColumnName = "Tokens",
        Body = new TokenSequenceOptions { MaxLength = 6, EmbeddingSize = 8, HiddenSize = 32, Cell = cell },
        HiddenLayerSizes = [], LatentDimension = 16, Epochs = epochs, BatchSize = 16, LearningRate = 0.01, Seed = 5,
        ValidationFraction = 0, EarlyStoppingPatience = 0,
    };

    private static readonly Lazy<(MLContext Ml, ITransformer Text, ITransformer Model, IDataView Tokens)> Trained = new(() =>
    {
        var ml = new MLContext(seed: 1);
        var text = TokenWords.Characters(ml).Fit(TokenWords.View(ml, Words));
        var tokens = text.Transform(TokenWords.View(ml, Words));
        var model = ml.Transforms.Autoencoder(Options()).Fit(tokens);
        return (ml, text, model, tokens);
    });

    private static readonly string[] Columns = [AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.ReconstructionError];

    /// <summary>Trained on 48 words of 2-6 letters, it gives most of them back exactly, as text through MapKeyToValue.</summary>
    [TestMethod]
    public void ReconstructsTheWordsItWasTrainedOnAsText()
    {
        var (ml, _, model, tokens) = Trained.Value;
        var output = ml.Transforms.Conversion.MapKeyToValue("Text2", AutoencoderColumnNames.Reconstruction).Fit(model.Transform(tokens)).Transform(model.Transform(tokens));
        var back = TokenWords.Text(output, "Text2");
        int exact = back.Zip(Words).Count(p => p.First == p.Second);
        Console.WriteLine($"exact {exact}/{Words.Length}: {string.Join(", ", back.Zip(Words).Take(8).Select(p => $"{p.Second}->{p.First}"))}");
        Assert.IsGreaterThanOrEqualTo(Words.Length * 3 / 4, exact, $"exact reconstructions: {exact} of {Words.Length}");
    }

    private static IDataView TokenView(MLContext ml, ITransformer text, IEnumerable<string> words) => text.Transform(TokenWords.View(ml, words));

    /// <summary>
    /// The reconstruction is a variable-length key column of the input's key type with its KeyValues; GetOutputSchema
    /// (before training) and Transform agree; the code is a known-size float vector and the error a float.
    /// </summary>
    [TestMethod]
    public void ReconstructionIsAKeyColumnOfTheInputsKeyTypeWithItsKeyValues()
    {
        var (ml, _, model, tokens) = Trained.Value;
        var schema = model.Transform(tokens).Schema;
        var input = (VectorDataViewType)tokens.Schema["Tokens"].Type;
        var reconstruction = (VectorDataViewType)schema[AutoencoderColumnNames.Reconstruction].Type;
        Assert.AreEqual(input.ItemType, reconstruction.ItemType, "same key type");
        Assert.IsFalse(reconstruction.IsKnownSize, "any length");
        Assert.IsNotNull(schema[AutoencoderColumnNames.Reconstruction].Annotations.Schema.GetColumnOrNull("KeyValues"), "KeyValues carried over");
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 16), schema[AutoencoderColumnNames.LatentCode].Type);
        Assert.AreEqual(NumberDataViewType.Single, schema[AutoencoderColumnNames.ReconstructionError].Type);
        var shape = ml.Transforms.Autoencoder(Options()).GetOutputSchema(EstimatorConformance.ShapeOf(tokens.Schema));
        var column = shape.Single(c => c.Name == AutoencoderColumnNames.Reconstruction);
        Assert.IsTrue(column.IsKey);
        Assert.AreEqual(SchemaShape.Column.VectorKind.VariableVector, column.Kind);
        Assert.AreEqual(model.GetOutputSchema(tokens.Schema)[AutoencoderColumnNames.Reconstruction].Type, schema[AutoencoderColumnNames.Reconstruction].Type);
    }

    /// <summary>
    /// Every output of a row is the same whatever the batch size and row order, for a lone row, through a
    /// PredictionEngine, after the library's own save/load and after mlContext.Model save/load.
    /// </summary>
    [TestMethod]
    public void OutputsDoNotDependOnBatchOrderOrRouteAndSurviveBothSaveLoadRoutes()
    {
        var (ml, text, model, tokens) = Trained.Value;
        var transformer = (AutoencoderTransformer)model;
        var expected = EstimatorConformance.ReadOutputs(model.Transform(tokens), Columns);
        foreach (int batch in new[] { 1, 3, 64 })
        {
            transformer.TransformBatchSize = batch;
            var reversed = EstimatorConformance.ReadOutputs(model.Transform(TokenView(ml, text, Words.Reverse())), Columns);
            foreach (var list in reversed.Values) list.Reverse();
            EstimatorConformance.AssertSameOutputs(expected, reversed, $"batch size {batch}, reversed rows", 1e-5f);
        }
        transformer.TransformBatchSize = 1024;
        var one = EstimatorConformance.ReadOutputs(model.Transform(TokenView(ml, text, Words.Skip(7).Take(1))), Columns);
        foreach (var name in Columns) CollectionAssert.AreEqual(expected[name][7], one[name][0], new EstimatorConformance.ToleranceComparer(1e-5f), name);

        var engine = ml.Model.CreatePredictionEngine<TokenRow, TokenPrediction>(model);
        var keys = TokenWords.Keys(tokens, "Tokens");
        for (int i = 0; i < Words.Length; i++)
        {
            var predicted = engine.Predict(new TokenRow { Tokens = keys[i] });
            CollectionAssert.AreEqual(expected[AutoencoderColumnNames.LatentCode][i], predicted.LatentCode, new EstimatorConformance.ToleranceComparer(1e-5f), $"code of row {i}");
            CollectionAssert.AreEqual(expected[AutoencoderColumnNames.Reconstruction][i], predicted.Reconstruction.Select(k => (float)k).ToArray(), $"keys of row {i}");
            Assert.AreEqual(expected[AutoencoderColumnNames.ReconstructionError][i][0], predicted.ReconstructionError, 1e-5f, $"error of row {i}");
        }

        using var stream = new MemoryStream();
        transformer.Save(stream);
        stream.Position = 0;
        var loaded = AutoencoderTransformer.Load(stream);
        EstimatorConformance.AssertSameOutputs(expected, EstimatorConformance.ReadOutputs(loaded.Transform(tokens), Columns), "own save/load");
        Assert.AreEqual(5, ((TokenSequenceOptions)loaded.Options.Body!).VocabularySize, "the vocabulary is recorded");

        var path = Path.Combine(Path.GetTempPath(), $"mlae-tokens-{Guid.NewGuid():N}.zip");
        try
        {
            var chain = text.Append(model);
            ml.Model.Save(chain, TokenWords.View(ml, Words).Schema, path);
            var back = ml.Model.Load(path, out _);
            var fromText = back.Transform(TokenWords.View(ml, Words));
            EstimatorConformance.AssertSameOutputs(expected, EstimatorConformance.ReadOutputs(fromText, Columns), "mlContext.Model save/load of text -> keys -> autoencoder");
            Assert.IsNotNull(fromText.Schema[AutoencoderColumnNames.Reconstruction].Annotations.Schema.GetColumnOrNull("KeyValues"));
        }
        finally { File.Delete(path); }
    }

    /// <summary>Two cursors read at once over one transformer give what one cursor gives.</summary>
    [TestMethod]
    public void ConcurrentCursorsAgree()
    {
        var (_, _, model, tokens) = Trained.Value;
        var expected = EstimatorConformance.ReadOutputs(model.Transform(tokens), Columns);
        var results = new Dictionary<string, List<float[]>>[4];
        Parallel.For(0, results.Length, i => results[i] = EstimatorConformance.ReadOutputs(model.Transform(tokens), Columns));
        foreach (var r in results) EstimatorConformance.AssertSameOutputs(expected, r, "concurrent cursor");
    }

    /// <summary>
    /// Bad input gets named errors: an empty sequence, a key outside the vocabulary (missing), a row longer than
    /// MaxLength (each naming the row), a float column given to a token body, a key type of another size at Transform,
    /// and options a token body refuses.
    /// </summary>
    [TestMethod]
    public void BadInputGetsNamedErrors()
    {
        var (ml, text, model, tokens) = Trained.Value;
        var empty = Assert.ThrowsExactly<AutoencoderDataException>(() => EstimatorConformance.ReadOutputs(model.Transform(TokenView(ml, text, ["ab", "", "cd"])), Columns));
        Assert.AreEqual(1, empty.Row);
        StringAssert.Contains(empty.Message, "empty token sequence");
        var tooLong = Assert.ThrowsExactly<AutoencoderDataException>(() => EstimatorConformance.ReadOutputs(model.Transform(TokenView(ml, text, ["ab", "cd", "abcdeab"])), Columns));
        Assert.AreEqual(2, tooLong.Row);
        StringAssert.Contains(tooLong.Message, "MaxLength");
        var unseen = Assert.ThrowsExactly<AutoencoderDataException>(() => EstimatorConformance.ReadOutputs(model.Transform(TokenView(ml, text, ["ab", "azb"])), Columns));
        Assert.AreEqual(1, unseen.Row);
        StringAssert.Contains(unseen.Message, "outside the vocabulary");
        Assert.ThrowsExactly<AutoencoderDataException>(() => ml.Transforms.Autoencoder(Options(1)).Fit(TokenView(ml, text, ["ab", "", "cd"])));

        var floats = ml.Data.LoadFromEnumerable(new[] { new VectorRow { Features = new float[6] } }, EstimatorConformance.SchemaFor(6));
        var wrongType = Assert.ThrowsExactly<AutoencoderSchemaException>(() => ml.Transforms.Autoencoder(new AutoencoderOptions { Body = new TokenSequenceOptions { MaxLength = 6 } }).Fit(floats));
        StringAssert.Contains(wrongType.Message, "vector of keys");
        var otherText = TokenWords.Characters(ml).Fit(TokenWords.View(ml, ["abcdefg"]));
        var otherKeys = Assert.ThrowsExactly<AutoencoderSchemaException>(() => model.Transform(otherText.Transform(TokenWords.View(ml, ["abc"]))));
        StringAssert.Contains(otherKeys.Message, "trained on 5");

        Assert.ThrowsExactly<ArgumentException>(() => new AutoencoderOptions { Body = new TokenSequenceOptions { MaxLength = 4 }, Corruption = new Corruption.MaskingNoise() }.Validate());
        Assert.ThrowsExactly<ArgumentException>(() => new AutoencoderOptions { Body = new TokenSequenceOptions { MaxLength = 4 }, PretrainEpochs = 2 }.Validate());
        var noLength = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new AutoencoderOptions { Body = new TokenSequenceOptions() }.Validate());
        Assert.AreEqual(nameof(TokenSequenceOptions.MaxLength), noLength.ParamName);
        var vocabulary = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.Autoencoder(new AutoencoderOptions
        {
            InputColumnName = "Tokens", Body = new TokenSequenceOptions { MaxLength = 6, VocabularySize = 9 }, Epochs = 1,
        }).Fit(tokens));
        StringAssert.Contains(vocabulary.Message, "VocabularySize is 9");
    }

    /// <summary>Words split by spaces and mapped to keys (TokenizeIntoWords + MapValueToKey) train an LSTM body and come back as words.</summary>
    [TestMethod]
    public void WordTokensTrainAnLstmBodyAndComeBackAsWords()
    {
        var ml = new MLContext(seed: 1);
        var sentences = TokenWords.Words(40, 4, seed: 9, alphabet: "xyzw").Select(w => string.Join(" ", w.Select(c => c switch { 'x' => "red", 'y' => "green", 'z' => "blue", _ => "grey" }))).ToArray();
        var text = ml.Transforms.Text.TokenizeIntoWords("WordText", "Text").Append(ml.Transforms.Conversion.MapValueToKey("Tokens", "WordText"))
            .Fit(TokenWords.View(ml, sentences));
        var tokens = text.Transform(TokenWords.View(ml, sentences));
        var options = Options(80, RecurrentCell.Lstm);
        var model = ml.Transforms.Autoencoder(options).Fit(tokens);
        var scored = model.Transform(tokens);
        var back = ml.Transforms.Conversion.MapKeyToValue("Back", AutoencoderColumnNames.Reconstruction).Fit(scored).Transform(scored);
        var got = TokenWords.Text(back, "Back");
        var want = sentences.Select(s => s.Replace(" ", "")).ToList();
        int exact = got.Zip(want).Count(p => p.First == p.Second);
        Assert.IsGreaterThanOrEqualTo(sentences.Length / 2, exact, $"exact: {exact} of {sentences.Length}; e.g. {want[0]} -> {got[0]}");
        Assert.IsTrue(model.Model.Architecture.Contains("LSTM"), model.Model.Architecture);
    }
}

/// <summary>What a prediction engine fills for a token-sequence autoencoder.</summary>
public sealed class TokenPrediction
{
    /// <summary>The code.</summary>
    public float[] LatentCode { get; set; } = Array.Empty<float>();

    /// <summary>The reconstructed keys.</summary>
    [KeyType(5)]
    public uint[] Reconstruction { get; set; } = Array.Empty<uint>();

    /// <summary>Mean token cross-entropy.</summary>
    public float ReconstructionError { get; set; }
}

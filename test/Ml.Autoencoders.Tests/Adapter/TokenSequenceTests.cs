using Microsoft.ML;
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
}

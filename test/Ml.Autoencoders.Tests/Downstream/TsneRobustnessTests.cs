using Microsoft.ML;
using Ml.Autoencoders.Embedding;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// t-SNE never hands back (or saves) what it cannot use: non-finite options are refused before any work, naming the
/// option, and an optimisation that blows up throws <see cref="TsneDivergedException"/> naming the iteration instead
/// of returning a NaN embedding, on the exact, Barnes-Hut and FFT paths.
/// </summary>
[TestClass]
public sealed class TsneRobustnessTests
{
    /// <summary>Each floating-point option at NaN or ±infinity is refused by the estimator, with its name and value.</summary>
    [TestMethod]
    [DataRow(nameof(TsneOptions.EarlyExaggeration), double.PositiveInfinity)]
    [DataRow(nameof(TsneOptions.EarlyExaggeration), double.NaN)]
    [DataRow(nameof(TsneOptions.Perplexity), double.PositiveInfinity)]
    [DataRow(nameof(TsneOptions.LearningRate), double.PositiveInfinity)]
    [DataRow(nameof(TsneOptions.LearningRate), double.NaN)]
    [DataRow(nameof(TsneOptions.Theta), double.PositiveInfinity)]
    [DataRow(nameof(TsneOptions.TransformPerplexity), double.PositiveInfinity)]
    [DataRow(nameof(TsneOptions.TransformPerplexity), double.NaN)]
    public void NonFiniteOptionsAreRefusedBeforeAnyWork(string option, double value)
    {
        var options = new TsneOptions();
        typeof(TsneOptions).GetProperty(option)!.SetValue(options, option == nameof(TsneOptions.LearningRate) ? (double?)value : value);
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new MLContext(seed: 1).Transforms.ProjectToTsne(options));
        Assert.AreEqual(option, e.ParamName);
        StringAssert.Contains(e.Message, value.ToString());
    }

    /// <summary>
    /// A learning rate far too large (1e300: the first step throws the coordinates past the point where their squares
    /// overflow, then NaN follows): exact gradients (90 rows), FFT interpolation, and Barnes-Hut chosen by Auto for 1,100
    /// rows, each throws <see cref="TsneDivergedException"/> with the iteration rather than returning NaN.
    /// </summary>
    [TestMethod]
    [DataRow(TsneGradientMethod.Exact, 90, 1e300)]
    [DataRow(TsneGradientMethod.FftInterpolation, 90, 1e300)]
    [DataRow(TsneGradientMethod.Auto, 1100, 1e300)]
    public void DivergenceThrowsNamingTheIteration(TsneGradientMethod method, int rows, double learningRate)
    {
        var (data, _) = TsneTests.Blobs(rows, 5, 3, seed: 7);
        var ml = new MLContext(seed: 1);
        var options = new TsneOptions { Method = method, Perplexity = 10, LearningRate = learningRate, Iterations = 60, EarlyExaggerationIterations = 20 };
        var e = Assert.ThrowsExactly<TsneDivergedException>(() => ml.Transforms.ProjectToTsne(options).Fit(ml.ToDataView(data)));
        Assert.IsTrue(e.Iteration is >= 1 and <= 60, $"iteration {e.Iteration}");
        StringAssert.Contains(e.Message, $"iteration {e.Iteration} of 60");
        Assert.AreEqual(learningRate, e.LearningRate);
        if (method == TsneGradientMethod.Auto) Assert.AreEqual(TsneGradientMethod.BarnesHut, options.Resolve(rows), "1,100 rows take Barnes-Hut");
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Anomaly;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The anomaly detector in the role ML.NET gives its own: <c>mlContext.AnomalyDetection.ChangeModelThreshold</c> returns a
/// detector with another threshold over the same trained model (no retraining; the original unchanged), and the detector
/// is an <see cref="ISingleFeaturePredictionTransformer{TModel}"/> of its <see cref="AutoencoderAnomalyModel"/>.
/// </summary>
[TestClass]
public sealed class AnomalyThresholdChangeTests
{
    private const int Rows = 200;

    private static (MLContext Ml, IDataView Data, AutoencoderAnomalyTransformer Detector) Fitted()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.ToDataView(Synthetic.LowRank(Rows, 10, 3, seed: 4));
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyOptions { Epochs = 2, EnsembleSize = 2, Contamination = 0.1 }).Fit(data);
        return (ml, data, detector);
    }

    private static (float[] Scores, bool[] Labels) Scored(ITransformer detector, IDataView data)
    {
        var scored = detector.Transform(data);
        return (scored.GetColumn<float>("Score").ToArray(), scored.GetColumn<bool>("PredictedLabel").ToArray());
    }

    /// <summary>
    /// Lowering the threshold to the median training score flags about half the rows instead of a tenth: PredictedLabel is
    /// Score above each transformer's own threshold, Score is the same, the model is the same object (nothing retrained),
    /// and the original detector keeps its threshold, even when the new one's is set again afterwards.
    /// </summary>
    [TestMethod]
    public void ChangeModelThresholdFlipsPredictionsWithoutRetraining()
    {
        var (ml, data, detector) = Fitted();
        float original = detector.Threshold;
        float median = detector.TrainingScores.Order().ElementAt(Rows / 2);
        var changed = ml.AnomalyDetection.ChangeModelThreshold(detector, median);

        Assert.AreNotSame(detector, changed);
        Assert.AreEqual(original, detector.Threshold, "the original keeps its threshold");
        Assert.AreEqual(median, changed.Threshold);
        Assert.AreSame(detector.Model, changed.Model, "the same trained model: no retraining, no copy");
        CollectionAssert.AreEqual(detector.Members.ToArray(), changed.Members.ToArray());

        var (scores, labels) = Scored(detector, data);
        var (changedScores, changedLabels) = Scored(changed, data);
        CollectionAssert.AreEqual(scores, changedScores, "Score does not depend on the threshold");
        CollectionAssert.AreEqual(scores.Select(s => s > original).ToArray(), labels);
        CollectionAssert.AreEqual(scores.Select(s => s > median).ToArray(), changedLabels);
        Assert.AreEqual(Rows / 10, labels.Count(l => l), "contamination 0.1 flags a tenth of the training rows");
        int flipped = labels.Zip(changedLabels).Count(p => !p.First && p.Second);
        Assert.IsGreaterThan(Rows / 4, flipped, $"the lower threshold flags many more rows ({changedLabels.Count(l => l)} instead of {labels.Count(l => l)})");
        Assert.AreEqual(0, labels.Zip(changedLabels).Count(p => p.First && !p.Second), "a lower threshold unflags nothing");

        changed.Threshold = float.MaxValue;
        Assert.AreEqual(original, detector.Threshold, "setting the new detector's threshold leaves the original alone");
        CollectionAssert.AreEqual(labels, Scored(detector, data).Labels);
        detector.Release();
    }

    /// <summary>
    /// The two share the members' native memory: releasing either releases both (one lifetime), and each then throws
    /// <see cref="ObjectDisposedException"/>; a released detector cannot hand out another.
    /// </summary>
    [TestMethod]
    public void DetectorsSharingAModelAreReleasedTogether()
    {
        var (ml, data, detector) = Fitted();
        var changed = ml.AnomalyDetection.ChangeModelThreshold(detector, detector.Threshold / 2);
        changed.Release();
        Assert.IsTrue(changed.IsReleased);
        Assert.IsTrue(detector.IsReleased, "the original shares the released model");
        Assert.IsTrue(detector.Model.IsReleased);
        Assert.ThrowsExactly<ObjectDisposedException>(() => Scored(detector, data));
        Assert.ThrowsExactly<ObjectDisposedException>(() => detector.Score(new float[10], 1));
        Assert.ThrowsExactly<ObjectDisposedException>(() => ml.AnomalyDetection.ChangeModelThreshold(detector, 1f));
    }

    /// <summary>Saving the new detector writes its own threshold and the whole model; the file loads alone.</summary>
    [TestMethod]
    public void TheChangedDetectorSavesAndLoadsOnItsOwn()
    {
        var (ml, data, detector) = Fitted();
        float median = detector.TrainingScores.Order().ElementAt(Rows / 2);
        var changed = ml.AnomalyDetection.ChangeModelThreshold(detector, median);
        using var dir = new TempDirectory("threshold");
        changed.Save(dir.File("changed.bin"));
        var loaded = AutoencoderAnomalyTransformer.Load(dir.File("changed.bin"));
        Assert.AreEqual(median, loaded.Threshold);
        CollectionAssert.AreEqual(Scored(changed, data).Labels, Scored(loaded, data).Labels);
        var again = ml.AnomalyDetection.ChangeModelThreshold(loaded, detector.Threshold);
        CollectionAssert.AreEqual(Scored(detector, data).Labels, Scored(again, data).Labels);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.ChangeModelThreshold(loaded, float.NaN));
        detector.Release();
        loaded.Release();
    }

    /// <summary>
    /// The detector plays ML.NET's prediction-transformer role: an <see cref="ISingleFeaturePredictionTransformer{TModel}"/>
    /// whose feature column is the known-size float vector it reads and whose Model is what scores.
    /// </summary>
    [TestMethod]
    public void TheDetectorIsAnMlNetSingleFeaturePredictionTransformer()
    {
        var (_, data, detector) = Fitted();
        ISingleFeaturePredictionTransformer<AutoencoderAnomalyModel> role = detector;
        Assert.AreEqual("Features", role.FeatureColumnName);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 10), role.FeatureColumnType);
        Assert.AreEqual(data.Schema["Features"].Type, role.FeatureColumnType);
        Assert.AreSame(detector.Model, role.Model);
        IPredictionTransformer<object> any = detector; // covariant, as ML.NET's helpers take it
        Assert.AreSame(detector.Model, any.Model);
        var first = detector.Model.Score(Synthetic.Flatten(Synthetic.LowRank(Rows, 10, 3, seed: 4).Take(3).ToArray()), 3);
        for (int i = 0; i < 3; i++) Assert.AreEqual(detector.TrainingScores[i], first[i], 1e-5f * detector.TrainingScores[i], "the model scores a row as Fit scored it");
        detector.Release();
    }
}

namespace Ml.Autoencoders.SampleData;

/// <summary>Precision, recall and F1 of flagging the scores above a threshold.</summary>
public sealed record DetectionAtThreshold(double Threshold, double Precision, double Recall, double F1, int Flagged);

/// <summary>Ranking metrics of anomaly scores against labels (true = anomaly): AUROC and the best F1 over all thresholds.</summary>
public static class DetectionMetrics
{
    /// <summary>
    /// Area under the ROC curve: the probability that a random anomaly scores above a random normal point, ties counting
    /// one half (the Mann-Whitney statistic, computed from average ranks). NaN when one class is absent.
    /// </summary>
    public static double Auroc(IReadOnlyList<float> scores, IReadOnlyList<bool> labels)
    {
        Check(scores, labels);
        var order = Enumerable.Range(0, scores.Count).OrderBy(i => scores[i]).ToArray();
        double positiveRankSum = 0;
        long positives = 0;
        for (int i = 0; i < order.Length;)
        {
            int j = i;
            while (j + 1 < order.Length && scores[order[j + 1]] == scores[order[i]]) j++;
            double rank = (i + j) / 2.0 + 1; // average rank of the tie group, 1-based
            for (int k = i; k <= j; k++)
                if (labels[order[k]]) { positiveRankSum += rank; positives++; }
            i = j + 1;
        }
        long negatives = scores.Count - positives;
        if (positives == 0 || negatives == 0) return double.NaN;
        return (positiveRankSum - positives * (positives + 1) / 2.0) / ((double)positives * negatives);
    }

    /// <summary>The threshold (flag scores strictly above it) with the highest F1 over all thresholds, an oracle that reads the labels.</summary>
    public static DetectionAtThreshold BestF1(IReadOnlyList<float> scores, IReadOnlyList<bool> labels)
    {
        Check(scores, labels);
        var order = Enumerable.Range(0, scores.Count).OrderByDescending(i => scores[i]).ToArray();
        long positives = labels.Count(l => l);
        var best = new DetectionAtThreshold(double.PositiveInfinity, 0, 0, 0, 0);
        long truePositives = 0;
        for (int i = 0; i < order.Length;)
        {
            int j = i;
            while (j + 1 < order.Length && scores[order[j + 1]] == scores[order[i]]) j++;
            for (int k = i; k <= j; k++) if (labels[order[k]]) truePositives++;
            int flagged = j + 1;
            double precision = (double)truePositives / flagged, recall = positives == 0 ? 0 : (double)truePositives / positives;
            double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
            // Flagging this tie group and everything above it: the threshold is the next lower score (or below all).
            double threshold = j + 1 < order.Length ? scores[order[j + 1]] : double.NegativeInfinity;
            if (f1 > best.F1) best = new DetectionAtThreshold(threshold, precision, recall, f1, flagged);
            i = j + 1;
        }
        return best;
    }

    /// <summary>Precision, recall and F1 when the scores strictly above <paramref name="threshold"/> are flagged.</summary>
    public static DetectionAtThreshold At(IReadOnlyList<float> scores, IReadOnlyList<bool> labels, double threshold)
    {
        Check(scores, labels);
        int flagged = 0, truePositives = 0, positives = 0;
        for (int i = 0; i < scores.Count; i++)
        {
            bool flag = scores[i] > threshold;
            if (flag) flagged++;
            if (labels[i]) positives++;
            if (flag && labels[i]) truePositives++;
        }
        double precision = flagged == 0 ? 0 : (double)truePositives / flagged, recall = positives == 0 ? 0 : (double)truePositives / positives;
        return new DetectionAtThreshold(threshold, precision, recall, precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0, flagged);
    }

    /// <summary>The value below which <paramref name="fraction"/> of the finite values lie (nearest rank).</summary>
    public static double Quantile(IEnumerable<float> values, double fraction)
    {
        var sorted = values.Where(float.IsFinite).Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        return sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    private static void Check(IReadOnlyList<float> scores, IReadOnlyList<bool> labels)
    {
        if (scores.Count != labels.Count) throw new ArgumentException($"{scores.Count} scores but {labels.Count} labels.", nameof(labels));
        for (int i = 0; i < scores.Count; i++)
            if (!float.IsFinite(scores[i])) throw new ArgumentException($"Score {i} is {scores[i]}; leave out the points without a score first.", nameof(scores));
    }
}

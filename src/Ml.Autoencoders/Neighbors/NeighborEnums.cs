namespace Ml.Autoencoders.Neighbors;

/// <summary>How the k-nearest-neighbours trainer measures distance.</summary>
public enum NeighborMetric
{
    /// <summary>Euclidean distance ‖q − t‖₂.</summary>
    Euclidean,

    /// <summary>Cosine distance 1 − cos(q, t); an all-zero row has distance 1 to every row.</summary>
    Cosine,
}

/// <summary>How the k nearest neighbours vote.</summary>
public enum NeighborWeighting
{
    /// <summary>Each neighbour has one vote (scikit-learn's <c>weights='uniform'</c>).</summary>
    Uniform,

    /// <summary>
    /// Each neighbour votes with weight 1 / distance (scikit-learn's <c>weights='distance'</c>); when some neighbours
    /// are at distance exactly 0, only they vote, one vote each.
    /// </summary>
    Distance,
}

namespace Ml.Autoencoders.Pipeline;

/// <summary>
/// The annotation names and values ML.NET's own trainers write and its evaluators read (its <c>AnnotationUtils</c> is
/// internal): kept here once so that every stage annotates its columns alike.
/// </summary>
internal static class AnnotationKinds
{
    /// <summary>Names of a vector's slots (the classes of a score column).</summary>
    public const string SlotNames = "SlotNames";

    /// <summary>The text value behind each key of a key column.</summary>
    public const string KeyValues = "KeyValues";

    /// <summary>What a score column scores; see <see cref="MulticlassClassification"/>.</summary>
    public const string ScoreColumnKind = "ScoreColumnKind";

    /// <summary>What a score column's values are; see <see cref="Score"/>.</summary>
    public const string ScoreValueKind = "ScoreValueKind";

    /// <summary>The <see cref="ScoreColumnKind"/> of a multiclass classifier.</summary>
    public const string MulticlassClassification = "MulticlassClassification";

    /// <summary>The <see cref="ScoreValueKind"/> of a score column.</summary>
    public const string Score = "Score";
}

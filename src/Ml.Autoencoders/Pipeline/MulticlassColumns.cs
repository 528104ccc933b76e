using Microsoft.ML;
using Microsoft.ML.Data;

namespace Ml.Autoencoders.Pipeline;

/// <summary>The Score and PredictedLabel columns of a multiclass classifier, annotated as ML.NET's trainers annotate them.</summary>
internal static class MulticlassColumns
{
    /// <summary>
    /// Score: a vector of <paramref name="classCount"/> floats with the class names as slot names and ML.NET's score
    /// kind annotations; PredictedLabel: a key of <paramref name="classCount"/> values carrying the label's KeyValues.
    /// </summary>
    public static MappedColumn[] Create(string scoreColumnName, string predictedLabelColumnName, int classCount, KeyValueNames? classes)
    {
        var scoreAnnotations = new DataViewSchema.Annotations.Builder();
        if (classes is not null)
        {
            var names = new VBuffer<ReadOnlyMemory<char>>(classCount, classes.Names.Select(n => n.AsMemory()).ToArray());
            scoreAnnotations.Add(AnnotationKinds.SlotNames, new VectorDataViewType(TextDataViewType.Instance, classCount),
                (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
        }
        scoreAnnotations.Add(AnnotationKinds.ScoreColumnKind, TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = AnnotationKinds.MulticlassClassification.AsMemory());
        scoreAnnotations.Add(AnnotationKinds.ScoreValueKind, TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = AnnotationKinds.Score.AsMemory());
        return
        [
            new MappedColumn(scoreColumnName, new VectorDataViewType(NumberDataViewType.Single, classCount), scoreAnnotations.ToAnnotations()),
            new MappedColumn(predictedLabelColumnName, new KeyDataViewType(typeof(uint), classCount), classes?.KeyValuesAnnotation()),
        ];
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;

namespace Ml.Autoencoders.Pipeline;

/// <summary>Serves source columns directly when none of a stage's new columns is needed.</summary>
internal sealed class PassThroughCursor : DataViewRowCursor
{
    private readonly DataViewRowCursor source;

    public PassThroughCursor(DataViewRowCursor source, DataViewSchema schema)
    {
        this.source = source;
        Schema = schema;
    }

    public override DataViewSchema Schema { get; }
    public override long Position => source.Position;
    public override long Batch => source.Batch;
    public override bool MoveNext() => source.MoveNext();
    public override ValueGetter<DataViewRowId> GetIdGetter() => source.GetIdGetter();
    public override bool IsColumnActive(DataViewSchema.Column column) =>
        column.Index < source.Schema.Count && source.IsColumnActive(source.Schema[column.Index]);
    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (!IsColumnActive(column))
            throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was created.");
        return source.GetGetter<TValue>(source.Schema[column.Index]);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) source.Dispose();
        base.Dispose(disposing);
    }
}

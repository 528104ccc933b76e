using Microsoft.ML;
using Microsoft.ML.Data;

namespace Ml.Autoencoders.Transforms;

/// <summary>
/// Row-at-a-time mapping for <see cref="PredictionEngine{TSrc, TDst}"/>: the outputs of a row are
/// computed once, on the first getter call for that row.
/// </summary>
internal sealed class AutoencoderRowMapper : IRowToRowMapper
{
    private readonly AutoencoderTransformer parent;
    private readonly AutoencoderTransformer.OutputColumn[] outputs;

    public AutoencoderRowMapper(AutoencoderTransformer parent, DataViewSchema inputSchema, DataViewSchema outputSchema)
    {
        this.parent = parent;
        InputSchema = inputSchema;
        OutputSchema = outputSchema;
        outputs = AutoencoderTransformer.OutputColumns(parent.Outputs, parent.OptionsView).ToArray();
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var result = new List<DataViewSchema.Column>();
        bool needsInput = false;
        foreach (var column in dependingColumns)
        {
            if (column.Index < InputSchema.Count) result.Add(InputSchema[column.Index]);
            else needsInput = true;
        }
        if (needsInput) result.Add(InputSchema[parent.InputColumnName]);
        return result.DistinctBy(c => c.Index);
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new MappedRow(this, input, activeColumns.Select(c => c.Index).ToHashSet());

    private sealed class MappedRow : DataViewRow
    {
        private readonly MappedRow.Parent owner;
        private readonly DataViewRow input;
        private readonly HashSet<int> active;
        private readonly OutputBuffers buffers;
        private readonly ValueGetter<VBuffer<float>>? inputGetter;
        private VBuffer<float> inputValue;
        private long computedFor = -1;
        private AutoencoderOutputs requested, computed; // a prediction engine asks getters only for what it reads

        private readonly record struct Parent(AutoencoderRowMapper Mapper);

        public MappedRow(AutoencoderRowMapper mapper, DataViewRow input, HashSet<int> active)
        {
            owner = new Parent(mapper);
            this.input = input;
            this.active = active;
            int n = mapper.InputSchema.Count;
            var kinds = mapper.outputs.Where((o, i) => active.Contains(n + i)).Select(o => o.Kind).ToList();
            buffers = new OutputBuffers(mapper.parent, 1, kinds.Aggregate((AutoencoderOutputs)0, (a, b) => a | b), native: false);
            if (kinds.Count > 0)
                inputGetter = input.GetGetter<VBuffer<float>>(mapper.InputSchema[mapper.parent.InputColumnName]);
        }

        public override DataViewSchema Schema => owner.Mapper.OutputSchema;
        public override long Position => input.Position;
        public override long Batch => input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            var mapper = owner.Mapper;
            int n = mapper.InputSchema.Count;
            if (column.Index < n) return input.GetGetter<TValue>(mapper.InputSchema[column.Index]);
            if (!active.Contains(column.Index))
                throw new InvalidOperationException($"Column '{column.Name}' was not requested for this row.");
            var kind = mapper.outputs[column.Index - n].Kind;
            var inner = buffers.CreateGetter(kind, () => 0) as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' holds {column.Type}; a getter of {typeof(TValue).Name} was asked for.");
            requested |= kind;
            return (ref TValue value) =>
            {
                EnsureComputed();
                inner(ref value);
            };
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) buffers.Dispose();
            base.Dispose(disposing);
        }

        private void EnsureComputed()
        {
            // A prediction engine reuses one row object and moves its input; recompute when the position changes.
            if (computedFor == input.Position && computedFor >= 0 && (requested & ~computed) == 0) return;
            inputGetter!(ref inputValue);
            buffers.SetInput(0, inputValue, input.Position);
            buffers.Compute(1, input.Position, requested);
            computedFor = input.Position;
            computed = requested;
        }
    }
}

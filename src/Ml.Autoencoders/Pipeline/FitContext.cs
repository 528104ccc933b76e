using System.Globalization;
using Microsoft.ML.Runtime;
using Ml.Autoencoders.Training;

namespace Ml.Autoencoders.Pipeline;

/// <summary>
/// What one Fit of a stage reports to and checks with the MLContext that created the stage: one log line per epoch at
/// Info (the losses) and the details at Trace (terms, learning rate, time, rows/s; the seed and the epochs chosen), on a
/// channel of the context's environment, so <c>mlContext.Log</c> receives them; and the context's cancellation
/// (<c>CancelExecution</c>), checked with the options' token at every batch. A stage created without a context (an
/// estimator constructed directly) gets <see cref="None"/>: no log, no extra check.
/// </summary>
internal sealed class FitContext : IDisposable
{
    /// <summary>No context: nothing is logged, only the options' token cancels.</summary>
    public static readonly FitContext None = new(null, null, null, owner: false);

    private readonly MlNetEnvironment? environment;
    private readonly IChannel? channel;
    private readonly string? stage;
    private readonly bool owner;

    private FitContext(MlNetEnvironment? environment, IChannel? channel, string? stage, bool owner)
    {
        this.environment = environment;
        this.channel = channel;
        this.stage = stage;
        this.owner = owner;
    }

    /// <summary>Starts the log of one Fit on a channel named <paramref name="component"/> (what <c>LoggingEventArgs.Source</c> shows).</summary>
    /// <param name="environment">The stage's context; null: <see cref="None"/> (with <paramref name="stage"/> kept for nothing).</param>
    /// <param name="component">The stage: "Autoencoder", "AutoencoderAnomalyDetector", ...</param>
    /// <param name="stage">What leads every line, when the Fit is part of a larger one ("member 2 of 5"); null for none.</param>
    public static FitContext Start(MlNetEnvironment? environment, string component, string? stage = null) =>
        environment is null ? None : new(environment, environment.Environment.Start(component), stage, owner: true);

    /// <summary>The same log and cancellation, with <paramref name="part"/> added to what leads each line (not owning the channel).</summary>
    public FitContext Stage(string part) => new(environment, channel, stage is null ? part : stage + ", " + part, owner: false);

    /// <summary>What leads each line; null for none.</summary>
    public string? StageName => stage;

    /// <summary>
    /// <paramref name="settings"/> with the context's log in front of the options' progress and the context's
    /// cancellation checked at every batch; unchanged without a context.
    /// </summary>
    internal TrainingSettings Apply(TrainingSettings settings, string what) => environment is null ? settings : settings with
    {
        Progress = new EpochLog(this, settings.Progress),
        CheckStop = () => environment.ThrowIfCanceled(what),
    };

    /// <summary>Throws <see cref="OperationCanceledException"/> when the context was cancelled (nothing without a context).</summary>
    public void ThrowIfCanceled(string what) => environment?.ThrowIfCanceled(what);

    /// <summary>A line at Info, led by the stage.</summary>
    public void Info(string message) => channel?.Info(MessageSensitivity.None, Lead(message));

    /// <summary>A line at Trace, led by the stage.</summary>
    public void Trace(string message) => channel?.Trace(MessageSensitivity.None, Lead(message));

    /// <summary>Ends the channel (when this context started it).</summary>
    public void Dispose()
    {
        if (owner) channel?.Dispose();
    }

    private string Lead(string message) => stage is null ? message : stage + ": " + message;

    /// <summary>The Info line of an epoch: its number and losses, in the invariant culture.</summary>
    internal static string EpochLine(EpochRecord e) => string.Create(CultureInfo.InvariantCulture,
        $"{(e.PretrainingStage is { } p ? $"pretraining stage {p}, " : "")}epoch {e.Epoch}: train loss {e.TrainLoss:G6}") +
        (e.ValidationLoss is { } v ? string.Create(CultureInfo.InvariantCulture, $", validation loss {v:G6}") : "");

    /// <summary>The Trace line of an epoch: the objective's terms, learning rate, time and throughput.</summary>
    internal static string EpochDetails(EpochRecord e) =>
        string.Create(CultureInfo.InvariantCulture, $"{(e.PretrainingStage is { } p ? $"pretraining stage {p}, " : "")}epoch {e.Epoch}: ") +
        Terms("terms", e.Terms) + Terms("validation terms", e.ValidationTerms) +
        string.Create(CultureInfo.InvariantCulture, $"learning rate {e.LearningRate:G4}, {e.Duration.TotalSeconds:F2} s, {e.Rows} rows ({e.SamplesPerSecond:F0} rows/s)");

    private static string Terms(string name, IReadOnlyDictionary<string, double> terms) => terms.Count == 0 ? ""
        : name + " " + string.Join(", ", terms.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Key} {t.Value:G6}"))) + "; ";

    /// <summary>Writes each epoch synchronously (a <see cref="Progress{T}"/> would post it later), then hands it to the options' progress.</summary>
    private sealed class EpochLog(FitContext fit, IProgress<EpochRecord>? user) : IProgress<EpochRecord>
    {
        public void Report(EpochRecord value)
        {
            fit.Info(EpochLine(value));
            fit.Trace(EpochDetails(value));
            user?.Report(value);
        }
    }
}

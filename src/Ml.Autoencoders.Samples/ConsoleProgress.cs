using Ml.Autoencoders.Training;

namespace Ml.Autoencoders.Samples;

/// <summary>Prints each epoch as it ends (synchronously, unlike <see cref="Progress{T}"/>).</summary>
internal sealed class ConsoleProgress(string label) : IProgress<EpochRecord>
{
    public void Report(EpochRecord value) => Console.WriteLine($"  [{label}] {value}");
}

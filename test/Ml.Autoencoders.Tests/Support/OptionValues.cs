using System.Reflection;
using Ml.Autoencoders.Corruption;
using Ml.Autoencoders.Networks;
using Ml.Autoencoders.Networks.Convolutional;
using Ml.Autoencoders.Objectives;

namespace Ml.Autoencoders.Tests;

/// <summary>A value other than the current one for any option property, for tests that walk every option.</summary>
internal static class OptionValues
{
    /// <summary>A valid value of <paramref name="property"/>'s type that differs from <paramref name="value"/>; fails for a type it does not know.</summary>
    public static object? Changed(PropertyInfo property, object? value)
    {
        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        if (type.IsEnum)
            return type.IsDefined(typeof(FlagsAttribute)) ? Enum.ToObject(type, 1) : Enum.GetValues(type).Cast<object>().First(v => !v.Equals(value));
        return type switch
        {
            _ when type == typeof(int) => value is int i ? i + 3 : 3,
            _ when type == typeof(long) => value is long l ? l + 3 : 3L,
            _ when type == typeof(double) => value is double d ? d * 2 + 0.25 : 0.25,
            _ when type == typeof(bool) => !(bool)value!,
            _ when type == typeof(string) => (value as string ?? "") + "x",
            _ when type == typeof(int[]) => new[] { 5, 4 },
            _ when type == typeof(Activation[]) => new[] { Activation.Tanh, Activation.Tanh },
            _ when type == typeof(List<AutoencoderPenalty>) => new List<AutoencoderPenalty> { new SparsityPenalty() },
            _ when type == typeof(InputCorruption) => new GaussianNoise(),
            _ when type == typeof(BodyOptions) => new ConvolutionalOptions { ImageShape = new ImageShape(1, 4, 4), EncoderLayers = { new ConvolutionLayer(2, 3, 2) } },
            _ when type == typeof(Microsoft.ML.IDataView) => null,
            _ when type == typeof(IProgress<Training.EpochRecord>) => new Progress<Training.EpochRecord>(),
            _ when type == typeof(CancellationToken) => new CancellationTokenSource().Token,
            _ => throw new AssertFailedException($"{property.Name}: add a changed value for type {type.Name} to this test"),
        };
    }
}

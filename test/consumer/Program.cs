// The quick start a new user writes against the package alone (test/consumer/run.sh copies it into a fresh
// `dotnet new console` app outside the repository, next to the packed Ml.Autoencoders and the CPU backend).
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Transforms;

var ml = new MLContext(seed: 1);
var random = new Random(1);
var rows = Enumerable.Range(0, 600).Select(_ => random.NextSingle())
    .Select(t => new Row { Features = Enumerable.Range(1, 8).Select(j => 0.5f + 0.4f * MathF.Sin(t * j)).ToArray() }).ToList();
var data = ml.Data.LoadFromEnumerable(rows);

var model = ml.Transforms.Autoencoder(new AutoencoderOptions { LatentDimension = 2, HiddenLayerSizes = [16], Epochs = 100, Seed = 1 }).Fit(data);
var scored = model.Transform(data);
float[] errors = scored.GetColumn<float>(AutoencoderColumnNames.ReconstructionError).ToArray();
float[][] codes = scored.GetColumn<float[]>(AutoencoderColumnNames.LatentCode).ToArray();
double variance = rows.SelectMany(r => r.Features).Select(v => (v - 0.5) * (v - 0.5)).Average();

model.Save("quickstart.model");
var reloaded = AutoencoderTransformer.Load("quickstart.model");
float reloadedError = reloaded.Transform(data).GetColumn<float>(AutoencoderColumnNames.ReconstructionError).First();
reloaded.Release(); // frees the network's native memory

Console.WriteLine($"rows {errors.Length}, code width {codes[0].Length}, mean error {errors.Average():G4} (data variance {variance:G4}), reloaded row 0 {reloadedError:G6} vs {errors[0]:G6}");
bool ok = errors.Length == 600 && codes[0].Length == 2 && errors.Average() < 0.2 * variance && reloadedError == errors[0];
Console.WriteLine(ok ? "QUICKSTART OK" : "QUICKSTART FAILED");
return ok ? 0 : 1;

sealed class Row
{
    [VectorType(8)]
    public float[] Features { get; set; } = [];
}

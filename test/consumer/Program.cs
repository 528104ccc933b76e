// The quick start a new user writes against the package alone (test/consumer/run.sh copies it into a fresh
// `dotnet new console` app outside the repository, next to the packed Ml.Autoencoders and the CPU backend).
//
//   dotnet run                                   trains, checks itself, saves a pipeline the ML.NET way (quickstart.zip)
//                                                and the outputs it gives (quickstart.expected)
//   dotnet QuickStart.dll load <zip> <expected>  a second process: loads the pipeline with a new MLContext and no
//                                                registration call, and checks that it gives exactly those outputs
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Ml.Autoencoders.Transforms;

Console.WriteLine($"Microsoft.ML {MlNetVersion()}");
if (args is ["load", var zipPath, var expectedPath])
{
    return LoadInThisFreshProcess(zipPath, expectedPath);
}

var ml = new MLContext(seed: 1);
var rows = MakeRows();
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

// The autoencoder inside an ML.NET pipeline with a stage after it (a k-NN classifier on the latent codes), saved with
// mlContext.Model.Save; the second process loads it with a plain mlContext.Model.Load.
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.Autoencoder(new AutoencoderOptions { LatentDimension = 2, HiddenLayerSizes = [16], Epochs = 100, Seed = 1 }))
    .Append(ml.MulticlassClassification.Trainers.KNearestNeighbors(featureColumnName: AutoencoderColumnNames.LatentCode, numberOfNeighbors: 5));
var chain = pipeline.Fit(data);
string[] outputs = Outputs(chain.Transform(data));
double accuracy = ml.MulticlassClassification.Evaluate(chain.Transform(data)).MicroAccuracy;
ml.Model.Save(chain, data.Schema, "quickstart.zip");
File.WriteAllLines("quickstart.expected", outputs);
Console.WriteLine($"pipeline MapValueToKey -> Autoencoder -> k-NN: training accuracy {accuracy:F3}; saved quickstart.zip");
ok &= accuracy > 0.9;

Console.WriteLine(ok ? "QUICKSTART OK" : "QUICKSTART FAILED");
return ok ? 0 : 1;

static int LoadInThisFreshProcess(string zipPath, string expectedPath)
{
    var fresh = new MLContext(seed: 7);
    var loaded = fresh.Model.Load(zipPath, out var inputSchema);
    var data = fresh.Data.LoadFromEnumerable(MakeRows());
    string[] expected = File.ReadAllLines(expectedPath);
    string[] actual = Outputs(loaded.Transform(data));
    bool same = actual.SequenceEqual(expected);
    Console.WriteLine($"loaded {zipPath} ({loaded.GetType().Name}, input {inputSchema.Count} columns) with a new MLContext and no registration call: " +
        (same ? $"all {actual.Length} rows identical" : $"{actual.Zip(expected).Count(p => p.First != p.Second)} rows differ"));
    Console.WriteLine(same ? "QUICKSTART OK" : "QUICKSTART FAILED");
    return same ? 0 : 1;
}

// Per row, the bit patterns of what the pipeline appends: the reconstruction error, the latent code and the k-NN scores, then the predicted key.
static string[] Outputs(IDataView scored)
{
    var errors = scored.GetColumn<float>(AutoencoderColumnNames.ReconstructionError).ToArray();
    var codes = scored.GetColumn<float[]>(AutoencoderColumnNames.LatentCode).ToArray();
    var scores = scored.GetColumn<float[]>("Score").ToArray();
    var predicted = scored.GetColumn<uint>("PredictedLabel").ToArray();
    return errors.Select((e, i) => string.Join(" ", new[] { e }.Concat(codes[i]).Concat(scores[i]).Select(Bits)) + " | " + predicted[i]).ToArray();
}

static string Bits(float v) => BitConverter.SingleToInt32Bits(v).ToString("X8", CultureInfo.InvariantCulture);

static List<Row> MakeRows()
{
    var random = new Random(1);
    return Enumerable.Range(0, 600).Select(_ => random.NextSingle())
        .Select(t => new Row { Features = Enumerable.Range(1, 8).Select(j => 0.5f + 0.4f * MathF.Sin(t * j)).ToArray(), Label = t < 0.5f ? "low" : "high" })
        .ToList();
}

static string MlNetVersion() => typeof(MLContext).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
    .Cast<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion.Split('+')[0] ?? "unknown";

sealed class Row
{
    [VectorType(8)]
    public float[] Features { get; set; } = [];

    public string Label { get; set; } = "";
}

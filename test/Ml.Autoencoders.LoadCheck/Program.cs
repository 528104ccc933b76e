// Usage: Ml.Autoencoders.LoadCheck <model.zip> <input.txt> <output.txt> [--register | --register-assembly]
//        Ml.Autoencoders.LoadCheck train <input.txt> <checkpoint> <epochs>
//
// train: fits the autoencoder of CheckpointTests.KilledProcessResumesFromItsLastCheckpointExactly on the rows of <input.txt>, writing a
// checkpoint after every epoch and printing "EPOCH n" after each (then pausing 300 ms, so that the caller can kill the
// process in the middle of the run).
//
// Loads <model.zip> with a plain mlContext.Model.Load, transforms the rows of <input.txt> (one row a line,
// float bit patterns in hex) and writes, per row, the bit patterns of the LatentCode vector and of the
// ReconstructionError, so that the caller can compare them exactly. Nothing of Ml.Autoencoders is touched
// before Model.Load, unless asked: --register calls AutoencoderModelRegistration.Register (the call of earlier versions),
// --register-assembly ML.NET's documented mlContext.ComponentCatalog.RegisterAssembly.
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

if (args.Length == 4 && args[0] == "train")
{
    var trainContext = new MLContext(seed: 0);
    var trainRows = ReadRows(args[1]);
    var trainSchema = SchemaDefinition.Create(typeof(InputRow));
    trainSchema[nameof(InputRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, trainRows[0].Length);
    // The same options as CheckpointTests.KilledRunOptions (a resume with other options is refused, so a drift shows).
    var options = new Ml.Autoencoders.Transforms.AutoencoderOptions { LatentDimension = 3, HiddenLayerSizes = [16], Epochs = int.Parse(args[3], CultureInfo.InvariantCulture), BatchSize = 16, Seed = 3 };
    options.CheckpointPath = args[2];
    options.Threads = 1; // as the test process (TestSetup), so both compute alike
    options.Progress = new EpochPrinter();
    Microsoft.ML.AutoencoderCatalog.Autoencoder(trainContext.Transforms, options).Fit(trainContext.Data.LoadFromEnumerable(trainRows.Select(r => new InputRow { Features = r }), trainSchema));
    Console.WriteLine("DONE");
    return 0;
}

if (args.Length < 3)
{
    Console.Error.WriteLine("usage: Ml.Autoencoders.LoadCheck <model.zip> <input.txt> <output.txt> [--register | --register-assembly]");
    return 2;
}

var mlContext = new MLContext(seed: 0);
if (args.Contains("--register"))
{
    Ml.Autoencoders.AutoencoderModelRegistration.Register(mlContext);
}
else if (args.Contains("--register-assembly"))
{
    mlContext.ComponentCatalog.RegisterAssembly(typeof(Ml.Autoencoders.Transforms.AutoencoderTransformer).Assembly);
}

ITransformer model;
try
{
    model = mlContext.Model.Load(args[0], out _);
}
catch (Exception ex)
{
    Console.Error.WriteLine("LOAD FAILED: " + ex.GetType().FullName + ": " + ex.Message);
    return 3;
}

float[][] rows = ReadRows(args[1]);
int width = rows[0].Length;
var schema = SchemaDefinition.Create(typeof(InputRow));
schema[nameof(InputRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, width);
var data = mlContext.Data.LoadFromEnumerable(rows.Select(r => new InputRow { Features = r }), schema);

var transformed = model.Transform(data);
var latent = transformed.GetColumn<float[]>("LatentCode").ToArray();
var error = transformed.GetColumn<float>("ReconstructionError").ToArray();
using (var writer = new StreamWriter(args[2]))
{
    for (int i = 0; i < latent.Length; i++)
    {
        writer.WriteLine(string.Join(" ", latent[i].Select(Hex)) + " | " + Hex(error[i]));
    }
}
Console.WriteLine($"OK {latent.Length} rows, model {model.GetType().Name}");
return 0;

static float[][] ReadRows(string path) => File.ReadAllLines(path)
    .Where(line => line.Length > 0)
    .Select(line => line.Split(' ').Select(h => BitConverter.Int32BitsToSingle(int.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture))).ToArray())
    .ToArray();

static string Hex(float v) => BitConverter.SingleToInt32Bits(v).ToString("X8", CultureInfo.InvariantCulture);

/// <summary>One input row.</summary>
internal sealed class InputRow
{
    /// <summary>The feature vector (its size is set on the schema definition).</summary>
    public float[] Features { get; set; } = [];
}

/// <summary>Prints each finished epoch at once, then pauses so the run lasts long enough to be killed midway.</summary>
internal sealed class EpochPrinter : IProgress<Ml.Autoencoders.Training.EpochRecord>
{
    public void Report(Ml.Autoencoders.Training.EpochRecord value)
    {
        Console.WriteLine($"EPOCH {value.Epoch}");
        Console.Out.Flush();
        Thread.Sleep(300);
    }
}

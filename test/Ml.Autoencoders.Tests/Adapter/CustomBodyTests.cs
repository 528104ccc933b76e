using Microsoft.ML;
using Ml.Autoencoders.Networks.Custom;
using Ml.Autoencoders.Persistence;
using Ml.Autoencoders.Tests.Conformance;
using Ml.Autoencoders.Transforms;
using static TorchSharp.torch;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// A user's own TorchSharp encoder and decoder as the body: they train with the library's dense code between them,
/// pass the conformance kit (both save/load routes, with the factories registered under the body's name), and a model
/// whose body is not registered, or whose modules disagree with the declared sizes, is refused with a message that
/// names the body and what to do.
/// </summary>
[TestClass]
public sealed class CustomBodyTests
{
    private static nn.Module<Tensor, Tensor> Encoder() => nn.Sequential(("in", nn.Linear(12, 8)), ("act", nn.Tanh()));

    private static nn.Module<Tensor, Tensor> Decoder() => nn.Sequential(("out", nn.Linear(8, 12)));

    private static CustomBodyOptions Body(string name, bool withFactories = true) => new()
    {
        Name = name, InputSize = 12, EncoderOutputSize = 8,
        CreateEncoder = withFactories ? Encoder : null, CreateDecoder = withFactories ? Decoder : null,
    };

    /// <summary>The kit: schema, determinism, batch and order invariance, bad input, both save/load routes, PredictionEngine.</summary>
    [TestMethod]
    public void ACustomBodyPassesTheConformanceKit()
    {
        CustomBodyOptions.Register("tests: tanh mlp", Encoder, Decoder);
        var ml = new MLContext(seed: 1);
        EstimatorConformance.RunAll(ml, AutoencoderConformanceTests.VariantCase(ml, "custom body", () => new AutoencoderOptions
        {
            Body = Body("tests: tanh mlp", withFactories: false), LatentDimension = 3,
        }, new[] { AutoencoderColumnNames.LatentCode, AutoencoderColumnNames.Reconstruction, AutoencoderColumnNames.ReconstructionError }, typeof(PredictionRow)));
    }

    /// <summary>The user's modules learn: the reconstruction error after 40 epochs is under a third of the untrained network's, and the saved tensors carry the modules' own names.</summary>
    [TestMethod]
    public void ACustomBodyTrainsAndSavesItsModulesByName()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.ToDataView(Synthetic.LowRank(400, 12, 3, seed: 2));
        AutoencoderTransformer Fit(int epochs) => ml.Transforms.Autoencoder(new AutoencoderOptions
        {
            Body = Body("tests: learns"), HiddenLayerSizes = [], LatentDimension = 3, Epochs = epochs, Seed = 3, LearningRate = 5e-3,
        }).Fit(data);
        double Error(AutoencoderTransformer t) => ml.Data.CreateEnumerable<ErrorRow>(t.Transform(data), reuseRowObject: false).Average(r => r.ReconstructionError);
        var once = Fit(1);
        var trained = Fit(40);
        try
        {
            Assert.IsLessThan(Error(once) / 3, Error(trained), "trained vs one epoch");
            var names = trained.Model.Network.state_dict().Keys.ToArray();
            CollectionAssert.IsSubsetOf(new[] { "encoder.in.weight", "encoder.in.bias", "decoder.out.weight", "core.encoder.linear0.weight" }, names);
        }
        finally
        {
            once.Model.Dispose();
            trained.Model.Dispose();
        }
    }

    /// <summary>The reconstruction error, read back.</summary>
    public sealed class ErrorRow
    {
        /// <summary>The error.</summary>
        public float ReconstructionError { get; set; }
    }

    /// <summary>
    /// What is written must load back: a model whose body is not registered is not saved (the message names the body and
    /// Register); once registered it saves, and a file naming a body this process never registered is refused at load
    /// with the same advice.
    /// </summary>
    [TestMethod]
    public void AnUnregisteredCustomBodyIsNamedAtSaveAndAtLoad()
    {
        var ml = new MLContext(seed: 1);
        string name = "tests: registered late " + Guid.NewGuid();
        var model = ml.Transforms.Autoencoder(new AutoencoderOptions { Body = Body(name), HiddenLayerSizes = [], LatentDimension = 3, Epochs = 1, Seed = 1 })
            .Fit(ml.ToDataView(Synthetic.LowRank(50, 12, 3, seed: 2)));
        try
        {
            var notSaved = Assert.ThrowsExactly<InvalidOperationException>(() => model.Save(new MemoryStream()));
            StringAssert.Contains(notSaved.Message, name);
            StringAssert.Contains(notSaved.Message, "CustomBodyOptions.Register");

            CustomBodyOptions.Register(name, Encoder, Decoder);
            using var stream = new MemoryStream();
            model.Save(stream);
            using (var reloaded = AutoencoderTransformer.Load(new MemoryStream(stream.ToArray())).Model)
                Assert.AreEqual(model.Model.Network.Description, reloaded.Network.Description);

            string unknown = "tests: never registered " + Guid.NewGuid();
            var renamed = FileFuzzing.EditHeader(stream.ToArray(), h =>
            {
                h["Body"]!["Name"] = unknown;
                h["Options"]!["Body"]!["Name"] = unknown;
            });
            var refused = Assert.ThrowsExactly<AutoencoderModelFormatException>(() => AutoencoderTransformer.Load(new MemoryStream(renamed)));
            StringAssert.Contains(refused.Message, unknown);
            StringAssert.Contains(refused.Message, "CustomBodyOptions.Register");
        }
        finally
        {
            model.Model.Dispose();
        }
    }

    /// <summary>Modules whose sizes disagree with the declared ones are named before training.</summary>
    [TestMethod]
    public void ModulesThatDisagreeWithTheDeclaredSizesAreRefusedBeforeTraining()
    {
        var ml = new MLContext(seed: 1);
        var body = Body("tests: wrong sizes");
        body.EncoderOutputSize = 7;
        var estimator = ml.Transforms.Autoencoder(new AutoencoderOptions { Body = body, HiddenLayerSizes = [], Epochs = 1 });
        var refused = Assert.ThrowsExactly<ArgumentException>(() => estimator.Fit(ml.ToDataView(Synthetic.LowRank(20, 12, 3, seed: 2))));
        Assert.AreEqual(nameof(CustomBodyOptions.EncoderOutputSize), refused.ParamName);
        StringAssert.Contains(refused.Message, "[2, 8]");
    }
}

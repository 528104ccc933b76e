using Ml.Autoencoders.Samples;

// One command per worked example: dotnet run --project src/Ml.Autoencoders.Samples -c Release -- <command> [options]
var commands = new Dictionary<string, (string Help, Action<string[]> Run)>
{
    ["dense"] = ("784-64-32-16 autoencoder -> 16-d codes -> ML.NET classifier; then the library defaults, side by side with PCA-16", DenseFeaturesSample.Run),
    ["stacked"] = ("stacked 784-100-30 SELU autoencoder: classic SGD, with greedy layer-wise pretraining, with Adam; PCA-30", StackedSample.Run),
    ["vae"] = ("variational autoencoder 784-512-2: test ELBO, latent-space grid, latent scatter by class, samples", VaeSample.Run),
    ["denoising"] = ("denoising autoencoder 784-256-64 (Gaussian noise 0.6) against a plain one on noisy test images", DenoisingSample.Run),
    ["conv-denoising"] = ("convolutional denoising autoencoder from PNG files (LoadImages -> ExtractPixels -> autoencoder): PSNR/SSIM, grid, ConvertToImage", ConvDenoisingSample.Run),
    ["conv-features"] = ("convolutional autoencoder codes -> ML.NET classifier in one pipeline, against the same classifier on raw pixels", ConvFeaturesSample.Run),
    ["regularised"] = ("sparse (KL, L1) and contractive 784-64 autoencoders next to a plain one: code sparsity, Jacobian norm, test MSE; PCA-64", RegularisedSample.Run),
    ["knn"] = ("784-64-32-16 autoencoder codes -> 5-NN classifier, next to 5-NN on raw pixels and on PCA-16: accuracy table", KnnSample.Run),
    ["tsne"] = ("stacked 784-100-30 autoencoder codes of 5,000 test images -> t-SNE -> PNG scatter by class (and PCA-30 for comparison)", TsneSample.Run),
    ["anomaly"] = ("one-class anomaly detection: per class, the library's autoencoder detector and RandomizedPca trained on that class; AUROC table, thresholds, PNG of extremes", AnomalySample.Run),
    ["ecg-anomaly"] = ("SciPy's electrocardiogram with planted anomalies: SlidingWindows -> LSTM, dense and PCA detectors -> TimeStepErrors; per-window and per-point AUROC/F1, PNG (needs Python with SciPy once; --quick)", EcgAnomalySample.Run),
    ["words"] = ("character-level GRU autoencoder over an English word list (apt-get install wamerican, or --words FILE): held-out exact-word rate by length, code-space neighbours, t-SNE PNG", WordsSample.Run),
    ["finetune"] = ("denoising 784-256-128-32 (default body, 30% of pixels masked) pretrained on 60,000 unlabelled images, fine-tuned with 100, 600 and 6,000 labels (3 seeds); next to scratch, frozen codes, raw-pixel L-BFGS", FineTuneSample.Run),
    ["readme"] = ("the pipeline example quoted in docs/autoencoders.md", ReadmeSample.Run),
    ["readme-downstream"] = ("the k-NN, t-SNE and fine-tuning example quoted in docs/knn.md, docs/tsne.md and docs/fine-tuning.md", ReadmeDownstreamSample.Run),
    ["readme-variants"] = ("the variants example quoted in docs/autoencoders.md (beta-VAE, denoising sparse, stacked with pretraining)", ReadmeVariantsSample.Run),
};

if (args.Length == 0 || !commands.TryGetValue(args[0], out var command))
{
    Console.WriteLine("Usage: dotnet run --project src/Ml.Autoencoders.Samples -c Release -- <command> [--data DIR] [--train N] [--test N] [--epochs N] [--out DIR]");
    foreach (var (name, (help, _)) in commands) Console.WriteLine($"  {name,-15} {help}");
    return args.Length == 0 ? 0 : 1;
}
command.Run(args[1..]);
return 0;

namespace Ml.Autoencoders.Networks;

/// <summary>
/// What every body's shape (its spec) tells the rest of the library: sizes, head, how to build an untrained network
/// from it and which tensors (names, shapes) that network holds, so a model file can be checked before anything is
/// allocated. Each body folder (Dense/, Convolutional/, ...) has one spec; nothing outside a body's folder switches on
/// its concrete types.
/// </summary>
internal interface IBodySpec
{
    /// <summary>Values per input row.</summary>
    int InputSize { get; }

    /// <summary>Width of the code.</summary>
    int LatentDimension { get; }

    /// <summary>Deterministic code or Gaussian posterior.</summary>
    LatentHead Head { get; }

    /// <summary>The body's options (null for the dense body); with <see cref="Layers"/> all a model header records of the network.</summary>
    BodyOptions? Options { get; }

    /// <summary>The dense layers around the code this network really has (for a body whose code is its own output: none, and that code).</summary>
    CodeLayers Layers { get; }

    /// <summary>A new untrained network of this shape (initialised from TorchSharp's current generator state).</summary>
    AutoencoderNetwork Create();

    /// <summary>The tensors (state-dict names and shapes, in order) a network of this shape holds; allocates nothing in proportion to the sizes.</summary>
    List<(string Name, long[] Shape)> ExpectedTensors();
}

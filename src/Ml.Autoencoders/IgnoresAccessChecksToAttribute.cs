namespace System.Runtime.CompilerServices;

/// <summary>
/// Read by the .NET runtime (not by the compiler): the assembly that carries it may use the internal types of the named
/// assembly. Ml.Autoencoders names Microsoft.ML.Core so that the runtime hands ML.NET the assembly's
/// <c>LoadableClass</c> attributes, whose type is internal to Microsoft.ML.Core (see MlNetModelLoaders.cs). The runtime
/// looks the attribute up by name; no framework assembly defines it.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
internal sealed class IgnoresAccessChecksToAttribute(string assemblyName) : Attribute
{
    /// <summary>The simple name of the assembly whose internals may be used.</summary>
    public string AssemblyName { get; } = assemblyName;
}

using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using TorchSharp;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// TorchSharp 0.107 turns a number passed where a <see cref="Scalar"/> is expected into a finalizable Scalar that
/// nothing keeps alive during the native call; a garbage collection on another thread can free it while libtorch reads
/// it (the soak died of it in <c>leaky_relu</c>). Many TorchSharp methods do that inside too: <c>square()</c> is
/// <c>pow(2)</c>, a one-argument <c>add</c> passes alpha 1, <c>nn.LeakyReLU</c>'s forward passes its slope. This test reads
/// the IL of both assemblies: no method of the library may convert a number to a Scalar implicitly, nor call a TorchSharp
/// method that makes one inside (found the same way, through TorchSharp's own calls), nor create a TorchSharp module
/// whose forward pass does, nor a TorchSharp optimizer (whose step does: the library has its own, Training.TrainingOptimizer). Explicit <c>ToScalar()</c> calls are allowed: the library keeps those in static fields or
/// <c>using</c> variables (Runtime.Scalars).
/// </summary>
[TestClass]
public sealed class ScalarLifetimeTests
{
    /// <summary>Library calls allowed although TorchSharp makes a Scalar inside them, with the reason.</summary>
    private static readonly Dictionary<string, string> Allowed = new()
    {
        ["nn::BatchNorm2d(Int64,Double,Double,Boolean,Boolean,Device,Nullable<ScalarType>)"] =
            "BatchNorm's forward makes its Scalar (num_batches_tracked.add_(1)) only in training mode; training also runs TorchSharp's optimizers, which make Scalars in every step",
    };

    /// <summary>The library's methods hand TorchSharp no temporary Scalar (see the class summary).</summary>
    [TestMethod]
    public void NoLibraryMethodHandsTorchSharpATemporaryScalar()
    {
        var makers = ScalarMakers(typeof(torch).Assembly.Location);
        Assert.IsTrue(makers.Contains("Tensor::square()") && makers.Contains("Tensor::add(Tensor)") && makers.Contains("nn::LeakyReLU(Double,Boolean)") &&
            makers.Any(m => m.StartsWith("optim::Adam(", StringComparison.Ordinal)),
            "the scan finds TorchSharp's known Scalar makers (square, one-argument add, the LeakyReLU module, the Adam optimizer)");
        var offenders = new List<string>();
        foreach (var (caller, target) in Calls(typeof(Transforms.AutoencoderTransformer).Assembly.Location))
            if ((IsConversion(target) && !target.StartsWith("ScalarExtensionMethods::ToScalar(", StringComparison.Ordinal) || makers.Contains(target)) && !Allowed.ContainsKey(target))
                offenders.Add($"{caller} calls {target}");
        Assert.AreEqual(0, offenders.Count, "Temporary Scalars (use Runtime.Scalars or a using variable; call the overloads that take every Scalar):\n" + string.Join("\n", offenders.Distinct().Order()));
    }

    private static bool IsConversion(string target) =>
        target.StartsWith("Scalar::op_Implicit(", StringComparison.Ordinal) || target.StartsWith("ScalarExtensionMethods::ToScalar(", StringComparison.Ordinal);

    /// <summary>
    /// TorchSharp's methods that make a Scalar from a number: those converting one themselves, those calling such a
    /// method (to a fixed point), and the factories of modules whose forward is one.
    /// </summary>
    private static HashSet<string> ScalarMakers(string torchSharpPath)
    {
        var calls = Calls(torchSharpPath).ToList();
        var makers = calls.Where(c => IsConversion(c.Target)).Select(c => c.Caller).ToHashSet();
        for (bool grew = true; grew;)
        {
            int before = makers.Count;
            makers.UnionWith(calls.Where(c => makers.Contains(c.Target)).Select(c => c.Caller));
            grew = makers.Count > before;
        }
        // Modules and optimizers: a type whose forward or step (its own or inherited) is a maker; a method constructing one is a maker.
        var bases = BaseTypes(torchSharpPath);
        var makingTypes = makers.Where(m => m.Contains("::forward(", StringComparison.Ordinal) || m.Contains("::step(", StringComparison.Ordinal))
            .Select(m => m[..m.IndexOf("::", StringComparison.Ordinal)]).ToHashSet();
        bool Makes(string type)
        {
            string? t = type;
            for (int depth = 0; t is not null && depth < 32; depth++, t = bases.GetValueOrDefault(t)) // simple names may repeat: bound the walk
                if (makingTypes.Contains(t)) return true;
            return false;
        }
        makers.UnionWith(calls.Where(c => c.Target.Contains("::.ctor(", StringComparison.Ordinal) && Makes(c.Target[..c.Target.IndexOf("::", StringComparison.Ordinal)])).Select(c => c.Caller));
        return makers;
    }

    /// <summary>Base type of every type defined in the assembly (simple names).</summary>
    private static Dictionary<string, string> BaseTypes(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        var bases = new Dictionary<string, string>();
        foreach (var handle in md.TypeDefinitions)
        {
            var type = md.GetTypeDefinition(handle);
            if (type.BaseType.IsNil) continue;
            string? name = TypeName(md, type.BaseType);
            if (name is not null) bases.TryAdd(md.GetString(type.Name), name);
        }
        return bases;
    }

    /// <summary>Every call (call, callvirt, newobj, or a delegate made with ldftn) in the assembly's method bodies, as ("Type::Method(parameters)", target).</summary>
    private static IEnumerable<(string Caller, string Target)> Calls(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        var names = new SignatureNames(md);
        var result = new List<(string, string)>();
        foreach (var typeHandle in md.TypeDefinitions)
        {
            var type = md.GetTypeDefinition(typeHandle);
            foreach (var methodHandle in type.GetMethods())
            {
                var method = md.GetMethodDefinition(methodHandle);
                if (method.RelativeVirtualAddress == 0) continue;
                string caller = $"{md.GetString(type.Name)}::{md.GetString(method.Name)}{Parameters(method.DecodeSignature(names, null))}";
                var il = pe.GetMethodBody(method.RelativeVirtualAddress).GetILBytes()!;
                foreach (int token in MethodTokens(il))
                    if (Target(md, names, token) is { } target) result.Add((caller, target));
            }
        }
        return result;
    }

    private static string? Target(MetadataReader md, SignatureNames names, int token)
    {
        var handle = MetadataTokens.EntityHandle(token);
        switch (handle.Kind)
        {
            case HandleKind.MemberReference:
                var reference = md.GetMemberReference((MemberReferenceHandle)handle);
                if (reference.GetKind() != MemberReferenceKind.Method) return null;
                return $"{TypeName(md, reference.Parent)}::{md.GetString(reference.Name)}{Parameters(reference.DecodeMethodSignature(names, null))}";
            case HandleKind.MethodDefinition:
                var definition = md.GetMethodDefinition((MethodDefinitionHandle)handle);
                return $"{md.GetString(md.GetTypeDefinition(definition.GetDeclaringType()).Name)}::{md.GetString(definition.Name)}{Parameters(definition.DecodeSignature(names, null))}";
            case HandleKind.MethodSpecification:
                return Target(md, names, MetadataTokens.GetToken(md.GetMethodSpecification((MethodSpecificationHandle)handle).Method));
            default:
                return null;
        }
    }

    private static string? TypeName(MetadataReader md, EntityHandle handle) => handle.Kind switch
    {
        HandleKind.TypeReference => md.GetString(md.GetTypeReference((TypeReferenceHandle)handle).Name),
        HandleKind.TypeDefinition => md.GetString(md.GetTypeDefinition((TypeDefinitionHandle)handle).Name),
        HandleKind.TypeSpecification => SpecName(md, (TypeSpecificationHandle)handle),
        _ => null,
    };

    private static string SpecName(MetadataReader md, TypeSpecificationHandle handle)
    {
        string name = md.GetTypeSpecification(handle).DecodeSignature(new SignatureNames(md), null);
        int generic = name.IndexOf('<', StringComparison.Ordinal);
        return generic < 0 ? name : name[..generic];
    }

    private static string Parameters(MethodSignature<string> signature) => "(" + string.Join(",", signature.ParameterTypes) + ")";

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>The method tokens of call, callvirt, newobj, ldftn and ldvirtftn instructions, decoding the IL instruction by instruction.</summary>
    private static IEnumerable<int> MethodTokens(byte[] il)
    {
        for (int i = 0; i < il.Length;)
        {
            short value = il[i] == 0xFE ? unchecked((short)(0xFE00 | il[i + 1])) : il[i];
            var op = OpCodesByValue[value];
            i += op.Size;
            if (op.OperandType == OperandType.InlineMethod) // call, callvirt, newobj, and ldftn / ldvirtftn (a lambda the method runs)
                yield return BitConverter.ToInt32(il, i);
            i += op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
        }
    }

    /// <summary>Type names for signatures: simple names, generic arguments in angle brackets.</summary>
    private sealed class SignatureNames(MetadataReader md) : ISignatureTypeProvider<string, object?>
    {
        public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[,]";
        public string GetByReferenceType(string elementType) => elementType + "&";
        public string GetFunctionPointerType(MethodSignature<string> signature) => "fnptr";
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) =>
            genericType[..(genericType.IndexOf('`') is int tick and >= 0 ? tick : genericType.Length)] + "<" + string.Join(",", typeArguments) + ">";
        public string GetGenericMethodParameter(object? genericContext, int index) => "!!" + index;
        public string GetGenericTypeParameter(object? genericContext, int index) => "!" + index;
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
        public string GetPinnedType(string elementType) => elementType;
        public string GetPointerType(string elementType) => elementType + "*";
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => md.GetString(md.GetTypeDefinition(handle).Name);
        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => md.GetString(md.GetTypeReference(handle).Name);
        public string GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) => "spec";
    }
}

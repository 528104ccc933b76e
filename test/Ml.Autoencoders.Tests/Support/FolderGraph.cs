using System.Reflection;
using System.Reflection.Emit;

namespace Ml.Autoencoders.Tests;

/// <summary>
/// The dependency graph between the library's folders (namespaces), read from the compiled assemblies: every type a
/// type names in its base type, interfaces, fields, properties, events, method signatures, attributes, locals and in
/// the tokens of its method bodies (calls, field loads, casts, allocations, typeof). Compiler-made types (closures,
/// iterators, async state machines) count for the type they are nested in. Nothing is kept by hand.
/// </summary>
internal sealed class FolderGraph
{
    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance
        | BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>Edges folder -> folder with, for each, one example "TypeA -> TypeB" to name in a failure.</summary>
    public Dictionary<(string From, string To), string> Edges { get; } = new();

    /// <summary>The folders seen.</summary>
    public SortedSet<string> Folders { get; } = new(StringComparer.Ordinal);

    /// <summary>Reads the graph of the given assemblies; only references between them count.</summary>
    public static FolderGraph Read(params Assembly[] assemblies)
    {
        var graph = new FolderGraph();
        var ours = assemblies.ToHashSet();
        foreach (var assembly in assemblies)
            foreach (var type in assembly.GetTypes())
            {
                var owner = Outermost(type);
                if (owner.Namespace is null) continue; // <Module>, <PrivateImplementationDetails>
                graph.Folders.Add(owner.Namespace);
                foreach (var used in References(type))
                    foreach (var named in Flatten(used))
                    {
                        if (!ours.Contains(named.Assembly)) continue;
                        var target = Outermost(named);
                        if (target.Namespace is null || target.Namespace == owner.Namespace) continue;
                        graph.Edges.TryAdd((owner.Namespace, target.Namespace), $"{owner.FullName} -> {target.FullName}");
                    }
            }
        return graph;
    }

    /// <summary>Adds an edge (for the test that checks the detector itself).</summary>
    public void Plant(string from, string to)
    {
        Folders.Add(from);
        Folders.Add(to);
        Edges.TryAdd((from, to), "planted");
    }

    /// <summary>The strongly connected components with more than one folder: each is a dependency cycle.</summary>
    public List<List<string>> Cycles()
    {
        var next = Folders.ToDictionary(f => f, _ => new List<string>());
        foreach (var (from, to) in Edges.Keys) next[from].Add(to);
        int counter = 0;
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var cycles = new List<List<string>>();
        void Visit(string v)
        {
            index[v] = low[v] = counter++;
            stack.Push(v);
            onStack.Add(v);
            foreach (var w in next[v])
            {
                if (!index.ContainsKey(w)) { Visit(w); low[v] = Math.Min(low[v], low[w]); }
                else if (onStack.Contains(w)) low[v] = Math.Min(low[v], index[w]);
            }
            if (low[v] != index[v]) return;
            var component = new List<string>();
            string x;
            do { x = stack.Pop(); onStack.Remove(x); component.Add(x); } while (x != v);
            if (component.Count > 1) { component.Sort(StringComparer.Ordinal); cycles.Add(component); }
        }
        foreach (var f in Folders) if (!index.ContainsKey(f)) Visit(f);
        return cycles;
    }

    /// <summary>The edges inside one cycle, with their examples, for a failure message.</summary>
    public IEnumerable<string> Describe(IReadOnlyCollection<string> cycle) =>
        Edges.Where(e => cycle.Contains(e.Key.From) && cycle.Contains(e.Key.To))
            .OrderBy(e => e.Key.From, StringComparer.Ordinal).ThenBy(e => e.Key.To, StringComparer.Ordinal)
            .Select(e => $"{e.Key.From} -> {e.Key.To} (e.g. {e.Value})");

    private static Type Outermost(Type type)
    {
        while (type.DeclaringType is { } outer) type = outer;
        return type;
    }

    private static IEnumerable<Type> Flatten(Type type)
    {
        if (type.HasElementType) { foreach (var t in Flatten(type.GetElementType()!)) yield return t; yield break; }
        if (type.IsGenericParameter) yield break;
        if (type.IsGenericType)
        {
            yield return type.GetGenericTypeDefinition();
            foreach (var argument in type.GetGenericArguments())
                foreach (var t in Flatten(argument)) yield return t;
            yield break;
        }
        yield return type;
    }

    private static IEnumerable<Type> References(Type type)
    {
        if (type.BaseType is { } baseType) yield return baseType;
        foreach (var i in type.GetInterfaces()) yield return i;
        foreach (var a in type.CustomAttributes) yield return a.AttributeType;
        foreach (var f in type.GetFields(Declared)) yield return f.FieldType;
        foreach (var p in type.GetProperties(Declared)) yield return p.PropertyType;
        foreach (var e in type.GetEvents(Declared)) if (e.EventHandlerType is { } h) yield return h;
        foreach (MethodBase method in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
        {
            if (method is MethodInfo m) yield return m.ReturnType;
            foreach (var p in method.GetParameters()) yield return p.ParameterType;
            foreach (var a in method.CustomAttributes) yield return a.AttributeType;
            var body = method.GetMethodBody();
            if (body is null) continue;
            foreach (var local in body.LocalVariables) yield return local.LocalType;
            foreach (var used in BodyTokens(method, body.GetILAsByteArray() ?? [])) yield return used;
        }
    }

    private static IEnumerable<Type> BodyTokens(MethodBase method, byte[] il)
    {
        var module = method.Module;
        var typeArguments = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        int at = 0;
        while (at < il.Length)
        {
            short value = il[at++];
            if (value == 0xFE) value = (short)(0xFE00 | il[at++]);
            if (!OpCodesByValue.TryGetValue(value, out var op))
                throw new InvalidOperationException($"{method.DeclaringType}.{method.Name}: unknown IL opcode 0x{value:X} at {at}");
            switch (op.OperandType)
            {
                case OperandType.InlineNone: break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar: at += 1; break;
                case OperandType.InlineVar: at += 2; break;
                case OperandType.InlineI8 or OperandType.InlineR: at += 8; break;
                case OperandType.InlineSwitch: at += 4 + 4 * BitConverter.ToInt32(il, at); break;
                case OperandType.InlineBrTarget or OperandType.InlineI or OperandType.ShortInlineR
                    or OperandType.InlineString or OperandType.InlineSig: at += 4; break;
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineType or OperandType.InlineTok:
                    {
                        int token = BitConverter.ToInt32(il, at);
                        at += 4;
                        var member = module.ResolveMember(token, typeArguments, methodArguments);
                        switch (member)
                        {
                            case Type t: yield return t; break;
                            case FieldInfo f: yield return f.DeclaringType!; yield return f.FieldType; break;
                            case MethodBase m:
                                yield return m.DeclaringType!;
                                foreach (var p in m.GetParameters()) yield return p.ParameterType;
                                if (m is MethodInfo mi)
                                {
                                    yield return mi.ReturnType;
                                    if (mi.IsGenericMethod) foreach (var g in mi.GetGenericArguments()) yield return g;
                                }
                                break;
                        }
                        break;
                    }
                default: throw new InvalidOperationException($"{method.DeclaringType}.{method.Name}: operand {op.OperandType} not read");
            }
        }
    }
}

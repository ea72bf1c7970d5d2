using System.Text.Json;

namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// Turns the supported part of JSON Schema into <see cref="SchemaNode"/>s, refusing (ArgumentException naming the
/// schema path) every keyword it would otherwise ignore while the answer did not keep to it.
/// </summary>
internal sealed class JsonSchemaCompiler
{
    public const int MaxNodes = 10_000, MaxProperties = 256, MaxLiterals = 1024, MaxRefDepth = 16;
    /// <summary>Enum, const and key bytes the compiled schema may hold: references copy their target, so a small schema
    /// could otherwise expand to far more than its text.</summary>
    public const int MaxExpandedBytes = 1 << 20;

    static readonly HashSet<string> Annotations =
        ["title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly", "$defs", "definitions"];
    static readonly HashSet<string> Understood =
        ["type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum", "const", "minLength",
         "maxLength", "$ref", "anyOf", "oneOf", "allOf"];
    /// <summary>The keywords that say what a value is; a <c>$ref</c> or a combination stands alone among them.</summary>
    static readonly string[] Alone = ["$ref", "anyOf", "oneOf", "allOf"];

    readonly JsonElement root;
    int nodes, refDepth, level;
    long expandedBytes;

    JsonSchemaCompiler(JsonElement root) => this.root = root;

    public static RootNode Compile(JsonElement schema) => new(new JsonSchemaCompiler(schema).Node(schema, "schema"));

    SchemaNode Node(JsonElement s, string path)
    {
        // Deeper values than the cursor's stack holds could never be written to their end (a reference counts as a level).
        if (++level > JsonObjectFormat.MaxDepth) throw Bad(path, $"the schema nests more than {JsonObjectFormat.MaxDepth} deep");
        try { return Compile(s, path); }
        finally { level--; }
    }

    SchemaNode Compile(JsonElement s, string path)
    {
        if (++nodes > MaxNodes) throw Bad(path, $"the schema expands to more than {MaxNodes} parts");
        if (s.ValueKind == JsonValueKind.True) return new AnyNode(objectOnly: false);
        if (s.ValueKind != JsonValueKind.Object) throw Bad(path, "must be an object (or true)");
        foreach (var p in s.EnumerateObject())
            if (!Understood.Contains(p.Name) && !Annotations.Contains(p.Name))
                throw Bad($"{path}.{p.Name}", "this keyword is not supported (supported: " + string.Join(", ", Understood) + ")");
        if (Alone.FirstOrDefault(k => s.TryGetProperty(k, out _)) is { } alone)
        {
            // Beside a reference or a combination, another keyword would have to hold as well: refused, not ignored.
            foreach (var other in s.EnumerateObject())
                if (other.Name != alone && Understood.Contains(other.Name))
                    throw Bad($"{path}.{other.Name}", $"is not supported beside {alone} (put it inside)");
            var value = s.GetProperty(alone);
            return alone == "$ref" ? Reference(value, path) : Combination(value, $"{path}.{alone}", all: alone == "allOf");
        }
        if (s.TryGetProperty("const", out var constant)) return new LiteralNode(Counted(path, [JsonLiteral.Of(constant)]));
        if (s.TryGetProperty("enum", out var values))
        {
            if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() is 0 or > MaxLiterals)
                throw Bad(path + ".enum", $"must be a list of 1 to {MaxLiterals} values");
            return new LiteralNode(Counted(path, values.EnumerateArray().Select(JsonLiteral.Of).ToArray()));
        }
        if (!s.TryGetProperty("type", out var type))
            return s.TryGetProperty("properties", out _) ? Typed(s, "object", path)
                : s.TryGetProperty("items", out _) ? Typed(s, "array", path)
                : new AnyNode(objectOnly: false);
        if (type.ValueKind == JsonValueKind.String) return Typed(s, type.GetString()!, path);
        if (type.ValueKind != JsonValueKind.Array || type.GetArrayLength() == 0) throw Bad(path + ".type", "must be a type name or a list of them");
        var names = type.EnumerateArray().Select(t => t.ValueKind == JsonValueKind.String ? t.GetString()! : throw Bad(path + ".type", "must hold type names"))
            .Distinct().ToList();
        if (names.Contains("number")) names.Remove("integer");
        if (names.Count == 1) return Typed(s, names[0], path);
        return Union(names.Select(n => (Typed(s, n, path), $"{path}.type[{n}]")).ToList());
    }

    /// <summary>anyOf / oneOf: alternatives told apart by the value's first byte (so one of them holds, and only one);
    /// allOf: a single schema (as pydantic wraps a reference).</summary>
    SchemaNode Combination(JsonElement list, string path, bool all)
    {
        if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0) throw Bad(path, "must be a list of schemas");
        if (all)
            return list.GetArrayLength() == 1 ? Node(list[0], path + "[0]")
                : throw Bad(path, "only an allOf of one schema is supported (merge the others into it)");
        return Union(list.EnumerateArray().Select((a, i) => (Node(a, $"{path}[{i}]"), $"{path}[{i}]")).ToList());
    }

    /// <summary>One node for alternatives: enums and consts merge, a number takes in an integer, and the rest must start
    /// with different bytes, since the cursor follows one alternative from the value's first byte on.</summary>
    static SchemaNode Union(List<(SchemaNode Node, string Path)> alternatives)
    {
        var flat = alternatives.SelectMany(a => a.Node is UnionNode u ? u.Alternatives.Select(n => (n, a.Path)) : [a]).ToList();
        if (flat.Any(a => a.Item1 is NumberNode { Integer: false })) flat.RemoveAll(a => a.Item1 is NumberNode { Integer: true });
        var pathOf = new (SchemaNode Node, string Path)?[256];
        foreach (var (node, path) in flat)
            foreach (byte b in node.FirstBytes)
            {
                if (pathOf[b] is { } seen && seen.Node != node && !(seen.Node is LiteralNode && node is LiteralNode))
                    throw Bad(path, $"its values can start with '{(char)b}' as those of {seen.Path} can: alternatives must differ in their "
                                    + "first character (a string or null, an object or an array, ...), or all be enum or const values");
                pathOf[b] = (node, path);
            }
        var literals = flat.Select(a => a.Item1).OfType<LiteralNode>().ToList();
        if (literals.Count > 1)
        {
            flat.RemoveAll(a => a.Item1 is LiteralNode);
            flat.Add((new LiteralNode(literals.SelectMany(l => l.Texts).ToArray()), ""));
        }
        if (flat.Count == 1) return flat[0].Item1;
        var byFirst = new SchemaNode?[256];
        foreach (var (node, _) in flat)
            foreach (byte b in node.FirstBytes) byFirst[b] = node;
        return new UnionNode(flat.Select(a => a.Item1).Distinct().ToArray(), byFirst);
    }

    SchemaNode Reference(JsonElement reference, string path)
    {
        string target = reference.ValueKind == JsonValueKind.String ? reference.GetString()! : "";
        string[] parts = target.Split('/');
        if (parts.Length != 3 || parts[0] != "#" || parts[1] is not ("$defs" or "definitions")
            || !root.TryGetProperty(parts[1], out var defs) || defs.ValueKind != JsonValueKind.Object || !defs.TryGetProperty(parts[2], out var def))
            throw Bad(path + ".$ref", "only references to this schema's own \"#/$defs/NAME\" (or \"#/definitions/NAME\") are supported");
        if (++refDepth > MaxRefDepth) throw Bad(path + ".$ref", $"references nest more than {MaxRefDepth} deep (a recursive schema is not supported)");
        try { return Node(def, $"{path}.$ref({target})"); }
        finally { refDepth--; }
    }

    SchemaNode Typed(JsonElement s, string type, string path) => type switch
    {
        "object" => Object(s, path),
        "array" => new ArrayNode(s.TryGetProperty("items", out var items) ? Node(items, path + ".items") : new AnyNode(objectOnly: false),
            Count(s, "minItems", path, 0), Count(s, "maxItems", path, int.MaxValue, Count(s, "minItems", path, 0))),
        "string" => new StringNode(Count(s, "minLength", path, 0), Count(s, "maxLength", path, int.MaxValue, Count(s, "minLength", path, 0))),
        "number" => new NumberNode(integer: false),
        "integer" => new NumberNode(integer: true),
        "boolean" => new LiteralNode(["true"u8.ToArray(), "false"u8.ToArray()]),
        "null" => new LiteralNode(["null"u8.ToArray()]),
        _ => throw Bad(path + ".type", $"unknown type '{type}' (object, array, string, number, integer, boolean, null)"),
    };

    SchemaNode Object(JsonElement s, string path)
    {
        if (s.TryGetProperty("additionalProperties", out var extra) && extra.ValueKind is not (JsonValueKind.False or JsonValueKind.True))
            throw Bad(path + ".additionalProperties", "only true or false is supported (the answer writes the declared properties)");
        if (!s.TryGetProperty("properties", out var properties)) return new AnyNode(objectOnly: true);
        if (properties.ValueKind != JsonValueKind.Object) throw Bad(path + ".properties", "must be an object");
        var required = new HashSet<string>();
        if (s.TryGetProperty("required", out var list))
        {
            if (list.ValueKind != JsonValueKind.Array) throw Bad(path + ".required", "must be a list of property names");
            foreach (var r in list.EnumerateArray())
                required.Add(r.ValueKind == JsonValueKind.String ? r.GetString()! : throw Bad(path + ".required", "must hold property names"));
        }
        var declared = properties.EnumerateObject().ToArray();
        if (declared.Length > MaxProperties) throw Bad(path + ".properties", $"at most {MaxProperties} properties");
        Counted(path + ".properties", declared.Select(p => JsonLiteral.Key(p.Name)).ToArray());
        foreach (string name in required)
            if (!declared.Any(p => p.Name == name)) throw Bad(path + ".required", $"'{name}' is not among the properties");
        return new ObjectNode(declared.Select(p => new ObjectNode.Property(p.Name, Node(p.Value, $"{path}.properties.{p.Name}"),
            required.Contains(p.Name))).ToArray());
    }

    byte[][] Counted(string path, byte[][] texts)
    {
        expandedBytes += texts.Sum(t => (long)t.Length);
        if (expandedBytes > MaxExpandedBytes)
            throw Bad(path, $"the schema expands to more than {MaxExpandedBytes} bytes of enum, const and property names");
        return texts;
    }

    /// <param name="least">A maximum below its minimum could never be met: the answer would have no way to end.</param>
    static int Count(JsonElement s, string keyword, string path, int absent, int least = 0)
    {
        if (!s.TryGetProperty(keyword, out var v)) return absent;
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) && n >= least ? n
            : throw Bad($"{path}.{keyword}", $"must be a whole number >= {least}");
    }

    static ArgumentException Bad(string path, string problem) => new($"{path}: {problem}", nameof(SamplingParams.OutputFormat));
}

using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Ppn.Rig.Model;

/// <summary>A position in a rig file, 1-based, for error messages.</summary>
public readonly record struct YamlMark(int Line, int Column)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Line}:{Column}");
}

/// <summary>A rig file that is not in the YAML subset we read, or does not describe a valid rig.</summary>
public sealed class RigConfigException(string source, YamlMark at, string message)
    : Exception($"{source}:{at}: {message}")
{
    public string File { get; } = source;
    public YamlMark At { get; } = at;
    public string Reason { get; } = message;
}

public abstract record YamlNode(YamlMark At);

public sealed record YamlScalar(YamlMark At, string Value) : YamlNode(At);

public sealed record YamlSequence(YamlMark At, IReadOnlyList<YamlNode> Items) : YamlNode(At);

public sealed record YamlMapping(YamlMark At, IReadOnlyList<KeyValuePair<YamlScalar, YamlNode>> Entries) : YamlNode(At)
{
    public YamlNode? Get(string key) => Entries.FirstOrDefault(e => e.Key.Value == key).Value;
}

/// <summary>
/// Rig files through YamlDotNet's parser (its event stream: no reflection, no object mapping, AOT-clean), kept to a
/// strict subset: block mappings and sequences of scalars, one document. Everything else YAML allows — tabs in
/// indentation, flow collections, anchors, aliases, tags, block scalars, complex keys, several documents, duplicate
/// keys — is refused with file:line:column, never guessed at: a rig file drives power switches. Syntax errors are
/// YamlDotNet's own message at its position.
/// </summary>
public static class RigYaml
{
    public static YamlNode Parse(string text, string source = "<rig>")
    {
        RefuseTabIndentation(text, source);
        var parser = new Parser(new StringReader(text));
        try
        {
            Expect<StreamStart>(parser, source);
            if (parser.Accept<StreamEnd>(out _))
            {
                throw new RigConfigException(source, new YamlMark(1, 1), "the file is empty");
            }
            Expect<DocumentStart>(parser, source);
            var root = ParseNode(parser, source);
            Expect<DocumentEnd>(parser, source);
            if (parser.Accept<DocumentStart>(out var second))
            {
                throw new RigConfigException(source, At(second.Start), "several YAML documents in one rig file are not supported");
            }
            Expect<StreamEnd>(parser, source);
            return root;
        }
        catch (YamlException e)
        {
            throw new RigConfigException(source, At(e.Start), Reason(e));
        }
    }

    private static YamlNode ParseNode(IParser parser, string source)
    {
        var current = parser.Current ?? throw new RigConfigException(source, new YamlMark(1, 1), "unexpected end of the file");
        if (current is AnchorAlias alias)
        {
            throw new RigConfigException(source, At(alias.Start), "anchors and aliases (*name) are not supported; write the value out");
        }
        if (current is YamlDotNet.Core.Events.NodeEvent node)
        {
            if (!node.Anchor.IsEmpty)
            {
                throw new RigConfigException(source, At(node.Start), "anchors and aliases (&name) are not supported; write the value out");
            }
            if (!node.Tag.IsEmpty)
            {
                throw new RigConfigException(source, At(node.Start), $"tags ({node.Tag}) are not supported; every value is a plain string");
            }
        }
        switch (current)
        {
            case Scalar scalar:
                if (scalar.Style is ScalarStyle.Literal or ScalarStyle.Folded)
                {
                    throw new RigConfigException(source, At(scalar.Start), "block scalars (| and >) are not supported; write the value on one line");
                }
                parser.MoveNext();
                return new YamlScalar(At(scalar.Start), scalar.Value);
            case SequenceStart sequence:
                if (sequence.Style == SequenceStyle.Flow)
                {
                    throw new RigConfigException(source, At(sequence.Start), "flow collections ([...] or {...}) are not supported; use block style");
                }
                parser.MoveNext();
                var items = new List<YamlNode>();
                while (!parser.Accept<SequenceEnd>(out _))
                {
                    items.Add(ParseNode(parser, source));
                }
                parser.MoveNext();
                return new YamlSequence(At(sequence.Start), items);
            case MappingStart mapping:
                if (mapping.Style == MappingStyle.Flow)
                {
                    throw new RigConfigException(source, At(mapping.Start), "flow collections ([...] or {...}) are not supported; use block style");
                }
                parser.MoveNext();
                var entries = new List<KeyValuePair<YamlScalar, YamlNode>>();
                var seen = new Dictionary<string, YamlMark>(StringComparer.Ordinal);
                while (!parser.Accept<MappingEnd>(out _))
                {
                    var keyEvent = parser.Current!;
                    var key = ParseNode(parser, source) as YamlScalar
                        ?? throw new RigConfigException(source, At(keyEvent.Start), "a key must be a plain string (complex '? ' keys are not supported)");
                    if (seen.TryGetValue(key.Value, out var first))
                    {
                        throw new RigConfigException(source, key.At, $"duplicate key '{key.Value}' (first at {first})");
                    }
                    seen.Add(key.Value, key.At);
                    entries.Add(new(key, ParseNode(parser, source)));
                }
                parser.MoveNext();
                return new YamlMapping(At(mapping.Start), entries);
            default:
                throw new RigConfigException(source, At(current.Start), $"unexpected {current.GetType().Name}");
        }
    }

    private static void Expect<T>(IParser parser, string source) where T : ParsingEvent
    {
        if (parser.Current is null && !parser.MoveNext())
        {
            throw new RigConfigException(source, new YamlMark(1, 1), "unexpected end of the file");
        }
        if (parser.Current is not T)
        {
            var at = parser.Current!;
            throw new RigConfigException(source, At(at.Start), $"expected {typeof(T).Name}, found {at.GetType().Name}");
        }
        parser.MoveNext();
    }

    /// <summary>YAML forbids tabs in indentation; YamlDotNet's own message for it is about tokens, so say it plainly first.</summary>
    private static void RefuseTabIndentation(string text, string source)
    {
        int line = 1;
        int column = 1;
        bool leading = true;
        foreach (char c in text)
        {
            if (c == '\n')
            {
                line++;
                column = 1;
                leading = true;
                continue;
            }
            if (leading && c == '\t')
            {
                throw new RigConfigException(source, new YamlMark(line, column), "tab in indentation; indent with spaces");
            }
            if (c != ' ')
            {
                leading = false;
            }
            column++;
        }
    }

    private static YamlMark At(Mark mark) => new((int)Math.Max(1, mark.Line), (int)Math.Max(1, mark.Column));

    /// <summary>YamlDotNet's message without its own "(Line: n, Col: m, Idx: i) - (…):" prefix: we say file:line:column.</summary>
    private static string Reason(YamlException e)
    {
        var message = e.Message;
        int close = message.IndexOf("): ", StringComparison.Ordinal);
        return message.StartsWith("(Line:", StringComparison.Ordinal) && close >= 0 ? message[(close + 3)..] : message;
    }
}

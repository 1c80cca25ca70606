using System.Globalization;
using System.Text;

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
/// The strict YAML subset rig files are written in: block mappings (<c>key: value</c>), block sequences
/// (<c>- item</c>, including <c>- key: value</c> starting a mapping), plain, 'single'- and "double"-quoted
/// scalars on one line, and <c>#</c> comments. Everything else YAML allows — tabs for indentation, flow
/// collections, anchors, aliases, tags, block scalars, several documents, duplicate keys — is refused with
/// the line and column, never guessed at: a rig file drives power switches.
/// </summary>
public static class RigYaml
{
    private sealed class Line(int number, int indent, string content)
    {
        public int Number { get; } = number;
        public int Indent { get; set; } = indent;
        public string Content { get; set; } = content;
        public YamlMark Mark => new(Number, Indent + 1);
    }

    public static YamlNode Parse(string text, string source = "<rig>")
    {
        var lines = Tokenize(text, source);
        if (lines.Count == 0)
        {
            throw new RigConfigException(source, new YamlMark(1, 1), "the file is empty");
        }
        int index = 0;
        var root = ParseBlock(lines, ref index, lines[0].Indent, source);
        if (index < lines.Count)
        {
            throw new RigConfigException(source, lines[index].Mark, "unexpected indentation (less than the block above it, or a second top-level value)");
        }
        return root;
    }

    private static List<Line> Tokenize(string text, string source)
    {
        var result = new List<Line>();
        var raw = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (int i = 0; i < raw.Length; i++)
        {
            var line = raw[i];
            int number = i + 1;
            int indent = 0;
            while (indent < line.Length && line[indent] == ' ')
            {
                indent++;
            }
            if (indent < line.Length && line[indent] == '\t')
            {
                throw new RigConfigException(source, new YamlMark(number, indent + 1), "tab in indentation; indent with spaces");
            }
            var content = StripComment(line[indent..], source, number, indent).TrimEnd();
            if (content.Length == 0)
            {
                continue;
            }
            if (indent == 0 && content == "---" && result.Count == 0)
            {
                continue; // an explicit start of the (one) document
            }
            if (indent == 0 && (content == "---" || content == "..."))
            {
                throw new RigConfigException(source, new YamlMark(number, 1), "several YAML documents in one rig file are not supported");
            }
            result.Add(new Line(number, indent, content));
        }
        return result;
    }

    /// <summary>Removes a # comment (at the start, or after a space, outside quotes).</summary>
    private static string StripComment(string content, string source, int number, int indent)
    {
        char quote = '\0';
        for (int i = 0; i < content.Length; i++)
        {
            char c = content[i];
            if (quote != '\0')
            {
                if (c == '\\' && quote == '"')
                {
                    i++;
                }
                else if (c == quote)
                {
                    quote = '\0';
                }
                continue;
            }
            if ((c == '"' || c == '\'') && (i == 0 || content[i - 1] is ' ' or ':' or '-'))
            {
                quote = c;
            }
            else if (c == '#' && (i == 0 || content[i - 1] == ' '))
            {
                return content[..i];
            }
        }
        if (quote != '\0')
        {
            throw new RigConfigException(source, new YamlMark(number, indent + 1), $"unterminated {quote}quoted{quote} scalar");
        }
        return content;
    }

    private static YamlNode ParseBlock(List<Line> lines, ref int index, int indent, string source)
    {
        var line = lines[index];
        return IsSequenceItem(line.Content)
            ? ParseSequence(lines, ref index, indent, source)
            : ParseMapping(lines, ref index, indent, source);
    }

    private static bool IsSequenceItem(string content) => content == "-" || content.StartsWith("- ", StringComparison.Ordinal);

    private static YamlSequence ParseSequence(List<Line> lines, ref int index, int indent, string source)
    {
        var at = lines[index].Mark;
        var items = new List<YamlNode>();
        while (index < lines.Count && lines[index].Indent == indent && IsSequenceItem(lines[index].Content))
        {
            var line = lines[index];
            var rest = line.Content.Length == 1 ? "" : line.Content[2..];
            int offset = 2;
            while (rest.StartsWith(' '))
            {
                rest = rest[1..];
                offset++;
            }
            if (rest.Length == 0)
            {
                index++;
                if (index >= lines.Count || lines[index].Indent <= indent)
                {
                    throw new RigConfigException(source, line.Mark, "empty sequence item; write a value after '- '");
                }
                items.Add(ParseBlock(lines, ref index, lines[index].Indent, source));
            }
            else if (IsSequenceItem(rest))
            {
                throw new RigConfigException(source, new YamlMark(line.Number, line.Indent + offset + 1), "nested sequences on one line are not supported");
            }
            else if (FindKeySeparator(rest) >= 0)
            {
                // "- key: value": a mapping whose keys are aligned with this first key.
                line.Indent += offset;
                line.Content = rest;
                items.Add(ParseMapping(lines, ref index, line.Indent, source));
            }
            else
            {
                items.Add(Scalar(rest, new YamlMark(line.Number, line.Indent + offset + 1), source));
                index++;
            }
        }
        if (index < lines.Count && lines[index].Indent > indent)
        {
            throw new RigConfigException(source, lines[index].Mark, "unexpected indentation inside a sequence");
        }
        return new YamlSequence(at, items);
    }

    private static YamlMapping ParseMapping(List<Line> lines, ref int index, int indent, string source)
    {
        var at = lines[index].Mark;
        var entries = new List<KeyValuePair<YamlScalar, YamlNode>>();
        var seen = new Dictionary<string, YamlMark>(StringComparer.Ordinal);
        while (index < lines.Count && lines[index].Indent == indent)
        {
            var line = lines[index];
            if (IsSequenceItem(line.Content))
            {
                throw new RigConfigException(source, line.Mark, "a sequence item where a 'key: value' was expected");
            }
            int colon = FindKeySeparator(line.Content);
            if (colon < 0)
            {
                throw new RigConfigException(source, line.Mark, $"expected 'key: value', found '{line.Content}'");
            }
            var key = Scalar(line.Content[..colon].TrimEnd(), line.Mark, source);
            if (key.Value.Length == 0)
            {
                throw new RigConfigException(source, line.Mark, "empty key");
            }
            if (seen.TryGetValue(key.Value, out var first))
            {
                throw new RigConfigException(source, line.Mark, $"duplicate key '{key.Value}' (first at {first})");
            }
            seen[key.Value] = line.Mark;
            var valueText = line.Content[(colon + 1)..];
            int valueColumn = line.Indent + colon + 2;
            while (valueText.StartsWith(' '))
            {
                valueText = valueText[1..];
                valueColumn++;
            }
            index++;
            YamlNode value;
            if (valueText.Length > 0)
            {
                value = Scalar(valueText, new YamlMark(line.Number, valueColumn), source);
            }
            else if (index < lines.Count && lines[index].Indent > indent)
            {
                value = ParseBlock(lines, ref index, lines[index].Indent, source);
            }
            else if (index < lines.Count && lines[index].Indent == indent && IsSequenceItem(lines[index].Content))
            {
                value = ParseSequence(lines, ref index, indent, source); // "key:\n- a": YAML allows the items at the key's indent
            }
            else
            {
                value = new YamlScalar(new YamlMark(line.Number, valueColumn), "");
            }
            entries.Add(new(key, value));
        }
        if (index < lines.Count && lines[index].Indent > indent)
        {
            throw new RigConfigException(source, lines[index].Mark, "unexpected indentation");
        }
        return new YamlMapping(at, entries);
    }

    /// <summary>Index of the ':' that ends a key (followed by a space or the end of the line), outside quotes; -1 if none.</summary>
    private static int FindKeySeparator(string content)
    {
        char quote = '\0';
        for (int i = 0; i < content.Length; i++)
        {
            char c = content[i];
            if (quote != '\0')
            {
                if (c == '\\' && quote == '"')
                {
                    i++;
                }
                else if (c == quote)
                {
                    quote = '\0';
                }
                continue;
            }
            if (i == 0 && (c == '"' || c == '\''))
            {
                quote = c;
            }
            else if (c == ':' && (i + 1 == content.Length || content[i + 1] == ' '))
            {
                return i;
            }
        }
        return -1;
    }

    private static YamlScalar Scalar(string text, YamlMark at, string source)
    {
        if (text.Length == 0)
        {
            return new YamlScalar(at, "");
        }
        char first = text[0];
        switch (first)
        {
            case '[' or '{':
                throw new RigConfigException(source, at, "flow collections ([...] or {...}) are not supported; use block style");
            case '&' or '*':
                throw new RigConfigException(source, at, "anchors and aliases are not supported");
            case '!':
                throw new RigConfigException(source, at, "tags are not supported");
            case '|' or '>':
                throw new RigConfigException(source, at, "block scalars (| or >) are not supported; keep the value on one line");
            case '@' or '`' or '%':
                throw new RigConfigException(source, at, $"a plain scalar cannot start with '{first}'; quote it");
            case '\'':
                return new YamlScalar(at, SingleQuoted(text, at, source));
            case '"':
                return new YamlScalar(at, DoubleQuoted(text, at, source));
        }
        if (FindKeySeparator(text) >= 0)
        {
            throw new RigConfigException(source, at, "a nested 'key: value' on the same line is not supported; put it on its own line, indented");
        }
        return new YamlScalar(at, text);
    }

    private static string SingleQuoted(string text, YamlMark at, string source)
    {
        var value = new StringBuilder();
        for (int i = 1; i < text.Length; i++)
        {
            if (text[i] == '\'')
            {
                if (i + 1 < text.Length && text[i + 1] == '\'')
                {
                    value.Append('\'');
                    i++;
                    continue;
                }
                RequireEnd(text, i, at, source);
                return value.ToString();
            }
            value.Append(text[i]);
        }
        throw new RigConfigException(source, at, "unterminated 'single-quoted' scalar");
    }

    private static string DoubleQuoted(string text, YamlMark at, string source)
    {
        var value = new StringBuilder();
        for (int i = 1; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '"')
            {
                RequireEnd(text, i, at, source);
                return value.ToString();
            }
            if (c == '\\')
            {
                if (++i >= text.Length)
                {
                    break;
                }
                value.Append(text[i] switch
                {
                    '"' => '"',
                    '\\' => '\\',
                    '/' => '/',
                    'n' => '\n',
                    't' => '\t',
                    '0' => '\0',
                    _ => throw new RigConfigException(source, new YamlMark(at.Line, at.Column + i), $"unsupported escape '\\{text[i]}' (supported: \\\" \\\\ \\/ \\n \\t \\0)"),
                });
                continue;
            }
            value.Append(c);
        }
        throw new RigConfigException(source, at, "unterminated \"double-quoted\" scalar");
    }

    private static void RequireEnd(string text, int closing, YamlMark at, string source)
    {
        if (closing + 1 != text.Length)
        {
            throw new RigConfigException(source, new YamlMark(at.Line, at.Column + closing + 1), "text after the closing quote");
        }
    }
}

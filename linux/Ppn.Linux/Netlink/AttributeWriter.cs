using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Ppn.Linux.Netlink;

/// <summary>
/// Builds one netlink message in one growable buffer: the header, a family header, then type-length-value
/// attributes (struct nlattr, 4-byte aligned) with nesting. The buffer may hold secrets (WireGuard private
/// keys): <see cref="Dispose"/> zeroes it.
/// </summary>
public sealed class NetlinkMessageWriter : IDisposable
{
    private byte[] _buffer;
    private int _length;

    public NetlinkMessageWriter(ushort type, ushort flags, int capacity = 512)
    {
        _buffer = new byte[Math.Max(capacity, NetlinkHeader.Size)];
        new NetlinkHeader(0, type, flags, 0, 0).WriteTo(_buffer);
        _length = NetlinkHeader.Size;
    }

    public int Length => _length;
    public ushort Flags => BinaryPrimitives.ReadUInt16LittleEndian(_buffer.AsSpan(6));

    /// <summary>The finished message with nlmsg_len filled in.</summary>
    public ReadOnlySpan<byte> Message
    {
        get
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)_length);
            return _buffer.AsSpan(0, _length);
        }
    }

    public void SetSequence(uint sequence) => BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(8), sequence);

    /// <summary>Raw bytes (a family header such as genlmsghdr or ifinfomsg), padded to 4 bytes.</summary>
    public Span<byte> Reserve(int length)
    {
        int padded = NetlinkConstants.Align(length);
        Grow(padded);
        var span = _buffer.AsSpan(_length, length);
        span.Clear();
        _buffer.AsSpan(_length + length, padded - length).Clear();
        _length += padded;
        return span;
    }

    public void Bytes(ushort type, ReadOnlySpan<byte> value) => value.CopyTo(Attribute(type, value.Length));

    public void U8(ushort type, byte value) => Attribute(type, 1)[0] = value;

    public void U16(ushort type, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Attribute(type, 2), value);

    public void U32(ushort type, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Attribute(type, 4), value);

    public void U64(ushort type, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Attribute(type, 8), value);

    /// <summary>A NUL-terminated string (NLA_NUL_STRING / NLA_STRING).</summary>
    public void String(ushort type, string value)
    {
        var span = Attribute(type, Encoding.UTF8.GetByteCount(value) + 1);
        Encoding.UTF8.GetBytes(value, span);
        span[^1] = 0;
    }

    /// <summary>Starts a nested attribute (NLA_F_NESTED set); close it with <see cref="EndNested"/>.</summary>
    public int BeginNested(ushort type)
    {
        int start = _length;
        Attribute((ushort)(type | NetlinkConstants.NLA_F_NESTED), 0);
        return start;
    }

    public void EndNested(int start) =>
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(start), checked((ushort)(_length - start)));

    /// <summary>Reserves an attribute of <paramref name="length"/> value bytes and returns the value span.</summary>
    public Span<byte> Attribute(ushort type, int length)
    {
        int total = 4 + length;
        if (total > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"netlink attribute {type} of {length} bytes exceeds nla_len");
        }
        int padded = NetlinkConstants.Align(total);
        Grow(padded);
        var attr = _buffer.AsSpan(_length, padded);
        attr.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(attr, (ushort)total);
        BinaryPrimitives.WriteUInt16LittleEndian(attr[2..], type);
        _length += padded;
        return attr.Slice(4, length);
    }

    private void Grow(int extra)
    {
        if (_length + extra <= _buffer.Length)
        {
            return;
        }
        var bigger = new byte[Math.Max(_buffer.Length * 2, _length + extra)];
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        CryptographicOperations.ZeroMemory(_buffer);
        _buffer = bigger;
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_buffer);
        _length = 0;
    }
}

/// <summary>Walks type-length-value attributes. Never throws: a malformed attribute ends the walk and sets <see cref="Malformed"/>.</summary>
public ref struct AttributeReader
{
    private ReadOnlySpan<byte> _rest;

    public AttributeReader(ReadOnlySpan<byte> attributes) => _rest = attributes;

    public bool Malformed { get; private set; }

    /// <summary>The next attribute; <paramref name="type"/> has NLA_F_NESTED and NLA_F_NET_BYTEORDER masked off.</summary>
    public bool TryNext(out ushort type, out ReadOnlySpan<byte> value)
    {
        type = 0;
        value = default;
        if (_rest.Length < 4)
        {
            Malformed = !_rest.IsEmpty;
            return false;
        }
        int length = BinaryPrimitives.ReadUInt16LittleEndian(_rest);
        if (length < 4 || length > _rest.Length)
        {
            Malformed = true;
            return false;
        }
        type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(_rest[2..]) & NetlinkConstants.NLA_TYPE_MASK);
        value = _rest[4..length];
        _rest = _rest[Math.Min(NetlinkConstants.Align(length), _rest.Length)..];
        return true;
    }
}

/// <summary>Reads attribute values of fixed size without throwing on short input.</summary>
public static class AttributeValue
{
    public static bool TryU8(ReadOnlySpan<byte> value, out byte result)
    {
        result = value.Length >= 1 ? value[0] : (byte)0;
        return value.Length >= 1;
    }

    public static bool TryU16(ReadOnlySpan<byte> value, out ushort result)
    {
        result = value.Length >= 2 ? BinaryPrimitives.ReadUInt16LittleEndian(value) : (ushort)0;
        return value.Length >= 2;
    }

    public static bool TryU32(ReadOnlySpan<byte> value, out uint result)
    {
        result = value.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(value) : 0;
        return value.Length >= 4;
    }

    public static bool TryU64(ReadOnlySpan<byte> value, out ulong result)
    {
        result = value.Length >= 8 ? BinaryPrimitives.ReadUInt64LittleEndian(value) : 0;
        return value.Length >= 8;
    }

    /// <summary>A NUL-terminated (or unterminated) string attribute.</summary>
    public static string String(ReadOnlySpan<byte> value)
    {
        int nul = value.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul < 0 ? value : value[..nul]);
    }
}

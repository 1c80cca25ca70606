using System.Security.Cryptography;
using Geralt;

namespace Ppn.Genesis.Noise;

public enum NoiseRole { Initiator, Responder }

/// <summary>
/// The Noise_IK_25519_ChaChaPoly_BLAKE2b handshake (Noise spec §7.5):
/// <code>
///   &lt;- s
///   ...
///   -> e, es, s, ss
///   &lt;- e, ee, se
/// </code>
/// In genesis the node is always the initiator and knows the authority's static key from its image; the
/// authority (registrar or claim client) is the responder and learns the node's key from message 1.
/// Each method may be called once, in order; anything out of order or unauthenticated returns false and
/// leaves the handshake failed for good. Dispose zeroes every secret.
/// </summary>
public sealed class NoiseIK : IDisposable
{
    public const int KeySize = 32;
    public const int MaxMessage = 65535;
    public static ReadOnlySpan<byte> ProtocolName => "Noise_IK_25519_ChaChaPoly_BLAKE2b"u8;
    /// <summary>Message 1 without payload: e (32) + encrypted s (32+16) + payload tag (16).</summary>
    public const int Message1Overhead = 32 + 48 + 16;
    /// <summary>Message 2 without payload: e (32) + payload tag (16).</summary>
    public const int Message2Overhead = 32 + 16;

    private readonly NoiseRole _role;
    private readonly NoiseSymmetricState _state = new(ProtocolName);
    private readonly byte[] _s = GC.AllocateArray<byte>(KeySize, pinned: true);
    private readonly byte[] _sPublic = new byte[KeySize];
    private readonly byte[] _e = GC.AllocateArray<byte>(KeySize, pinned: true);
    private readonly byte[] _ePublic = new byte[KeySize];
    private readonly byte[] _rs = new byte[KeySize];
    private readonly byte[] _re = new byte[KeySize];
    private bool _hasRemoteStatic;
    private int _step;
    private bool _failed;
    private readonly byte[]? _fixedEphemeral;

    private NoiseIK(NoiseRole role, ReadOnlySpan<byte> staticPrivate, ReadOnlySpan<byte> remoteStatic, ReadOnlySpan<byte> prologue, byte[]? fixedEphemeral)
    {
        _role = role;
        staticPrivate[..KeySize].CopyTo(_s);
        X25519.ComputePublicKey(_sPublic, _s);
        _fixedEphemeral = fixedEphemeral;
        _state.MixHash(prologue);
        if (role == NoiseRole.Initiator)
        {
            remoteStatic[..KeySize].CopyTo(_rs);
            _hasRemoteStatic = true;
            _state.MixHash(_rs);
        }
        else
        {
            _state.MixHash(_sPublic);
        }
    }

    /// <summary>The node's side: knows the authority's static key before it starts.</summary>
    public static NoiseIK Initiator(ReadOnlySpan<byte> staticPrivate, ReadOnlySpan<byte> responderStatic, ReadOnlySpan<byte> prologue)
        => new(NoiseRole.Initiator, staticPrivate, responderStatic, prologue, null);

    /// <summary>The authority's side.</summary>
    public static NoiseIK Responder(ReadOnlySpan<byte> staticPrivate, ReadOnlySpan<byte> prologue)
        => new(NoiseRole.Responder, staticPrivate, default, prologue, null);

    /// <summary>Test vectors only: a fixed ephemeral private key instead of a fresh random one.</summary>
    internal static NoiseIK WithFixedEphemeral(NoiseRole role, ReadOnlySpan<byte> staticPrivate, ReadOnlySpan<byte> remoteStatic, ReadOnlySpan<byte> prologue, ReadOnlySpan<byte> ephemeral)
        => new(role, staticPrivate, remoteStatic, prologue, ephemeral.ToArray());

    public NoiseRole Role => _role;
    public bool IsComplete => _step == 2 && !_failed;
    public ReadOnlySpan<byte> HandshakeHash => _state.HandshakeHash;
    public ReadOnlySpan<byte> LocalStaticPublicKey => _sPublic;

    /// <summary>The peer's static public key: known from the start (initiator) or after message 1 (responder).</summary>
    public ReadOnlySpan<byte> RemoteStaticPublicKey => _hasRemoteStatic ? _rs : ReadOnlySpan<byte>.Empty;

    /// <summary>Initiator: -> e, es, s, ss, payload. Returns the message length.</summary>
    public int WriteMessage1(ReadOnlySpan<byte> payload, Span<byte> message)
    {
        Expect(NoiseRole.Initiator, 0);
        if (message.Length < Message1Overhead + payload.Length || Message1Overhead + payload.Length > MaxMessage) throw new ArgumentException("message buffer too small or payload too large");
        NewEphemeral();
        _ePublic.CopyTo(message);
        _state.MixHash(_ePublic);
        if (!MixDh(_e, _rs)) return Fail();
        int at = KeySize;
        at += _state.EncryptAndHash(_sPublic, message[at..]);
        if (!MixDh(_s, _rs)) return Fail();
        at += _state.EncryptAndHash(payload, message[at..]);
        _step = 1;
        return at;
    }

    /// <summary>Responder: reads message 1; false when it is malformed or does not authenticate.</summary>
    public bool TryReadMessage1(ReadOnlySpan<byte> message, Span<byte> payload, out int payloadLength)
    {
        payloadLength = 0;
        if (_failed || _role != NoiseRole.Responder || _step != 0 || message.Length < Message1Overhead || message.Length > MaxMessage) return FailBool();
        message[..KeySize].CopyTo(_re);
        _state.MixHash(_re);
        if (!MixDh(_s, _re)) return FailBool();
        if (!_state.TryDecryptAndHash(message.Slice(KeySize, 48), _rs, out _)) return FailBool();
        _hasRemoteStatic = true;
        if (!MixDh(_s, _rs)) return FailBool();
        if (!_state.TryDecryptAndHash(message[(KeySize + 48)..], payload, out payloadLength)) return FailBool();
        _step = 1;
        return true;
    }

    /// <summary>Responder: &lt;- e, ee, se, payload. Returns the message length; the handshake is then complete.</summary>
    public int WriteMessage2(ReadOnlySpan<byte> payload, Span<byte> message)
    {
        Expect(NoiseRole.Responder, 1);
        if (message.Length < Message2Overhead + payload.Length || Message2Overhead + payload.Length > MaxMessage) throw new ArgumentException("message buffer too small or payload too large");
        NewEphemeral();
        _ePublic.CopyTo(message);
        _state.MixHash(_ePublic);
        if (!MixDh(_e, _re)) return Fail();
        if (!MixDh(_e, _rs)) return Fail();
        int at = KeySize + _state.EncryptAndHash(payload, message[KeySize..]);
        _step = 2;
        return at;
    }

    /// <summary>Initiator: reads message 2; false unless it comes from the holder of the responder's static key.</summary>
    public bool TryReadMessage2(ReadOnlySpan<byte> message, Span<byte> payload, out int payloadLength)
    {
        payloadLength = 0;
        if (_failed || _role != NoiseRole.Initiator || _step != 1 || message.Length < Message2Overhead || message.Length > MaxMessage) return FailBool();
        message[..KeySize].CopyTo(_re);
        _state.MixHash(_re);
        if (!MixDh(_e, _re)) return FailBool();
        if (!MixDh(_s, _re)) return FailBool();
        if (!_state.TryDecryptAndHash(message[KeySize..], payload, out payloadLength)) return FailBool();
        _step = 2;
        return true;
    }

    /// <summary>The transport ciphers (send, receive) for this side; only after a complete handshake.</summary>
    public NoiseTransport Split()
    {
        if (!IsComplete) throw new InvalidOperationException("the Noise handshake is not complete");
        var (c1, c2) = _state.Split();
        return _role == NoiseRole.Initiator ? new NoiseTransport(c1, c2) : new NoiseTransport(c2, c1);
    }

    private void NewEphemeral()
    {
        if (_fixedEphemeral is not null)
        {
            _fixedEphemeral.CopyTo(_e, 0);
            CryptographicOperations.ZeroMemory(_fixedEphemeral);
            X25519.ComputePublicKey(_ePublic, _e);
        }
        else
        {
            X25519.GenerateKeyPair(_ePublic, _e);
        }
    }

    private bool MixDh(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> publicKey)
    {
        Span<byte> shared = stackalloc byte[KeySize];
        try
        {
            // libsodium refuses low-order points (an all-zero result): the handshake fails, as the spec allows.
            X25519.ComputeSharedSecret(shared, privateKey, publicKey);
        }
        catch (CryptographicException)
        {
            return false;
        }
        _state.MixKey(shared);
        CryptographicOperations.ZeroMemory(shared);
        return true;
    }

    private void Expect(NoiseRole role, int step)
    {
        if (_failed || _role != role || _step != step) throw new InvalidOperationException($"Noise IK: {role} step {step} is not next");
    }

    private int Fail()
    {
        _failed = true;
        throw new CryptographicException("Noise IK: Diffie-Hellman with the peer key failed (low-order point)");
    }

    private bool FailBool()
    {
        _failed = true;
        return false;
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_s);
        CryptographicOperations.ZeroMemory(_e);
        if (_fixedEphemeral is not null) CryptographicOperations.ZeroMemory(_fixedEphemeral);
        _state.Dispose();
    }
}

/// <summary>Post-handshake CipherStates of one side.</summary>
public sealed class NoiseTransport : IDisposable
{
    internal NoiseTransport(NoiseCipherState send, NoiseCipherState receive)
    {
        Send = send;
        Receive = receive;
    }

    public NoiseCipherState Send { get; }
    public NoiseCipherState Receive { get; }

    public int Encrypt(ReadOnlySpan<byte> plaintext, Span<byte> output) => Send.EncryptWithAd(default, plaintext, output);

    public bool TryDecrypt(ReadOnlySpan<byte> ciphertext, Span<byte> output, out int written) => Receive.TryDecryptWithAd(default, ciphertext, output, out written);

    public void Dispose()
    {
        Send.Dispose();
        Receive.Dispose();
    }
}

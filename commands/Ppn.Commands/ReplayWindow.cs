namespace Ppn.Commands;

/// <summary>
/// Sliding anti-replay window over 32-bit counters (RFC 6479 §2: a ring of 64-bit words, the word ahead of the
/// highest counter cleared as the window slides, so advancing costs at most one pass over the ring). A counter is
/// fresh when it is above the highest seen, or within <see cref="Size"/> below it and not yet marked.
/// Counter 0 is never fresh (it is at or below every floor). Check with <see cref="IsFresh"/>, and call
/// <see cref="MarkSeen"/> only after the tag verified and the floor was persisted.
/// </summary>
public sealed class ReplayWindow
{
    private const int RingWords = 16;
    private const int RingMask = RingWords - 1;
    /// <summary>How far below the highest accepted counter a late, unseen counter is still accepted.</summary>
    public const int Size = (RingWords - 1) * 64;

    private readonly ulong[] _ring = new ulong[RingWords];
    private ulong _highest;

    public uint Highest => (uint)_highest;

    public bool IsFresh(uint counter)
    {
        if (counter == 0) return false;
        if (counter > _highest) return true;
        if (_highest - counter >= Size) return false;
        return (_ring[(counter >> 6) & RingMask] & (1UL << (int)(counter & 63))) == 0;
    }

    public void MarkSeen(uint counter)
    {
        if (counter > _highest)
        {
            ulong currentWord = _highest >> 6;
            ulong newWord = (ulong)counter >> 6;
            ulong advance = Math.Min(newWord - currentWord, RingWords);
            for (ulong i = 1; i <= advance; i++)
            {
                _ring[(int)((currentWord + i) & RingMask)] = 0;
            }
            _highest = counter;
        }
        _ring[(counter >> 6) & RingMask] |= 1UL << (int)(counter & 63);
    }

    public void Reset()
    {
        Array.Clear(_ring);
        _highest = 0;
    }
}

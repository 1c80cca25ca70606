/* The command tag as ppn's verifier computes it (commands/Ppn.Commands/CommandTagState.cs, docs/performance.md),
 * written in C for make bench's baselines: keyed BLAKE2b-256 (RFC 7693) of the 8 header bytes under a 32-byte
 * key, from the chaining value after the key block. tag_state_init compresses the zero-padded key once
 * (counter 128); tag_state_tag compresses the one block (header, 0, ..., 0) with counter 136 and the final
 * flag and returns h[0]: the 8 tag bytes read little-endian. Plain C, -O2; gcc unrolls the rounds and folds the
 * zero message words, as the C# is written out by hand. Checked against libsodium by the bench before it is timed. */
#ifndef PPN_BLAKE2B_STATE_TAG_H
#define PPN_BLAKE2B_STATE_TAG_H
#include <stdint.h>
#include <string.h>

static const uint64_t tag_iv[8] = {0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
                                   0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
                                   0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};
static const uint8_t tag_sigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

#define TAG_ROTR(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define TAG_G(r, i, a, b, c, d)                                                                                        \
  do {                                                                                                                 \
    a += b + m[tag_sigma[r][2 * i]];                                                                                   \
    d = TAG_ROTR(d ^ a, 32);                                                                                           \
    c += d;                                                                                                            \
    b = TAG_ROTR(b ^ c, 24);                                                                                           \
    a += b + m[tag_sigma[r][2 * i + 1]];                                                                               \
    d = TAG_ROTR(d ^ a, 16);                                                                                           \
    c += d;                                                                                                            \
    b = TAG_ROTR(b ^ c, 63);                                                                                           \
  } while (0)
#define TAG_ROUND(r)                                                                                                   \
  do {                                                                                                                 \
    TAG_G(r, 0, v0, v4, v8, v12);                                                                                      \
    TAG_G(r, 1, v1, v5, v9, v13);                                                                                      \
    TAG_G(r, 2, v2, v6, v10, v14);                                                                                     \
    TAG_G(r, 3, v3, v7, v11, v15);                                                                                     \
    TAG_G(r, 4, v0, v5, v10, v15);                                                                                     \
    TAG_G(r, 5, v1, v6, v11, v12);                                                                                     \
    TAG_G(r, 6, v2, v7, v8, v13);                                                                                      \
    TAG_G(r, 7, v3, v4, v9, v14);                                                                                      \
  } while (0)

/* The 16 working words as scalars, so gcc keeps them in registers (an array of them stayed partly on the stack). */
static inline __attribute__((always_inline)) void tag_compress(uint64_t h[8], const uint64_t m[16], uint64_t t,
                                                               int last) {
  uint64_t v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3], v4 = h[4], v5 = h[5], v6 = h[6], v7 = h[7];
  uint64_t v8 = tag_iv[0], v9 = tag_iv[1], v10 = tag_iv[2], v11 = tag_iv[3], v12 = tag_iv[4] ^ t, v13 = tag_iv[5],
           v14 = last ? ~tag_iv[6] : tag_iv[6], v15 = tag_iv[7];
  TAG_ROUND(0); TAG_ROUND(1); TAG_ROUND(2); TAG_ROUND(3); TAG_ROUND(4); TAG_ROUND(5);
  TAG_ROUND(6); TAG_ROUND(7); TAG_ROUND(8); TAG_ROUND(9); TAG_ROUND(10); TAG_ROUND(11);
  h[0] ^= v0 ^ v8; h[1] ^= v1 ^ v9; h[2] ^= v2 ^ v10; h[3] ^= v3 ^ v11;
  h[4] ^= v4 ^ v12; h[5] ^= v5 ^ v13; h[6] ^= v6 ^ v14; h[7] ^= v7 ^ v15;
}

static void tag_state_init(uint64_t h[8], const unsigned char key[32]) {
  uint64_t m[16] = {0};
  memcpy(m, key, 32); /* little-endian words on x86-64 */
  for (int i = 0; i < 8; i++) h[i] = tag_iv[i];
  h[0] ^= 0x01010000ULL ^ (32ULL << 8) ^ 32ULL;
  tag_compress(h, m, 128, 0);
}

static inline uint64_t tag_state_tag(const uint64_t state[8], uint64_t header) {
  uint64_t h[8], m[16] = {header};
  memcpy(h, state, sizeof h);
  tag_compress(h, m, 136, 1);
  return h[0];
}
#endif

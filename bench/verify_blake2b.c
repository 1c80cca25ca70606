/* Baseline for `make bench`: what one command tag costs in C — libsodium's keyed BLAKE2b-256 over the 8
 * authenticated bytes (crypto_generichash, as CommandKeyring.TagMatches calls it), then the 8-byte compare a
 * verifier does, linked against the libsodium.so ppn ships. The prototypes are libsodium's stable public API
 * (sodium/crypto_generichash.h); no headers are needed.
 *
 * Built as a shared library: the bench loads it into its own process and calls verify_blake2b_loop on the same
 * thread, pinned to the same CPU, in chunks interleaved with its own, so both sides see the same CPU, caches and
 * libsodium instance (docs/performance.md). verify_state_loop is the same check done the way ppn's verifier does
 * it, one compression from the key's state (blake2b_state_tag.h): what C reaches doing our work. */
#include <time.h>

#include "blake2b_state_tag.h"

int sodium_init(void);
int crypto_generichash(unsigned char *out, size_t outlen, const unsigned char *in, unsigned long long inlen,
                       const unsigned char *key, size_t keylen);
int sodium_memcmp(const void *b1, const void *b2, size_t len);

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* n tags of one 16-byte datagram whose tag does not match; returns ns per tag, or -1 if libsodium failed to start
 * or the forged tag matched. */
double verify_blake2b_loop(long n) {
  if (sodium_init() < 0) return -1;
  unsigned char key[32], packet[16] = {0x10, 0x00, 0x00, 0x2a, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8}, tag[32];
  for (int i = 0; i < 32; i++) key[i] = (unsigned char)(i * 7 + 1);
  volatile int equal = 0;
  long long start = now_ns();
  for (long i = 0; i < n; i++) {
    crypto_generichash(tag, 32, packet, 8, key, 32);
    equal += sodium_memcmp(tag, packet + 8, 8) == 0; /* the compare a verifier does */
  }
  long long ns = now_ns() - start;
  return equal == 0 ? (double)ns / n : -1;
}

/* The same n checks with the tag from the key's state; -1 if that tag disagrees with libsodium's or a forged tag
 * matched. */
double verify_state_loop(long n) {
  if (sodium_init() < 0) return -1;
  unsigned char key[32], packet[16] = {0x10, 0x00, 0x00, 0x2a, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8}, full[32];
  for (int i = 0; i < 32; i++) key[i] = (unsigned char)(i * 7 + 1);
  uint64_t state[8], header, expected;
  tag_state_init(state, key);
  memcpy(&header, packet, 8);
  memcpy(&expected, packet + 8, 8);
  crypto_generichash(full, 32, packet, 8, key, 32);
  uint64_t reference;
  memcpy(&reference, full, 8);
  if (tag_state_tag(state, header) != reference) return -1;
  volatile uint64_t words = header;
  volatile int equal = 0;
  long long start = now_ns();
  for (long i = 0; i < n; i++) equal += (tag_state_tag(state, words) ^ expected) == 0; /* the 64-bit compare ppn does */
  long long ns = now_ns() - start;
  return equal == 0 ? (double)ns / n : -1;
}

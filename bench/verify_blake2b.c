/* Baseline for `make bench`: what one command tag costs in C — libsodium's keyed BLAKE2b-256 over the 8
 * authenticated bytes (crypto_generichash, as CommandKeyring.ComputeTag calls it through Geralt), linked against
 * the libsodium.so ppn ships. The prototypes are libsodium's stable public API (sodium/crypto_generichash.h);
 * no headers are needed. Usage: verify_blake2b N   prints "ns_per_op X". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int sodium_init(void);
int crypto_generichash(unsigned char *out, size_t outlen, const unsigned char *in, unsigned long long inlen,
                       const unsigned char *key, size_t keylen);
int sodium_memcmp(const void *b1, const void *b2, size_t len);

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 500000;
  if (sodium_init() < 0) return 1;
  unsigned char key[32], packet[16] = {0x10, 0x00, 0x00, 0x2a, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8}, tag[32];
  for (int i = 0; i < 32; i++) key[i] = (unsigned char)(i * 7 + 1);
  volatile int equal = 0;
  for (long i = 0; i < 20000; i++) crypto_generichash(tag, 32, packet, 8, key, 32);
  long long start = now_ns();
  for (long i = 0; i < n; i++) {
    crypto_generichash(tag, 32, packet, 8, key, 32);
    equal += sodium_memcmp(tag, packet + 8, 8) == 0; /* the compare a verifier does */
  }
  long long ns = now_ns() - start;
  printf("ns_per_op %.2f\n", (double)ns / n);
  return equal == 0 ? 0 : 1;
}

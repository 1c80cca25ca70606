/* Baseline for `make bench`: the least a UDP intake can do on this kernel — drain a socket with recvmmsg(2),
 * 64 datagrams per call, and count. Same SO_RCVBUF request and batch size as the ppn command listener.
 * Usage: recvmmsg_drain [--cpu N] [--rcvbuf BYTES] [--rounds R]
 * Prints "port N" once bound, then waits for one line on stdin: the receive buffer is being filled meanwhile
 * (by sendmmsg_sender). With --rounds R it does that R times on the same socket (one result line each): a fill that
 * overflowed leaves the socket's drop count above zero, so the next round drains datagrams that carry it. Compiled with -DVERIFY it does the work ppn's listener does per datagram: it computes each
 * datagram's command tag — keyed BLAKE2b-256 over bytes 0-7, compared with bytes 8-15, one compression from the
 * key's state as ppn's verifier does it (blake2b_state_tag.h) — and has
 * SO_RXQ_OVFL on from before bind, with a control buffer for the first message of each batch and the walk over it,
 * as the listener has them. (The kernel stamps a datagram with the socket's drop count when it is queued, and
 * attaches it only when that count is not zero: in a first round the datagrams queued before the fill overflowed
 * carry none; in later rounds every one does, and the batch's first message gets it.)
 * Then it drains the queue until it is empty and prints
 * "received R ns T cpu_ns C drops D": datagrams, wall time and this thread's CPU time from the first receive
 * call to the empty queue, and the socket's drop count (SO_MEMINFO) at the start; the -DVERIFY build appends
 * "authentic A kernel_drops K" (tags that matched, the last drop count a datagram carried). Loopback only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#ifdef VERIFY
#include "blake2b_state_tag.h"
#endif

#define BATCH 64
#define SLOT 32

static long long clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  int cpu = -1, rcvbuf = 4 << 20, rounds = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--cpu")) cpu = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--rcvbuf")) rcvbuf = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
    else { fprintf(stderr, "recvmmsg_drain: unknown option %s\n", argv[i]); return 2; }
  }
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) { perror("recvmmsg_drain: sched_setaffinity"); return 1; }
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) { perror("recvmmsg_drain: socket"); return 1; }
#ifdef VERIFY
  int on = 1; /* before bind, as the listener does: the kernel records a drop count only while the flag is on */
  if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on) != 0) { perror("recvmmsg_drain: SO_RXQ_OVFL"); return 1; }
#endif
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("recvmmsg_drain: bind"); return 1; }
  socklen_t len = sizeof addr;
  getsockname(fd, (struct sockaddr *)&addr, &len);
  printf("port %d\n", ntohs(addr.sin_port));
  fflush(stdout);

#ifdef VERIFY
  unsigned char key[32];
  for (int i = 0; i < 32; i++) key[i] = (unsigned char)(i * 7 + 1);
  uint64_t state[8];
  tag_state_init(state, key);
#endif
#ifdef VERIFY
  /* the first message's (aligned for struct cmsghdr, as CMSG_FIRSTHDR requires) */
  static union { char bytes[CMSG_SPACE(sizeof(unsigned int))]; struct cmsghdr align; } control;
#endif
  static char buffers[BATCH][SLOT];
  static struct sockaddr_in6 names[BATCH];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = buffers[i];
    iov[i].iov_len = SLOT;
    msgs[i].msg_hdr = (struct msghdr){.msg_name = &names[i], .msg_iov = &iov[i], .msg_iovlen = 1};
  }
  char line[64];
  for (int round = 0; round < rounds; round++) {
    if (!fgets(line, sizeof line, stdin)) return 1;
    unsigned int meminfo[SK_MEMINFO_VARS] = {0};
    socklen_t mlen = sizeof meminfo;
    getsockopt(fd, SOL_SOCKET, SO_MEMINFO, meminfo, &mlen);

#ifdef VERIFY
    unsigned int kernel_drops = 0;
    long long authentic = 0;
#endif
    long long received = 0;
    long long wall0 = clock_ns(CLOCK_MONOTONIC), cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    for (;;) {
      for (int i = 0; i < BATCH; i++) msgs[i].msg_hdr.msg_namelen = sizeof names[i];
#ifdef VERIFY
      msgs[0].msg_hdr.msg_control = control.bytes;
      msgs[0].msg_hdr.msg_controllen = sizeof control.bytes;
#endif
      int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      received += n;
#ifdef VERIFY
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[0].msg_hdr); c; c = CMSG_NXTHDR(&msgs[0].msg_hdr, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL && c->cmsg_len >= CMSG_LEN(sizeof(unsigned int)))
          memcpy(&kernel_drops, CMSG_DATA(c), sizeof kernel_drops);
      for (int i = 0; i < n; i++) {
        if (msgs[i].msg_len != 16) continue;
        uint64_t header, tag;
        memcpy(&header, buffers[i], 8);
        memcpy(&tag, buffers[i] + 8, 8);
        authentic += (tag_state_tag(state, header) ^ tag) == 0;
      }
#endif
    }
    long long wall = clock_ns(CLOCK_MONOTONIC) - wall0, cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
#ifdef VERIFY
    /* Printed, so the compiler must compute every tag: with the tag inline and the count only tested against an
     * impossible value, gcc removed the whole computation (the same-work drain then ran at the plain drain's speed). */
    printf("received %lld ns %lld cpu_ns %lld drops %u authentic %lld kernel_drops %u\n", received, wall, cpu_ns,
           meminfo[SK_MEMINFO_DROPS], authentic, kernel_drops);
#else
    printf("received %lld ns %lld cpu_ns %lld drops %u\n", received, wall, cpu_ns, meminfo[SK_MEMINFO_DROPS]);
#endif
    fflush(stdout);
  }
  return 0;
}

/* The flood source for `make bench`: sends datagrams to 127.0.0.1:PORT with sendmmsg(2), 64 per call, as fast as
 * it can or paced to a rate. The datagrams come from a file of 32-byte records (byte 0 = length 0..31, then the
 * payload), sent in order and repeated to COUNT. --sockets S spreads the batches over S source ports (S flows).
 * --gso: UDP generic segmentation offload (UDP_SEGMENT, Linux 4.18+): consecutive records of one length go out as
 * one message of up to 64 segments that the kernel cuts into ordinary datagrams on the receiving side of
 * loopback, so one sender core can offer several times what one sendmmsg per datagram can. The receiver sees
 * the same datagrams either way (a socket without UDP_GRO gets each segment as its own datagram, through its
 * socket filter and receive queue like any other).
 * Usage: sendmmsg_sender --port P --packets FILE --count N [--rate PER_SECOND] [--cpu C] [--sockets S] [--gso 1]
 * Prints "sent N ns T" (wall time from the first to the last call). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define RECORD 32
#define MAX_SOCKETS 64
#define GSO_SEGMENTS 64 /* at most UDP_MAX_SEGMENTS; 64 x 31 bytes stays far below 64 KiB */
#define GSO_MESSAGES 8  /* messages per sendmmsg with --gso */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  int port = 0, cpu = -1, sockets = 1, gso = 0;
  long long count = 0;
  double rate = 0;
  const char *path = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--packets")) path = argv[i + 1];
    else if (!strcmp(argv[i], "--count")) count = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--rate")) rate = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--cpu")) cpu = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--sockets")) sockets = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--gso")) gso = atoi(argv[i + 1]);
    else { fprintf(stderr, "sendmmsg_sender: unknown option %s\n", argv[i]); return 2; }
  }
  if (!port || !path || count <= 0 || sockets < 1 || sockets > MAX_SOCKETS) {
    fprintf(stderr, "usage: sendmmsg_sender --port P --packets FILE --count N [--rate R] [--cpu C] [--sockets 1..64] [--gso 0|1]\n");
    return 2;
  }
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) { perror("sendmmsg_sender: sched_setaffinity"); return 1; }
  }
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); return 1; }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  long records = size / RECORD;
  if (records == 0) { fprintf(stderr, "sendmmsg_sender: %s holds no records\n", path); return 1; }
  unsigned char *data = malloc(records * RECORD);
  if (fread(data, RECORD, records, f) != (size_t)records) { perror("sendmmsg_sender: read"); return 1; }
  fclose(f);

  int fds[MAX_SOCKETS];
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  for (int s = 0; s < sockets; s++) {
    fds[s] = socket(AF_INET, SOCK_DGRAM, 0);
    if (connect(fds[s], (struct sockaddr *)&to, sizeof to) != 0) { perror("sendmmsg_sender: connect"); return 1; }
  }
  /* One sendmmsg per turn. Without --gso: up to BATCH messages of one datagram each. With --gso: up to
   * GSO_MESSAGES messages, each a run of up to GSO_SEGMENTS consecutive records of one length (one iovec per
   * record) that the kernel cuts into datagrams of that length. segments[m] = datagrams in message m. */
  static struct iovec iov[BATCH][GSO_SEGMENTS];
  static struct mmsghdr msgs[BATCH];
  static union { char buf[CMSG_SPACE(sizeof(unsigned short))]; struct cmsghdr align; } control[BATCH];
  int segments[BATCH];
  int max_messages = gso ? GSO_MESSAGES : BATCH, max_segments = gso ? GSO_SEGMENTS : 1;
  long long sent = 0, next = 0;
  long long start = now_ns();
  int turn = 0;
  while (sent < count) {
    int m = 0;
    long long planned = 0;
    while (m < max_messages && sent + planned < count) {
      unsigned char *first = data + ((next + planned) % records) * RECORD;
      int k = 0;
      do {
        unsigned char *r = data + ((next + planned + k) % records) * RECORD;
        if (k > 0 && r[0] != first[0]) break;
        iov[m][k].iov_base = r + 1;
        iov[m][k].iov_len = r[0];
        k++;
      } while (k < max_segments && first[0] > 0 && sent + planned + k < count);
      msgs[m].msg_hdr = (struct msghdr){.msg_iov = iov[m], .msg_iovlen = (size_t)k};
      if (k > 1) {
        msgs[m].msg_hdr.msg_control = control[m].buf;
        msgs[m].msg_hdr.msg_controllen = sizeof control[m].buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[m].msg_hdr);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(unsigned short));
        unsigned short size = first[0];
        memcpy(CMSG_DATA(c), &size, sizeof size);
      }
      segments[m] = k;
      planned += k;
      m++;
    }
    int done = sendmmsg(fds[turn], msgs, m, 0);
    if (done < 0) {
      if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN || errno == ECONNREFUSED) continue;
      perror(gso ? "sendmmsg_sender: sendmmsg (--gso)" : "sendmmsg_sender: sendmmsg");
      return 1;
    }
    for (int i = 0; i < done; i++) { sent += segments[i]; next += segments[i]; }
    turn = (turn + 1) % sockets;
    if (rate > 0) {
      long long due = start + (long long)(sent * 1e9 / rate);
      while (now_ns() < due) { }
    }
  }
  printf("sent %lld ns %lld\n", sent, now_ns() - start);
  return 0;
}

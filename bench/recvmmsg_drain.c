/* Baseline for `make bench`: the least a UDP intake can do on this kernel — drain a socket with recvmmsg(2),
 * 64 datagrams per call, and count. Same SO_RCVBUF and batch size as the ppn command listener.
 * Usage: recvmmsg_drain EXPECTED   (prints "port N" once bound, then "received R ns T" when done:
 * EXPECTED datagrams seen, or 500 ms without any after the first). Loopback only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 64
#define SLOT 32

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  long long expected = argc > 1 ? atoll(argv[1]) : 100000;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int size = 4 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("bind"); return 1; }
  socklen_t len = sizeof addr;
  getsockname(fd, (struct sockaddr *)&addr, &len);
  printf("port %d\n", ntohs(addr.sin_port));
  fflush(stdout);

  static char buffers[BATCH][SLOT];
  static struct sockaddr_in6 names[BATCH];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = buffers[i];
    iov[i].iov_len = SLOT;
    msgs[i].msg_hdr = (struct msghdr){.msg_name = &names[i], .msg_iov = &iov[i], .msg_iovlen = 1};
  }
  long long received = 0, first = 0, last = 0;
  struct pollfd p = {.fd = fd, .events = POLLIN};
  while (received < expected) {
    int ready = poll(&p, 1, first ? 500 : 20000);
    if (ready <= 0) break;
    for (;;) {
      for (int i = 0; i < BATCH; i++) msgs[i].msg_hdr.msg_namelen = sizeof names[i];
      int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
      if (n <= 0) break;
      if (!first) first = now_ns();
      received += n;
      last = now_ns();
      if (n < BATCH) break;
    }
  }
  printf("received %lld ns %lld\n", received, last - first);
  return 0;
}

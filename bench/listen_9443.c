/* Baseline for `make bench`: the least a process can do to listen on TCP 9443 at a link-local address, as the
 * genesis holding listener does (IPv6 only, SO_REUSEADDR, bound to [fe80::1%ppnb0]); says so and waits to be
 * killed. Run as PID 1 of the namespaces listen_time makes (vs ppn reaching its holding listener). */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  int fd = socket(AF_INET6, SOCK_STREAM, 0), on = 1;
  struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(9443), .sin6_scope_id = if_nametoindex("ppnb0") };
  inet_pton(AF_INET6, "fe80::1", &a.sin6_addr);
  if (fd < 0 || setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0) {
    perror("listen_9443");
    return 1;
  }
  printf("listening on [fe80::1%%ppnb0]:9443\n");
  fflush(stdout);
  for (;;) pause();
}

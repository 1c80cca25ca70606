/* Times "exec to listening on 9443" for `make bench`, K times; prints each start's time in ns.
 *
 * Each start gets namespaces of its own, made here and gone when its processes end (nothing to clean up, also
 * when the bench dies: every process here has PR_SET_PDEATHSIG):
 *   - a user namespace mapping root to the caller: the program is root only there, so finit_module(2) and
 *     reboot(2) cannot reach the machine (user_namespaces(7), pid_namespaces(7): reboot only ends the namespace);
 *   - a mount namespace (private propagation), /lib/modules covered by the empty directory EMPTY so no kernel's
 *     modules are even looked at (the node's modules are the boot timeline's business, not startup's);
 *   - a network namespace holding only lo and a veth pair (ppnb0, ppnb1), up, without autoconfigured addresses,
 *     and fe80::1/64 on ppnb0 without DAD: a link-local address usable at once, as a node has after its DAD;
 *   - a PID namespace: the program runs as its PID 1, as ppn does on a node.
 * The clock starts just before execv(2) and stops when the program's output has a line containing MARKER
 * (read through a pipe: the same latency for every program). The program is then killed (SIGKILL).
 * Usage: listen_time K EMPTY MARKER PROGRAM [ARGS...] */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_MS 20000

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "listen_time: %s: %s\n", what, strerror(errno));
  _exit(3);
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) die(path);
  close(fd);
}

/* One record on the control pipe: 't' the start time (from the program's process), 'p' its pid (from its parent). */
struct record { long long kind, value; };

static void setup_namespaces(const char *empty) {
  char map[64];
  uid_t uid = geteuid();
  gid_t gid = getegid();
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) != 0) die("unshare(user, mount, net)");
  write_file("/proc/self/setgroups", "deny");
  snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
  write_file("/proc/self/uid_map", map);
  snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
  write_file("/proc/self/gid_map", map);
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("mount --make-rprivate /");
  struct stat st;
  if (stat("/lib/modules", &st) == 0 && mount(empty, "/lib/modules", NULL, MS_BIND, NULL) != 0) die("bind EMPTY on /lib/modules");
  /* iproute2 for the setup only (not timed); inside this network namespace, which nothing else can see. */
  if (system("ip link set lo up && ip link add ppnb0 type veth peer name ppnb1 && "
             "ip link set ppnb0 addrgenmode none && ip link set ppnb1 addrgenmode none && "
             "ip link set ppnb0 up && ip link set ppnb1 up && ip -6 addr add fe80::1/64 dev ppnb0 nodad") != 0) {
    fprintf(stderr, "listen_time: setting up the network namespace failed\n");
    _exit(3);
  }
}

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: listen_time K EMPTY MARKER PROGRAM [ARGS...]\n"); return 2; }
  int k = atoi(argv[1]);
  const char *empty = argv[2], *marker = argv[3];
  for (int i = 0; i < k; i++) {
    int out[2], ctl[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(ctl, O_CLOEXEC) != 0) die("pipe");
    pid_t outer = fork();
    if (outer < 0) die("fork");
    if (outer == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(out[0]);
      close(ctl[0]);
      setup_namespaces(empty);
      if (unshare(CLONE_NEWPID) != 0) die("unshare(pid)");
      pid_t pid1 = fork();
      if (pid1 < 0) die("fork (pid 1)");
      if (pid1 == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(out[1], 1);
        dup2(out[1], 2);
        struct record start = { 't', now_ns() };
        if (write(ctl[1], &start, sizeof start) != sizeof start) _exit(3);
        execv(argv[4], argv + 4);
        _exit(127);
      }
      struct record who = { 'p', pid1 };
      if (write(ctl[1], &who, sizeof who) != sizeof who) _exit(3);
      int status;
      waitpid(pid1, &status, 0);
      _exit(0);
    }
    close(out[1]);
    close(ctl[1]);
    long long start = 0, pid1 = 0;
    struct record r;
    for (int got = 0; got < 2; got++) {
      if (read(ctl[0], &r, sizeof r) != sizeof r) { fprintf(stderr, "listen_time: the namespace setup failed (see above)\n"); return 1; }
      if (r.kind == 't') start = r.value; else pid1 = r.value;
    }
    char buffer[16384];
    size_t used = 0;
    long long stop = 0, deadline = now_ns() + DEADLINE_MS * 1000000LL;
    while (!stop) {
      struct pollfd p = { out[0], POLLIN, 0 };
      long long left = (deadline - now_ns()) / 1000000;
      if (left <= 0 || poll(&p, 1, (int)left) <= 0) break;
      if (used == sizeof buffer - 1) used = 0; /* a long log without the marker: keep reading */
      ssize_t n = read(out[0], buffer + used, sizeof buffer - 1 - used);
      if (n <= 0) break;
      used += (size_t)n;
      buffer[used] = 0;
      char *line = strstr(buffer, marker);
      if (line && strchr(line, '\n')) stop = now_ns();
    }
    if (pid1 > 0) kill((pid_t)pid1, SIGKILL);
    int status;
    waitpid(outer, &status, 0);
    close(out[0]);
    close(ctl[0]);
    if (!stop) {
      fprintf(stderr, "listen_time: %s printed no line with \"%s\" within %d ms; its output:\n%s\n", argv[4], marker, DEADLINE_MS, buffer);
      return 1;
    }
    printf("%lld\n", stop - start);
  }
  return 0;
}

/* Times process starts for `make bench`: fork, execv, wait, K times; prints each run's wall time in ns.
 * Output of the child goes to /dev/null. Usage: exec_time K PROGRAM [ARGS...] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: exec_time K PROGRAM [ARGS...]\n"); return 2; }
  int k = atoi(argv[1]);
  for (int i = 0; i < k; i++) {
    long long start = now_ns();
    pid_t pid = fork();
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      execv(argv[2], argv + 2);
      _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    long long ns = now_ns() - start;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { fprintf(stderr, "exec_time: %s failed\n", argv[2]); return 1; }
    printf("%lld\n", ns);
  }
  return 0;
}

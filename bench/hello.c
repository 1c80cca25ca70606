/* Baseline for `make bench`: the cheapest process start — print one line and exit (vs `ppn version`). */
#include <stdio.h>
int main(void) { puts("hello 1"); return 0; }

// echo: print the arguments separated by spaces, then a newline.
// The line is collected in a buffer and written with one write() (while it
// fits), so output from concurrent echoes does not interleave.
#include "kernel/types.h"
#include "user/user.h"

static char line[512];

int main(int argc, char *argv[]) {
  int n = 0;
  for (int i = 1; i < argc; i++) {
    for (char *s = argv[i]; *s; s++) {
      if (n == sizeof(line)) {
        if (write(1, line, n) != n)
          return 1;
        n = 0;
      }
      line[n++] = *s;
    }
    if (n == sizeof(line)) {
      if (write(1, line, n) != n)
        return 1;
      n = 0;
    }
    line[n++] = i + 1 < argc ? ' ' : '\n';
  }
  if (argc < 2)
    line[n++] = '\n';
  if (write(1, line, n) != n)
    return 1;
  return 0;
}

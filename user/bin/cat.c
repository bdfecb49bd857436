// cat: copy each named file (or standard input) to standard output.
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "user/user.h"

static char buf[1024];

// Copy fd to stdout; 0 on success, -1 on a read or write error.
static int copy(int fd) {
  int n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
    if (write(1, buf, n) != n) {
      fprintf(2, "cat: write error\n");
      return -1;
    }
  }
  if (n < 0) {
    fprintf(2, "cat: read error\n");
    return -1;
  }
  return 0;
}

int main(int argc, char *argv[]) {
  if (argc < 2)
    return copy(0) < 0 ? 1 : 0;
  int status = 0;
  for (int i = 1; i < argc; i++) {
    int fd = open(argv[i], O_RDONLY);
    if (fd < 0) {
      fprintf(2, "cat: cannot open %s\n", argv[i]);
      status = 1;
      continue;
    }
    if (copy(fd) < 0)
      status = 1;
    close(fd);
  }
  return status;
}

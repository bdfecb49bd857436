// An xv6-riscv style program, built with `tools/qemu-run --extra` the way a
// program from an xv6 course would be: it includes the xv6 header paths and
// uses only xv6's user library. tools/run-tests runs `xv6hello one two` and
// expects the last line "xv6hello: all good".
#include "kernel/types.h"
#include "kernel/stat.h"
#include "user/user.h"
#include "kernel/fcntl.h"

int bad = 0;

void
check(int cond, char *what)
{
  if(!cond){
    printf("xv6hello: FAILED %s\n", what);
    bad++;
  }
}

int
main(int argc, char *argv[])
{
  int i, fd, p[2], pid, status;
  char buf[64];
  struct stat st;
  char *mem;

  printf("xv6hello: argc=%d", argc);
  for(i = 1; i < argc; i++)
    printf(" [%s]", argv[i]);
  printf("\n");
  check(argc == 3 && strcmp(argv[1], "one") == 0 && strcmp(argv[2], "two") == 0, "argv");

  // files
  fd = open("xv6hello.tmp", O_CREATE | O_RDWR);
  check(fd >= 0, "open");
  check(write(fd, "0123456789", 10) == 10, "write");
  close(fd);
  fd = open("xv6hello.tmp", O_RDONLY);
  memset(buf, 0, sizeof(buf));
  check(read(fd, buf, sizeof(buf)) == 10 && strcmp(buf, "0123456789") == 0, "read back");
  check(fstat(fd, &st) == 0 && st.type == T_FILE && st.size == 10, "fstat");
  close(fd);
  check(unlink("xv6hello.tmp") == 0, "unlink");
  check(open("xv6hello.tmp", O_RDONLY) < 0, "gone after unlink");

  // fork, pipe, wait
  check(pipe(p) == 0, "pipe");
  pid = fork();
  if(pid == 0){
    close(p[0]);
    write(p[1], "from child", 11);
    exit(7);
  }
  close(p[1]);
  memset(buf, 0, sizeof(buf));
  check(read(p[0], buf, sizeof(buf)) == 11 && strcmp(buf, "from child") == 0, "pipe read");
  close(p[0]);
  check(wait(&status) == pid && status == 7, "wait status");

  // memory
  mem = malloc(10000);
  check(mem != 0, "malloc");
  memset(mem, 'x', 10000);
  free(mem);
  mem = sbrk(4096);
  check(mem != (char*)-1 && mem[0] == 0 && mem[4095] == 0, "sbrk zero");
  check(atoi("1234") == 1234 && strlen("abc") == 3, "ulib");
  check(getpid() > 0 && uptime() >= 0, "getpid/uptime");

  if(bad == 0)
    printf("xv6hello: all good\n");
  exit(bad != 0);
}

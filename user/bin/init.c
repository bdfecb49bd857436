// init: the first user process.
//
// Opens the console as file descriptors 0, 1 and 2 (creating the device
// node on first boot). If the file /autorun exists, runs its contents (one
// command line) with "sh -c" and powers the machine off with the shell's
// exit status: that is how tests run unattended. Otherwise starts a shell on
// the console and restarts it whenever it exits. Being the parent of every
// orphan, init reaps them in its wait loop.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "user/user.h"

#define CONSOLE_MAJOR 1

static char autorun[1024];

// Wait for pid, reaping any other children (orphans) that exit meanwhile.
// Returns pid's exit status, or -1 if there is nothing left to wait for.
static int wait_for(int pid) {
  for (;;) {
    int status;
    int w = wait(&status);
    if (w == pid)
      return status;
    if (w < 0)
      return -1;
  }
}

// Run /autorun's command line and power off with its status.
static void run_autorun(int fd) {
  int n = 0, r;
  while (n < (int)sizeof(autorun) - 1 &&
         (r = read(fd, autorun + n, sizeof(autorun) - 1 - n)) > 0)
    n += r;
  close(fd);
  while (n > 0 && (autorun[n - 1] == '\n' || autorun[n - 1] == '\r'))
    n--;
  autorun[n] = 0;

  printf("--- autorun ---\n");
  int pid = fork();
  if (pid < 0) {
    fprintf(2, "init: fork failed\n");
    shutdown(1);
  }
  if (pid == 0) {
    char *argv[] = {"sh", "-c", autorun, 0};
    exec("/sh", argv);
    fprintf(2, "init: exec sh failed\n");
    exit(127);
  }
  shutdown(wait_for(pid));
}

int main(void) {
  if (open("console", O_RDWR) < 0) {
    mknod("console", CONSOLE_MAJOR, 0);
    if (open("console", O_RDWR) < 0)
      exit(1); // nowhere to even report the problem
  }
  dup(0); // stdout
  dup(0); // stderr

  int fd = open("/autorun", O_RDONLY);
  if (fd >= 0)
    run_autorun(fd);

  for (;;) {
    printf("init: starting sh\n");
    int pid = fork();
    if (pid < 0) {
      fprintf(2, "init: fork failed\n");
      sleep(10);
      continue;
    }
    if (pid == 0) {
      char *argv[] = {"sh", 0};
      exec("/sh", argv);
      fprintf(2, "init: exec sh failed\n");
      exit(1);
    }
    wait_for(pid);
  }
}

// faulttest: the kernel's failure paths, under injected out-of-memory.
//
//   faulttest [CASE ...]            (default: every case)
//
// For each case and n = 0, 1, 2, ...: faultinject(FAULT_FRAMES, n) lets the
// next n frame allocations succeed and makes every later one fail; the case's
// operation runs (fork, exec with arguments, pipe, open and write, sbrk, COW
// faults, ...); then injection ends. The operation must either succeed or
// fail cleanly: an error return, or, for a process that faults, being killed.
// After every n, free frames, free process slots, free inodes and free disk
// blocks must be back at their values before it, and vmaudit() must be 0.
// The walk over n ends at the first n for which the operation succeeds.
//
// The disk cases (names starting "disk_") do the same with
// faultinject(FAULT_DISK, n): the next n disk requests succeed, every later
// one fails. A commit that fails leaves the transaction in memory, retried
// by the next operation (kernel/fs/log.h), so an operation may succeed
// although a request failed: the walk ends at the first n for which no
// request failed. After each n a no-op transaction (flush) lets the log
// retry. Data read once stays in the page cache and blocks in the buffer
// cache, so each failure point is met once: the read cases read files
// nothing read before (/README, /wc), and each n gets one request
// further into them. `tools/qemu-run --fsck` then checks that the disk is
// consistent after all those failed commits.
//
//   faulttest -crash N
//
// A crash in the middle of failing commits: with FAULT_DISK n = N, create
// and grow a file, unlink another and make a directory, then power off at
// once, injection still on, whatever is pending in memory lost. The disk
// must be consistent once a committed log is replayed, as the kernel's
// recovery would at the next boot (tools/qemu-run --fsck-replay).
//
// Prints "ok CASE (N failure points)" or "FAIL CASE: at n=N: reason" per
// case; exits 0 iff every case passed.
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "kernel/memstat.h"
#include "kernel/syscall.h"
#include "user/user.h"

extern char etext[];

#define PG 4096
#define KILLED (-1)
#define MAXN 5000    // a walk longer than this is a failure of its own
#define COW_PAGES 8  // heap pages the COW case writes

// An operation under injection: 1 succeeded, 0 failed cleanly, -1 failed
// badly (it printed why into msg).
static char msg[160];
static char *cow_heap;

static void inject(int n) { faultinject(FAULT_FRAMES, n); }

// Disk injection. disk_end() returns how many requests failed since
// disk_inject().
static int disk_failed; // for run_case: failures in the last operation
static void disk_inject(int n) { faultinject(FAULT_DISK, n); }
static int disk_end(void) { return faultinject(FAULT_DISK, -1); }
// A transaction that changes nothing: the log retries a failed commit.
static void flush(void) { unlink("/ft-no-such-file"); }

#define DISK_FILE "ft.disk"
#define DISK_DIR "ft.dir"
#define DISK_WRITE (4 * PG) // past the 12 direct blocks: an indirect block too
static char disk_buf[DISK_WRITE];

// Create a file of `size` bytes, without injection: 0 or -1.
static int make_file(const char *path, int size) {
  int fd = open(path, O_CREATE | O_RDWR | O_TRUNC);
  if (fd < 0) return -1;
  int w = write(fd, disk_buf, size);
  close(fd);
  return w == size ? 0 : -1;
}

static int op_disk_create(int n) {
  disk_inject(n);
  int fd = open(DISK_FILE, O_CREATE | O_RDWR);
  disk_failed = disk_end();
  flush();
  if (fd >= 0) close(fd);
  unlink(DISK_FILE);
  return fd >= 0;
}

static int op_disk_write(int n) {
  int fd = open(DISK_FILE, O_CREATE | O_RDWR);
  if (fd < 0) {
    snprintf(msg, sizeof msg, "cannot create " DISK_FILE);
    return -1;
  }
  disk_inject(n);
  int w = write(fd, disk_buf, DISK_WRITE);
  disk_failed = disk_end();
  flush();
  close(fd);
  unlink(DISK_FILE);
  return w == DISK_WRITE;
}

static int op_disk_read(int n) {
  static char buf[PG];
  int fd = open("/README", O_RDONLY);
  if (fd < 0) {
    snprintf(msg, sizeof msg, "cannot open /README");
    return -1;
  }
  disk_inject(n);
  int r, total = 0;
  while ((r = read(fd, buf, sizeof buf)) > 0) total += r;
  disk_failed = disk_end();
  close(fd);
  if (r < 0) return 0;
  if (total < 1000) {
    snprintf(msg, sizeof msg, "read only %d bytes of /README", total);
    return -1;
  }
  return 1;
}

// wc's text spans file pages 1 and 2, which it faults in after exec has
// succeeded: a failed read there kills it (the kernel prints why).
static void disk_exec_child(int n) {
  char *argv[] = {"wc", "/true", 0}; // prints one line, exits with 0
  disk_inject(n);
  exec("/wc", argv);
  exit(99);
}
static int op_disk_exec(int n) {
  int pid = fork();
  if (pid < 0) {
    snprintf(msg, sizeof msg, "fork failed");
    return -1;
  }
  if (pid == 0) disk_exec_child(n);
  int st = 0;
  int w = wait(&st);
  disk_failed = disk_end();
  flush();
  if (w != pid) {
    snprintf(msg, sizeof msg, "wait returned %d", w);
    return -1;
  }
  if (st == 0) return 1;
  // 1: wc's own read() failed ("wc: read error"): clean too.
  if (st == 99 || st == KILLED || st == 1) return 0;
  snprintf(msg, sizeof msg, "child exit status %d", st);
  return -1;
}

static int op_disk_unlink(int n) {
  if (make_file(DISK_FILE, PG) < 0) {
    snprintf(msg, sizeof msg, "cannot make " DISK_FILE);
    return -1;
  }
  disk_inject(n);
  int r = unlink(DISK_FILE);
  disk_failed = disk_end();
  flush();
  if (r < 0 && unlink(DISK_FILE) < 0) {
    snprintf(msg, sizeof msg, "cannot unlink " DISK_FILE " after the failure");
    return -1;
  }
  return r == 0;
}

static int op_disk_mkdir(int n) {
  disk_inject(n);
  int r = mkdir(DISK_DIR);
  disk_failed = disk_end();
  flush();
  unlink(DISK_DIR);
  return r == 0;
}

static int op_fork(int n) {
  inject(n);
  int pid = fork();
  if (pid == 0) exit(0);
  inject(-1);
  if (pid < 0) return 0;
  int st = 0;
  if (wait(&st) != pid) {
    snprintf(msg, sizeof msg, "wait failed");
    return -1;
  }
  return 1; // the child may have been killed: clean too
}

static int op_fork_eager(int n) {
  int old = forkmode(FORK_EAGER);
  int r = op_fork(n);
  forkmode(old);
  return r;
}

// Run fn(n) in a child; its exit status: ok_status success, 99 clean
// failure, or killed.
static int in_child(int n, void (*fn)(int), int ok_status) {
  // An eager fork: the child's injection applies to every allocation in the
  // machine, and a store of ours to a page still shared copy-on-write with
  // the child (our stack, as we go on to wait) would need a frame and get
  // us killed. With private copies we allocate nothing until wait returns.
  int mode = forkmode(FORK_EAGER);
  int pid = fork();
  forkmode(mode);
  if (pid < 0) {
    snprintf(msg, sizeof msg, "fork failed");
    return -1;
  }
  if (pid == 0) {
    fn(n);
    exit(0);
  }
  int st = 0;
  int w = wait(&st);
  inject(-1); // whatever the child left
  if (w != pid) {
    snprintf(msg, sizeof msg, "wait returned %d", w);
    return -1;
  }
  if (st == ok_status) return 1;
  if (st == 99 || st == KILLED) return 0;
  snprintf(msg, sizeof msg, "child exit status %d", st);
  return -1;
}

static void exec_child(int n) {
  char *argv[] = {"true", "one", "two", "three", "a longer fourth argument", 0};
  inject(n);
  exec("/true", argv);
  inject(-1);
  exit(99);
}
static int op_exec(int n) { return in_child(n, exec_child, 0); }

static void exec_big_child(int n) {
  char *argv[] = {"utests", "-helper", "argc", "x", 0}; // exits with argc, 4
  inject(n);
  exec("/utests", argv);
  inject(-1);
  exit(99);
}
static int op_exec_big(int n) { return in_child(n, exec_big_child, 4); }

static int op_pipe(int n) {
  int p[2];
  inject(n);
  int r = pipe(p);
  inject(-1);
  if (r < 0) return 0;
  char c = 'x';
  if (write(p[1], &c, 1) != 1 || read(p[0], &c, 1) != 1 || c != 'x') {
    snprintf(msg, sizeof msg, "the pipe does not work");
    return -1;
  }
  close(p[0]);
  close(p[1]);
  return 1;
}

static int op_open(int n) {
  static char buf[PG];
  inject(n);
  int fd = open("ft.tmp", O_CREATE | O_RDWR);
  int w = fd >= 0 ? write(fd, buf, sizeof buf) : -1;
  inject(-1);
  if (fd >= 0) close(fd);
  unlink("ft.tmp");
  return w == (int)sizeof buf;
}

static int op_sbrk(int n) {
  int size = 40 * PG;
  inject(n);
  char *p = sbrk(size);
  inject(-1);
  if (p == SBRK_ERROR) return 0;
  sbrk(-size);
  return 1;
}

static void cow_child(int n) {
  inject(n);
  for (int i = 0; i < COW_PAGES; i++) cow_heap[i * PG] = (char)(100 + i);
  inject(-1);
  for (int i = 0; i < COW_PAGES; i++)
    if (cow_heap[i * PG] != (char)(100 + i)) exit(98);
}
static int op_cow(int n) {
  int r = in_child(n, cow_child, 0);
  for (int i = 0; i < COW_PAGES; i++)
    if (cow_heap[i * PG] != (char)(1 + i)) {
      snprintf(msg, sizeof msg, "the parent's page %d changed", i);
      return -1;
    }
  return r;
}

struct tcase {
  const char *name;
  int (*op)(int);
};

static struct tcase cases[] = {
    {"fork", op_fork},   {"fork_eager", op_fork_eager}, {"exec_args", op_exec},
    {"exec_big", op_exec_big}, {"pipe", op_pipe},      {"open_write", op_open},
    {"sbrk", op_sbrk},   {"cow_faults", op_cow},
    {"disk_create", op_disk_create}, {"disk_write", op_disk_write},
    {"disk_read", op_disk_read},     {"disk_exec", op_disk_exec},
    {"disk_unlink", op_disk_unlink}, {"disk_mkdir", op_disk_mkdir},
};

// "Free" frames include the page cache's: it takes frames as programs are
// paged in and files read, and gives them back when memory is needed.
static void ms(struct memstat *m) {
  if (memstat(m) < 0) {
    printf("FAIL faulttest: memstat failed\n");
    exit(1);
  }
  m->free_frames += m->cache_pages;
}

// The resources that must come back after every n, or a reason.
static int compare(struct memstat *a, struct memstat *b) {
  if (b->free_frames != a->free_frames)
    snprintf(msg, sizeof msg, "free frames %lu, %lu before", b->free_frames, a->free_frames);
  else if (b->free_procs != a->free_procs)
    snprintf(msg, sizeof msg, "free process slots %lu, %lu before", b->free_procs, a->free_procs);
  else if (b->free_inodes != a->free_inodes)
    snprintf(msg, sizeof msg, "free inodes %lu, %lu before", b->free_inodes, a->free_inodes);
  else if (b->free_blocks != a->free_blocks)
    snprintf(msg, sizeof msg, "free blocks %lu, %lu before", b->free_blocks, a->free_blocks);
  else
    return 0;
  return -1;
}

static int run_case(struct tcase *t) {
  printf("# run %s\n", t->name);
  struct memstat before, after;
  for (int n = 0; n < MAXN; n++) {
    ms(&before);
    msg[0] = 0;
    disk_failed = 0;
    int r = t->op(n);
    inject(-1);
    disk_end();
    if (r < 0) {
      printf("FAIL %s: at n=%d: %s\n", t->name, n, msg);
      return 0;
    }
    for (int i = 0; i < 20; i++) { // a killed child's parent may be reaping
      ms(&after);
      if (compare(&before, &after) == 0) break;
      sleep(1);
    }
    if (compare(&before, &after) < 0) {
      printf("FAIL %s: at n=%d (%s): %s\n", t->name, n, r ? "succeeded" : "failed", msg);
      return 0;
    }
    int v = vmaudit();
    if (v != 0) {
      printf("FAIL %s: at n=%d: vmaudit found %d violations\n", t->name, n, v);
      return 0;
    }
    if (r == 1 && disk_failed == 0) {
      printf("ok %s (%d failure points)\n", t->name, n);
      return 1;
    }
  }
  printf("FAIL %s: still failing after %d failure points\n", t->name, MAXN);
  return 0;
}


static void crash(int n) {
  // Page in all of this program first: a text page that cannot be read
  // would kill it before the operations (text starts at address 0).
  for (volatile char *p = 0; p < etext; p += PG) (void)*p;
  if (make_file("crash.old", PG) < 0) {
    printf("FAIL crash: cannot make crash.old\n");
    exit(1);
  }
  disk_inject(n);
  int fd = open("crash.new", O_CREATE | O_RDWR);
  if (fd >= 0) write(fd, disk_buf, DISK_WRITE);
  unlink("crash.old");
  mkdir("crash.dir");
  printf("crash at n=%d\n", n);
  shutdown(0);
}

int main(int argc, char *argv[]) {
  prefault_data();
  if (argc == 3 && strcmp(argv[1], "-crash") == 0) crash(atoi(argv[2]));
  if (faultinject(FAULT_FRAMES, -1) < 0) {
    printf("FAIL faulttest: faultinject is not available\n");
    exit(1);
  }
  // The heap the COW case's children write into.
  cow_heap = sbrk(COW_PAGES * PG);
  for (int i = 0; i < COW_PAGES; i++) cow_heap[i * PG] = (char)(1 + i);
  // Warm up: a first fork, exec and pipe may set up things that stay.
  op_fork(1000000);
  op_exec(1000000);
  op_pipe(1000000);

  int failed = 0, ran = 0;
  for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
    int wanted = argc < 2;
    for (int j = 1; j < argc; j++)
      if (strcmp(argv[j], cases[i].name) == 0) wanted = 1;
    if (!wanted) continue;
    ran++;
    if (!run_case(&cases[i])) failed++;
  }
  printf("faulttest: %d passed, %d failed\n", ran - failed, failed);
  return failed ? 1 : 0;
}

// utests: cowix's in-QEMU regression suite for the system-call interface.
//
//   utests            run every case
//   utests NAME...    run only the named cases
//
// Prints one line per case, "ok NAME" or "FAIL NAME: reason", and exits 0
// only if every case passed. Each case runs in a child process of its own, in
// the scratch directory /utmp, so a crash or a leak is charged to that case
// alone and the parent's memory does not change from case to case. Around each
// case the parent compares memstat()'s free_frames with the value before it:
// a case after which frames stay missing has leaked them (the kernel did not
// give back page tables, stacks, pipes or pages of a process it reaped).
//
// A case that hangs hangs the suite: tools/qemu-run's timeout catches that,
// and the last "ok" line shows where it stopped (the cases run in the order
// of the table at the end). Run `utests -v` to see each case's ticks.
//
// Helper processes (grandchildren of the runner) never print ok/FAIL lines:
// they report through their exit status, which the case checks.

#include "kernel/types.h"
#include "kernel/stat.h"
#include "user/user.h"
#include "kernel/fcntl.h"
#include "kernel/param.h"
#include "kernel/fs.h"
#include "kernel/riscv.h"
#include "kernel/memlayout.h"
#include "kernel/memstat.h"
#include "kernel/syscall.h"

#define KILLED (-1)    // the status wait() reports for a killed process

// ---------------------------------------------------------------- reporting

static const char *cur = "?"; // the running case's name
static int helper_depth;        // 0 in the case process, >0 in its helpers
static char msg[256];
static char self[64] = "/utests"; // this program, for exec

// Report the current case as failed (msg holds the reason) and end the process.
static void __attribute__((noreturn)) fail_now(void) {
  char line[352];
  if (helper_depth > 0) {
    // A helper only explains itself; the case reports the failure.
    snprintf(line, sizeof line, "# %s (helper): %s\n", cur, msg);
    write(2, line, strlen(line));
    exit(99);
  }
  snprintf(line, sizeof line, "FAIL %s: %s\n", cur, msg);
  write(1, line, strlen(line));
  exit(1);
}

#define FAIL(...)                                                                      \
  do {                                                                                 \
    snprintf(msg, sizeof msg, __VA_ARGS__);                                            \
    fail_now();                                                                        \
  } while (0)
// CHECK(cond, "format", args...): fail with the message unless cond holds.
#define CHECK(cond, ...)                                                               \
  do {                                                                                 \
    if (!(cond)) FAIL(__VA_ARGS__);                                                    \
  } while (0)
// EXPECT(cond): fail with the condition's text and line.
#define EXPECT(cond) CHECK(cond, "line %d: %s", __LINE__, #cond)

// ---------------------------------------------------------------- helpers

// Hide a value from the optimiser, so that deliberately bad addresses are
// used as they are (GCC would otherwise turn a store to 0 into a trap).
static uint64 opaque(uint64 x) {
  asm volatile("" : "+r"(x));
  return x;
}
static void *ptr(uint64 a) { return (void *)opaque(a); }

// fork() for helpers: a helper's failures are reported by its exit status.
static int xfork(void) {
  int pid = fork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) helper_depth++;
  return pid;
}

// Wait for the one child pid; return its exit status.
static int xwait(int pid) {
  int st = 12345;
  int w = wait(&st);
  CHECK(w == pid, "wait returned %d, expected child %d", w, pid);
  return st;
}

// Run fn in a helper process; return its exit status (KILLED if it died).
static int in_child(void (*fn)(void)) {
  int pid = xfork();
  if (pid == 0) {
    fn();
    exit(0);
  }
  return xwait(pid);
}

// Free frames, counting the page cache's as free: it takes frames as this
// program's text is paged in and as files are read, and gives them back
// when memory is needed (or a file is removed).
static long free_frames(void) {
  struct memstat ms;
  if (memstat(&ms) < 0) return -1;
  return (long)(ms.free_frames + ms.cache_pages);
}

static void xunlink_quiet(const char *name) { unlink(name); }

// Create name with n bytes from data; fail the case if that does not work.
static void make_file(const char *name, const void *data, int n) {
  int fd = open(name, O_CREATE | O_WRONLY | O_TRUNC);
  CHECK(fd >= 0, "create %s failed", name);
  CHECK(write(fd, data, n) == n, "write to %s failed", name);
  close(fd);
}

// Read up to max bytes of name into buf; returns the count.
static int slurp(const char *name, void *buf, int max) {
  int fd = open(name, O_RDONLY);
  CHECK(fd >= 0, "open %s failed", name);
  int total = 0;
  for (;;) {
    int n = read(fd, (char *)buf + total, max - total);
    CHECK(n >= 0, "read %s failed", name);
    if (n == 0 || total + n == max) {
      total += n;
      break;
    }
    total += n;
  }
  close(fd);
  return total;
}

// Read all of fd until end of file into buf (max bytes); returns the count.
static int read_all(int fd, char *buf, int max) {
  int total = 0, n;
  while (total < max && (n = read(fd, buf + total, max - total)) > 0) total += n;
  return total;
}

// An address that is certainly not mapped: well above the heap's end.
static uint64 unmapped_addr(void) {
  return PGROUNDUP((uint64)sbrk(0)) + 64 * PGSIZE;
}

// The guard page below the user stack (xv6 layout: text, data, guard, stack).
static uint64 guard_page(void) {
  uint64 sp;
  asm volatile("mv %0, sp" : "=r"(sp));
  return PGROUNDDOWN(sp) - (USERSTACK - 1) * PGSIZE - PGSIZE;
}

static uint64 pattern(uint64 i) { return (i * 0x9E3779B97F4A7C15ULL) >> 29; }

static long raw_syscall(long num, long a0) {
  register long a7 asm("a7") = num;
  register long r asm("a0") = a0;
  asm volatile("ecall" : "+r"(r) : "r"(a7) : "memory");
  return r;
}

// ---------------------------------------------------------------- processes

static void t_fork_exit_wait(void) {
  static const int statuses[] = {0, 1, 7, 42, 255, -3};
  for (uint i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
    int pid = xfork();
    if (pid == 0) exit(statuses[i]);
    int st = xwait(pid);
    CHECK(st == statuses[i], "exit(%d) but wait saw %d", statuses[i], st);
  }
  // wait(0): the status is not wanted.
  int pid = xfork();
  if (pid == 0) exit(3);
  EXPECT(wait(0) == pid);
  // Several children: wait returns each exactly once.
  int pids[5], seen = 0;
  for (int i = 0; i < 5; i++) {
    pids[i] = xfork();
    if (pids[i] == 0) exit(10 + i);
  }
  for (int i = 0; i < 5; i++) {
    int st;
    int w = wait(&st);
    int k = 0;
    while (k < 5 && pids[k] != w) k++;
    CHECK(k < 5, "wait returned %d, not one of the children", w);
    CHECK(st == 10 + k, "child %d exited %d, wait saw %d", k, 10 + k, st);
    CHECK(!(seen & (1 << k)), "child %d reaped twice", k);
    seen |= 1 << k;
  }
  // No children left.
  int st;
  EXPECT(wait(&st) == -1);
  EXPECT(wait(0) == -1);
}

static void t_getpid(void) {
  int me = getpid();
  EXPECT(me > 0);
  EXPECT(getpid() == me);
  int p[2];
  EXPECT(pipe(p) == 0);
  int pid = xfork();
  if (pid == 0) {
    int c = getpid();
    write(p[1], &c, sizeof c);
    exit(0);
  }
  int c = 0;
  EXPECT(read(p[0], &c, sizeof c) == sizeof c);
  CHECK(c == pid, "child says getpid()=%d, fork returned %d", c, pid);
  EXPECT(c != me);
  EXPECT(xwait(pid) == 0);
  close(p[0]);
  close(p[1]);
}

static void spin_forever(void) {
  volatile uint64 n = 0;
  for (;;) n++;
}
static void sleep_forever(void) {
  for (;;) sleep(1000);
}
static int kpipe[2];
static void read_forever(void) {
  char c;
  read(kpipe[0], &c, 1);
  exit(5); // must not get here: the parent never writes
}
static void kill_self(void) {
  kill(getpid());
  // The kill takes effect when this process next leaves the kernel.
  for (int i = 0; i < 1000; i++) getpid();
  exit(6);
}

static void t_kill(void) {
  EXPECT(kill(99999) == -1);
  EXPECT(kill(-5) == -1);
  EXPECT(pipe(kpipe) == 0);
  void (*victims[])(void) = {spin_forever, sleep_forever, read_forever};
  const char *what[] = {"spinning", "sleeping", "pipe-blocked"};
  for (int i = 0; i < 3; i++) {
    int pid = xfork();
    if (pid == 0) {
      victims[i]();
      exit(0);
    }
    sleep(2);
    CHECK(kill(pid) == 0, "kill of a %s child returned -1", what[i]);
    int st = xwait(pid);
    CHECK(st == KILLED, "killed %s child: wait status %d, expected -1", what[i], st);
  }
  close(kpipe[0]);
  close(kpipe[1]);
  int st = in_child(kill_self);
  CHECK(st == KILLED, "kill(getpid()): status %d, expected -1", st);
}

static void orphan_maker(void) {
  int pid = fork();
  if (pid == 0) {
    sleep(3);
    exit(0);
  }
  exit(0); // leave the grandchild to init
}

static void t_orphans(void) {
  // init reaps orphans: the frame check after the case fails if nobody does.
  for (int i = 0; i < 3; i++) EXPECT(in_child(orphan_maker) == 0);
  EXPECT(wait(0) == -1); // grandchildren are not ours
}

static void t_fork_until_fail(void) {
  int p[2];
  EXPECT(pipe(p) == 0);
  int n;
  for (n = 0; n < 4 * NPROC; n++) {
    int pid = fork();
    if (pid < 0) break;
    if (pid == 0) {
      char c;
      close(p[1]);
      read(p[0], &c, 1); // until the parent closes its write end
      exit(0);
    }
  }
  close(p[0]);
  close(p[1]);
  int bad = 0, reaped = 0, st;
  while (wait(&st) >= 0) {
    reaped++;
    if (st != 0) bad++;
  }
  CHECK(n < 4 * NPROC, "fork never failed (%d processes)", n);
  CHECK(n > NPROC / 2, "fork failed after only %d processes", n);
  CHECK(reaped == n, "forked %d, reaped %d", n, reaped);
  CHECK(bad == 0, "%d children exited non-zero", bad);
  // The process table has room again.
  int pid = xfork();
  if (pid == 0) exit(0);
  EXPECT(xwait(pid) == 0);
}

static void t_sleep_uptime(void) {
  int t0 = uptime();
  EXPECT(t0 >= 0);
  EXPECT(sleep(0) == 0);
  EXPECT(sleep(3) == 0);
  int t1 = uptime();
  CHECK(t1 - t0 >= 3, "sleep(3) took %d ticks", t1 - t0);
  CHECK(t1 - t0 < 100, "sleep(3) took %d ticks", t1 - t0);
}

// What xv6 programs take for granted besides the system calls themselves
// (xv6's usertests relies on each): a /README file to read, pause() as the
// newer name of sleep(), SBRK_ERROR, and riscv.h's register readers.
static void t_xv6_abi(void) {
  struct stat st;
  EXPECT(stat("/README", &st) == 0);
  EXPECT(st.type == T_FILE && st.size > 0);
  int t0 = uptime();
  EXPECT(pause(2) == 0);
  CHECK(uptime() - t0 >= 2, "pause(2) took %d ticks", uptime() - t0);
  EXPECT(SBRK_ERROR == (char *)-1);
  volatile int local = 0;
  uint64 sp = r_sp();
  CHECK(sp <= (uint64)&local && (uint64)&local - sp < PGSIZE, "r_sp() = %p, a local is at %p",
        (void *)sp, (void *)&local);
  EXPECT(r_fp() > sp);
}

static void t_bad_syscall(void) {
  // Unknown system call numbers fail with -1; the process carries on.
  EXPECT(raw_syscall(0, 0) == -1);
  EXPECT(raw_syscall(999, 0) == -1);
  EXPECT(raw_syscall(-1, 0) == -1);
  EXPECT(raw_syscall(1L << 40, 0) == -1);
  EXPECT(raw_syscall(SYS_getpid, 0) == getpid());
}

// ---------------------------------------------------------------- faults

static void st_unmapped(void) { *(volatile char *)ptr(unmapped_addr()) = 1; }
static void ld_unmapped(void) { (void)*(volatile char *)ptr(unmapped_addr()); }
static void st_zero(void) { *(volatile int *)ptr(0) = 1; }
static void st_text(void) { *(volatile int *)ptr((uint64)&st_text) = 1; }
static void st_kernbase(void) { *(volatile int *)ptr(KERNBASE) = 1; }
static void ld_kernbase(void) { (void)*(volatile int *)ptr(KERNBASE); }
static void st_kdirect(void) { *(volatile int *)ptr(KERNEL_DIRECT_MAP + KERNBASE) = 1; }
static void ld_kdirect(void) { (void)*(volatile int *)ptr(KERNEL_DIRECT_MAP + KERNBASE); }
static void st_maxva(void) { *(volatile int *)ptr(MAXVA) = 1; }
static void ld_maxva(void) { (void)*(volatile int *)ptr(MAXVA); }
static void st_below_maxva(void) { *(volatile int *)ptr(MAXVA - PGSIZE) = 1; }
static void ld_below_maxva(void) { (void)*(volatile int *)ptr(MAXVA - PGSIZE); }
static void st_top(void) { *(volatile int *)ptr(0xFFFFFFFFFFFFFFF0ULL) = 1; }
static void st_guard(void) { *(volatile int *)ptr(guard_page() + 64) = 1; }
static void jump(uint64 a) { ((void (*)(void))ptr(a))(); }
static void jmp_kernbase(void) { jump(KERNBASE); }
static void jmp_kdirect(void) { jump(KERNEL_DIRECT_MAP + KERNBASE); }
static void jmp_unmapped(void) { jump(unmapped_addr()); }
static ushort data_code[4] = {0x8082, 0x8082, 0x8082, 0x8082}; // c.ret
static void jmp_data(void) { jump((uint64)data_code); } // data is not executable
static void illegal_insn(void) { asm volatile("unimp"); }
static void breakpoint(void) { asm volatile("ebreak"); }
static int recurse(int n) {
  volatile char frame[512];
  if (opaque(n) == 0xFFFFFFFFULL) return 0; // never: keeps GCC from calling it infinite
  frame[0] = (char)n;
  frame[511] = (char)n;
  return recurse(n + 1) + frame[0] + frame[511];
}
static void stack_overflow(void) { recurse(0); }
static void st_freed_heap(void) {
  volatile char *a = sbrk(PGSIZE);
  a[0] = 1;
  sbrk(-PGSIZE);
  a[0] = 2;
}

static void t_faults_kill(void) {
  struct {
    const char *name;
    void (*fn)(void);
  } faults[] = {
      {"store to unmapped memory", st_unmapped},
      {"load from unmapped memory", ld_unmapped},
      {"store to address 0 (text)", st_zero},
      {"store to own text", st_text},
      {"store to 0x80000000", st_kernbase},
      {"load from 0x80000000", ld_kernbase},
      {"store to kernel direct map", st_kdirect},
      {"load from kernel direct map", ld_kdirect},
      {"store to MAXVA", st_maxva},
      {"load from MAXVA", ld_maxva},
      {"store to MAXVA-PGSIZE", st_below_maxva},
      {"load from MAXVA-PGSIZE", ld_below_maxva},
      {"store to 0xFFFFFFFFFFFFFFF0", st_top},
      {"store to the stack guard page", st_guard},
      {"jump to 0x80000000", jmp_kernbase},
      {"jump into the kernel direct map", jmp_kdirect},
      {"jump to unmapped memory", jmp_unmapped},
      {"jump into data", jmp_data},
      {"illegal instruction", illegal_insn},
      {"ebreak", breakpoint},
      {"stack overflow", stack_overflow},
      {"store to heap freed by sbrk", st_freed_heap},
  };
  for (uint i = 0; i < sizeof faults / sizeof faults[0]; i++) {
    int st = in_child(faults[i].fn);
    CHECK(st == KILLED, "%s: wait status %d, expected -1 (killed)", faults[i].name, st);
  }
  // Reading the (readable) text works.
  EXPECT(*(volatile uint *)ptr((uint64)&t_faults_kill) != 0);
}

// ---------------------------------------------------------------- memory

static int all_zero(const char *p, int n) {
  const uint64 *q = (const uint64 *)p;
  for (int i = 0; i < n / 8; i++)
    if (q[i] != 0) return 0;
  return 1;
}

static void t_sbrk(void) {
  char *a = sbrk(0);
  char *b = sbrk(3 * PGSIZE);
  CHECK(b == a, "sbrk returned %p, old break was %p", b, a);
  EXPECT(sbrk(0) == a + 3 * PGSIZE);
  EXPECT(all_zero(a, 3 * PGSIZE));
  memset(a, 0x5a, 3 * PGSIZE);
  EXPECT(sbrk(-2 * PGSIZE) == a + 3 * PGSIZE);
  EXPECT(sbrk(0) == a + PGSIZE);
  EXPECT(a[PGSIZE - 1] == 0x5a);
  // Grown again: the pages come back zeroed, not with the old contents.
  EXPECT(sbrk(2 * PGSIZE) == a + PGSIZE);
  CHECK(all_zero(a + PGSIZE, 2 * PGSIZE), "re-grown heap is not zero");
  // Sizes that are not page multiples.
  char *c = sbrk(100);
  EXPECT(c == a + 3 * PGSIZE);
  EXPECT(sbrk(0) == c + 100);
  c[99] = 1;
  EXPECT(sbrk(-100) == c + 100);
  EXPECT(sbrk(0) == c);
  // Far more than physical memory: refused, break unchanged.
  char *top = sbrk(0);
  CHECK(sbrk(0x7ffff000) == (char *)-1, "sbrk(2 GiB) did not fail");
  EXPECT(sbrk(0) == top);
  CHECK(sbrk(0x40000000) == (char *)-1, "sbrk(1 GiB) did not fail");
  EXPECT(sbrk(0) == top);
  // A shrink past address 0 changes nothing and returns the break (xv6).
  CHECK(sbrk(-((int)(uint64)top + 1)) == top, "sbrk below 0 did not return the break");
  EXPECT(sbrk(0) == top);
  // The heap still works.
  char *d = sbrk(PGSIZE);
  EXPECT(d == top);
  d[0] = 7;
  EXPECT(all_zero(d + 8, PGSIZE - 8));
}

// sbrklazy (newer xv6's lazy sbrk): the break moves, pages appear on first
// touch, by the program or by the kernel writing into them.
static void t_sbrk_lazy(void) {
  const long GIB = 1L << 30, STEP = 64L << 20;
  char *a = sbrk(0);
  long f0 = free_frames();
  char *p = sbrklazy(GIB); // eager sbrk of this much fails (see t_sbrk)
  CHECK(p == a, "sbrklazy returned %p, old break was %p", p, a);
  EXPECT(sbrk(0) == a + GIB);
  CHECK(f0 - free_frames() < 4, "sbrklazy(1 GiB) took %ld frames", f0 - free_frames());
  for (long off = 0; off < GIB; off += STEP) {
    CHECK(p[off] == 0, "lazy page at +%ld is not zero", off);
    p[off] = 'x';
  }
  EXPECT(p[STEP] == 'x');
  // The kernel writing into an untouched lazy page (a pipe read) makes it.
  int fds[2];
  EXPECT(pipe(fds) == 0);
  char *q = p + GIB / 2 + 100;
  EXPECT(write(fds[1], "hello", 5) == 5);
  CHECK(read(fds[0], q, 5) == 5, "read into lazy memory failed");
  EXPECT(memcmp(q, "hello", 5) == 0);
  // The kernel reading an untouched lazy page (a pipe write) sees zeros.
  char back[16];
  EXPECT(write(fds[1], p + GIB / 2 + 3 * PGSIZE, 16) == 16);
  EXPECT(read(fds[0], back, 16) == 16);
  EXPECT(all_zero(back, 16));
  close(fds[0]);
  close(fds[1]);
  // A child inherits the lazy heap; what it touches is its own.
  int pid = xfork();
  if (pid == 0) {
    if (p[0] != 'x') exit(2);
    p[0] = 'c';
    p[7 * PGSIZE] = 'c';
    exit(0);
  }
  EXPECT(xwait(pid) == 0);
  EXPECT(p[0] == 'x');
  EXPECT(p[7 * PGSIZE] == 0);
  // Shrinking gives the touched pages back and unmaps the range.
  EXPECT(sbrk(-GIB) == a + GIB);
  EXPECT(sbrk(0) == a);
  CHECK(free_frames() + 2 >= f0, "%ld frames not returned", f0 - free_frames());
  pid = xfork();
  if (pid == 0) {
    *(volatile char *)opaque((uint64)p) = 1; // beyond the break now
    exit(0);
  }
  CHECK(xwait(pid) == -1, "store beyond the shrunk lazy heap did not kill");
}

static char parent_global[3 * PGSIZE];

static void t_sbrk_child(void) {
  char *heap = sbrk(4 * PGSIZE);
  EXPECT(heap != (char *)-1);
  memset(heap, 'p', 4 * PGSIZE);
  memset(parent_global, 'g', sizeof parent_global);
  char *brk = sbrk(0);
  int pid = xfork();
  if (pid == 0) {
    // Grow, write, shrink below the inherited heap, write to globals.
    char *more = sbrk(10 * PGSIZE);
    if (more != brk) exit(2);
    memset(more, 'c', 10 * PGSIZE);
    memset(heap, 'c', 2 * PGSIZE);
    memset(parent_global, 'c', sizeof parent_global);
    if (sbrk(-12 * PGSIZE) == (char *)-1) exit(3);
    exit(0);
  }
  EXPECT(xwait(pid) == 0);
  CHECK(sbrk(0) == brk, "child's sbrk changed the parent's break");
  for (int i = 0; i < 4 * PGSIZE; i++)
    CHECK(heap[i] == 'p', "parent heap byte %d changed to %d by the child", i, heap[i]);
  for (uint i = 0; i < sizeof parent_global; i++)
    CHECK(parent_global[i] == 'g', "parent global byte %d changed by the child", i);
}

// Take memory until sbrk refuses, then fork in that state.
static void exhaust(void) {
  int chunks = 0;
  for (; chunks < 512; chunks++) {
    char *p = sbrk(1 << 20);
    if (p == (char *)-1) break;
    p[0] = 1;
    p[(1 << 20) - 1] = 1;
  }
  if (chunks == 512) exit(2); // never refused 512 MiB
  if (chunks == 0) exit(3);
  // No memory is left: fork may fail, or succeed and the child may be killed
  // when it needs a page; neither may hurt the kernel.
  int pid = fork();
  if (pid == 0) {
    char *h = sbrk(0) - (1 << 20);
    for (int i = 0; i < (1 << 20); i += PGSIZE) h[i] = 2;
    exit(0);
  }
  if (pid > 0) wait(0);
  exit(0);
}
static void grab_8mb(void) {
  char *p = sbrk(8 << 20);
  if (p == (char *)-1) exit(2);
  for (int i = 0; i < (8 << 20); i += PGSIZE) p[i] = 1;
}

static void t_sbrk_exhaust(void) {
  int st = in_child(exhaust);
  CHECK(st != 2, "sbrk never refused (took 512 MiB)");
  // With swap, memory runs out when swap does: sbrk refuses, or (a fault of
  // the helper finding memory and swap exhausted) the OOM killer kills it.
  CHECK(st == 0 || st == -1, "exhausting memory: helper status %d", st);
  // The memory came back.
  st = in_child(grab_8mb);
  CHECK(st == 0, "after exhaustion, 8 MiB could not be had (status %d)", st);
}

static void t_memstat(void) {
  struct memstat ms;
  EXPECT(memstat(&ms) == 0);
  EXPECT(ms.total_frames > 0);
  EXPECT(ms.free_frames > 0 && ms.free_frames <= ms.total_frames);
  // Allocating memory lowers free_frames by about as much.
  uint64 before = ms.free_frames;
  char *p = sbrk(64 * PGSIZE);
  EXPECT(p != (char *)-1);
  for (int i = 0; i < 64; i++) p[i * PGSIZE] = 1;
  EXPECT(memstat(&ms) == 0);
  CHECK(ms.free_frames + 64 <= before, "64 pages taken, free_frames %d -> %d",
        (int)before, (int)ms.free_frames);
}

// ---------------------------------------------------------------- files

static void t_open_read_write(void) {
  char buf[64];
  xunlink_quiet("f1");
  int fd = open("f1", O_CREATE | O_RDWR);
  EXPECT(fd >= 3);
  EXPECT(write(fd, "0123456789", 10) == 10);
  EXPECT(close(fd) == 0);
  EXPECT(close(fd) == -1);
  fd = open("f1", O_RDONLY);
  EXPECT(fd >= 0);
  EXPECT(read(fd, buf, 0) == 0);
  EXPECT(read(fd, buf, sizeof buf) == 10);
  EXPECT(memcmp(buf, "0123456789", 10) == 0);
  EXPECT(read(fd, buf, sizeof buf) == 0); // end of file
  EXPECT(write(fd, "x", 1) == -1);        // read-only
  close(fd);
  fd = open("f1", O_WRONLY);
  EXPECT(fd >= 0);
  EXPECT(read(fd, buf, 1) == -1); // write-only
  EXPECT(write(fd, "ab", 2) == 2);
  EXPECT(write(fd, buf, 0) == 0);
  close(fd);
  EXPECT(slurp("f1", buf, sizeof buf) == 10);
  EXPECT(memcmp(buf, "ab23456789", 10) == 0);
  // O_TRUNC empties the file.
  fd = open("f1", O_RDWR | O_TRUNC);
  struct stat st;
  EXPECT(fstat(fd, &st) == 0 && st.size == 0);
  EXPECT(write(fd, "new", 3) == 3);
  close(fd);
  EXPECT(slurp("f1", buf, sizeof buf) == 3);
  // Missing files.
  EXPECT(open("nosuchfile", O_RDONLY) == -1);
  EXPECT(open("nosuchfile", O_RDWR) == -1);
  EXPECT(open("nosuchdir/f", O_CREATE | O_RDWR) == -1);
  EXPECT(open("/nosuchdir/f", O_RDONLY) == -1);
  // O_CREATE of an existing file opens it.
  fd = open("f1", O_CREATE | O_RDWR);
  EXPECT(fd >= 0 && read(fd, buf, 10) == 3);
  close(fd);
  // The lowest free descriptor is used.
  int a = open("f1", O_RDONLY), b = open("f1", O_RDONLY);
  EXPECT(a >= 0 && b == a + 1);
  close(a);
  EXPECT(open("f1", O_RDONLY) == a);
  close(a);
  close(b);
  // A large write in one call, and reads with odd sizes.
  char *big = malloc(20000);
  char *back = malloc(20000);
  EXPECT(big && back);
  for (int i = 0; i < 20000; i++) big[i] = (char)pattern(i);
  make_file("f1", big, 20000);
  fd = open("f1", O_RDONLY);
  int got = 0, n, step = 1;
  while ((n = read(fd, back + got, step)) > 0) {
    got += n;
    step = step * 3 + 1;
    if (step > 20000 - got) step = 20000 - got;
    if (step == 0) break;
  }
  close(fd);
  EXPECT(got == 20000);
  EXPECT(memcmp(big, back, 20000) == 0);
  // Zero-length and negative-length requests do not crash the kernel.
  fd = open("f1", O_RDWR);
  EXPECT(read(fd, buf, -1) <= 0);
  EXPECT(write(fd, buf, -1) <= 0);
  close(fd);
  EXPECT(unlink("f1") == 0);
}

static void t_bad_fds(void) {
  char buf[8];
  struct stat st;
  int closed = open("/utests", O_RDONLY);
  EXPECT(closed >= 0);
  close(closed);
  int bad[] = {-1, -1000, NOFILE, 100, 1 << 20, closed};
  for (uint i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int fd = bad[i];
    CHECK(read(fd, buf, 1) == -1, "read(%d) did not fail", fd);
    CHECK(write(fd, "x", 1) == -1, "write(%d) did not fail", fd);
    CHECK(close(fd) == -1, "close(%d) did not fail", fd);
    CHECK(fstat(fd, &st) == -1, "fstat(%d) did not fail", fd);
    CHECK(dup(fd) == -1, "dup(%d) did not fail", fd);
  }
}

static int count_open_fds(void) {
  struct stat st;
  int n = 0;
  for (int fd = 0; fd < NOFILE; fd++)
    if (fstat(fd, &st) == 0) n++;
  return n;
}

static void t_dup(void) {
  char buf[16];
  int fd = open("d1", O_CREATE | O_RDWR | O_TRUNC);
  EXPECT(fd >= 0);
  int fd2 = dup(fd);
  EXPECT(fd2 >= 0 && fd2 != fd);
  // Both descriptors share one offset.
  EXPECT(write(fd, "ab", 2) == 2);
  EXPECT(write(fd2, "cd", 2) == 2);
  close(fd);
  EXPECT(write(fd2, "ef", 2) == 2);
  // So do parent and child after fork.
  int pid = xfork();
  if (pid == 0) {
    if (write(fd2, "gh", 2) != 2) exit(2);
    exit(0);
  }
  EXPECT(xwait(pid) == 0);
  EXPECT(write(fd2, "ij", 2) == 2);
  close(fd2);
  EXPECT(slurp("d1", buf, sizeof buf) == 10);
  EXPECT(memcmp(buf, "abcdefghij", 10) == 0);
  // dup and open until the table is full: exactly NOFILE descriptors.
  int open0 = count_open_fds();
  int fds[NOFILE], n = 0;
  for (;;) {
    int d = (n % 2) ? dup(0) : open("d1", O_RDONLY);
    if (d < 0) break;
    CHECK(n < NOFILE, "more than NOFILE descriptors");
    fds[n++] = d;
  }
  CHECK(n == NOFILE - open0, "opened %d descriptors, expected %d", n, NOFILE - open0);
  for (int i = 0; i < n; i++) EXPECT(close(fds[i]) == 0);
  EXPECT(count_open_fds() == open0);
  EXPECT(unlink("d1") == 0);
}

static void open_all_and_exit(void) {
  int p[2];
  while (pipe(p) == 0) {
  }
  for (int i = 0; i < NOFILE; i++) open("/utests", O_RDONLY);
  exit(0); // without closing anything
}

static void t_exit_closes_files(void) {
  // More descriptors in total than the system's file table holds (NFILE):
  // this only works if exit closes them.
  for (int i = 0; i < 2 * NFILE / NOFILE + 2; i++)
    CHECK(in_child(open_all_and_exit) == 0, "round %d failed", i);
  int fd = open("/utests", O_RDONLY);
  EXPECT(fd >= 0);
  close(fd);
}

static void t_fstat(void) {
  struct stat st, st2;
  make_file("s1", "hello", 5);
  int fd = open("s1", O_RDONLY);
  EXPECT(fstat(fd, &st) == 0);
  EXPECT(st.type == T_FILE);
  EXPECT(st.size == 5);
  EXPECT(st.nlink == 1);
  EXPECT(st.ino > 0);
  int fd2 = open("s1", O_RDONLY);
  EXPECT(fstat(fd2, &st2) == 0 && st2.ino == st.ino && st2.dev == st.dev);
  close(fd2);
  close(fd);
  EXPECT(stat("s1", &st2) == 0 && st2.ino == st.ino);
  make_file("s2", "", 0);
  EXPECT(stat("s2", &st2) == 0 && st2.ino != st.ino && st2.size == 0);
  fd = open(".", O_RDONLY);
  EXPECT(fd >= 0);
  EXPECT(fstat(fd, &st) == 0 && st.type == T_DIR);
  close(fd);
  EXPECT(stat("/", &st) == 0 && st.type == T_DIR && st.ino == ROOTINO);
  EXPECT(stat("nosuch", &st) == -1);
  unlink("s1");
  unlink("s2");
}

static void t_link_unlink(void) {
  char buf[16];
  struct stat st;
  xunlink_quiet("l1");
  xunlink_quiet("l2");
  make_file("l1", "data", 4);
  EXPECT(link("l1", "l2") == 0);
  EXPECT(stat("l1", &st) == 0 && st.nlink == 2);
  EXPECT(slurp("l2", buf, sizeof buf) == 4 && memcmp(buf, "data", 4) == 0);
  EXPECT(link("l1", "l2") == -1);   // exists
  EXPECT(link("nosuch", "l3") == -1);
  EXPECT(link("l1", "nodir/l3") == -1);
  EXPECT(link(".", "dotlink") == -1); // no links to directories
  EXPECT(unlink("l1") == 0);
  EXPECT(open("l1", O_RDONLY) == -1);
  EXPECT(unlink("l1") == -1);
  EXPECT(stat("l2", &st) == 0 && st.nlink == 1);
  EXPECT(slurp("l2", buf, sizeof buf) == 4);
  EXPECT(unlink(".") == -1);
  EXPECT(unlink("..") == -1);
  EXPECT(unlink("nosuch") == -1);
  EXPECT(unlink("l2") == 0);
  // Unlinked while open: the data lives until the last close.
  static char data[3000], back[3000]; // the user stack is one page: not there
  for (int i = 0; i < 3000; i++) data[i] = (char)i;
  make_file("u1", data, 3000);
  int fd = open("u1", O_RDONLY);
  EXPECT(unlink("u1") == 0);
  EXPECT(open("u1", O_RDONLY) == -1);
  EXPECT(read_all(fd, back, 3000) == 3000 && memcmp(back, data, 3000) == 0);
  EXPECT(fstat(fd, &st) == 0 && st.nlink == 0);
  close(fd);
  make_file("u1", "", 0);
  EXPECT(stat("u1", &st) == 0 && st.size == 0);
  unlink("u1");
}

static void t_mkdir_chdir(void) {
  struct stat st;
  EXPECT(mkdir("dd") == 0);
  EXPECT(mkdir("dd") == -1);
  EXPECT(chdir("dd") == 0);
  make_file("ff", "x", 1);
  EXPECT(chdir("..") == 0);
  char c;
  EXPECT(slurp("dd/ff", &c, 1) == 1 && c == 'x');
  EXPECT(slurp("/utmp/dd/../dd/./ff", &c, 1) == 1);
  EXPECT(open("dd", O_RDWR) == -1);
  EXPECT(open("dd", O_WRONLY) == -1);
  int fd = open("dd", O_RDONLY);
  EXPECT(fd >= 0);
  EXPECT(write(fd, "x", 1) == -1);
  close(fd);
  EXPECT(unlink("dd") == -1); // not empty
  EXPECT(unlink("dd/ff") == 0);
  EXPECT(unlink("dd") == 0);
  EXPECT(chdir("dd") == -1);
  EXPECT(mkdir("nosuch/sub") == -1);
  // A file is not a directory.
  make_file("ff2", "", 0);
  EXPECT(chdir("ff2") == -1);
  EXPECT(open("ff2/x", O_CREATE | O_RDWR) == -1);
  EXPECT(mkdir("ff2/x") == -1);
  EXPECT(link("ff2", "ff2/x") == -1);
  EXPECT(unlink("ff2/x") == -1);
  EXPECT(unlink("ff2") == 0);
  // Nested directories and "..".
  EXPECT(mkdir("a") == 0 && mkdir("a/b") == 0 && mkdir("a/b/c") == 0);
  EXPECT(chdir("a/b/c") == 0);
  EXPECT(chdir("../..") == 0);
  EXPECT(stat("b/c", &st) == 0 && st.type == T_DIR);
  EXPECT(chdir("/") == 0);
  EXPECT(chdir("..") == 0); // ".." of the root is the root
  EXPECT(stat("utmp/a/b", &st) == 0 && st.type == T_DIR);
  EXPECT(unlink("utmp/a/b/c") == 0 && unlink("utmp/a/b") == 0 && unlink("utmp/a") == 0);
  // A child's chdir does not move the parent.
  EXPECT(chdir("/utmp") == 0);
  EXPECT(mkdir("cd") == 0);
  int pid = xfork();
  if (pid == 0) exit(chdir("cd") == 0 ? 0 : 2);
  EXPECT(xwait(pid) == 0);
  make_file("here", "", 0);
  EXPECT(stat("/utmp/here", &st) == 0);
  unlink("here");
  EXPECT(unlink("cd") == 0);
}

// A directory removed while it is a process's cwd (xv6 allows that when it
// is empty): nothing can be created in it, only "." names it (".." does not:
// its parent may be gone too), it reads as empty and fstat says nlink 0, as
// in Linux. Nothing changes on disk (fsck checks that after the suite).
static void t_removed_cwd(void) {
  struct stat st;
  make_file("lk", "k", 1);
  EXPECT(mkdir("rd") == 0);
  int dfd = open("rd", O_RDONLY);
  EXPECT(dfd >= 0);
  EXPECT(chdir("rd") == 0);
  EXPECT(unlink("/utmp/rd") == 0);
  EXPECT(open("x", O_CREATE | O_RDWR) == -1);
  EXPECT(open("./x", O_CREATE | O_WRONLY) == -1);
  EXPECT(mkdir("sub") == -1);
  EXPECT(mknod("nod", 1, 0) == -1);
  EXPECT(link("/utmp/lk", "lnk") == -1);
  EXPECT(unlink("x") == -1);
  EXPECT(open("x", O_RDONLY) == -1);
  EXPECT(open("..", O_RDONLY) == -1);
  EXPECT(stat("../lk", &st) == -1);
  EXPECT(chdir("..") == -1);
  EXPECT(chdir(".") == 0);
  EXPECT(stat(".", &st) == 0 && st.type == T_DIR && st.nlink == 0 && st.size == 0);
  int fd = open(".", O_RDONLY);
  struct dirent de;
  EXPECT(fd >= 0 && read(fd, &de, sizeof de) == 0);
  close(fd);
  EXPECT(fstat(dfd, &st) == 0 && st.nlink == 0 && st.size == 0);
  close(dfd);
  EXPECT(chdir("/utmp") == 0);
  EXPECT(stat("rd", &st) == -1 && stat("lnk", &st) == -1);
  EXPECT(stat("lk", &st) == 0 && st.nlink == 1);
  EXPECT(unlink("lk") == 0);

  // The parent goes too, and its inode is reused by a new directory: the
  // child's cwd still cannot reach it through "..".
  EXPECT(mkdir("p") == 0 && mkdir("p/c") == 0);
  int pid = xfork();
  if (pid == 0) {
    int step = 1;
    if (chdir("/utmp/p/c") == 0 && ++step && unlink("/utmp/p/c") == 0 && ++step && unlink("/utmp/p") == 0 &&
        ++step && mkdir("/utmp/p2") == 0 && ++step && mkdir("/utmp/p2/q") == 0 && ++step &&
        open("..", O_RDONLY) == -1 && ++step && stat("../q", &st) == -1 && ++step &&
        mkdir("../z") == -1 && ++step && open(".", O_RDONLY) >= 0)
      exit(0);
    exit(10 + step);
  }
  int st2 = xwait(pid);
  CHECK(st2 == 0, "removed parent: step %d failed", st2 - 10);
  EXPECT(unlink("p2/q") == 0 && unlink("p2") == 0);
  EXPECT(stat("p", &st) == -1);
}

static void t_mknod(void) {
  struct stat st;
  EXPECT(mknod("cons", 1, 0) == 0);
  EXPECT(mknod("cons", 1, 0) == -1);
  int fd = open("cons", O_WRONLY);
  EXPECT(fd >= 0);
  EXPECT(fstat(fd, &st) == 0 && st.type == T_DEVICE);
  close(fd);
  EXPECT(unlink("cons") == 0);
  // Devices nobody implements: open works, reading and writing fail.
  short majors[] = {NDEV - 1, NDEV, 500, -1};
  for (uint i = 0; i < sizeof majors / sizeof majors[0]; i++) {
    char c = 0;
    EXPECT(mknod("nodev", majors[i], 0) == 0);
    fd = open("nodev", O_RDWR);
    if (fd >= 0) {
      CHECK(read(fd, &c, 1) == -1, "read of device major %d did not fail", majors[i]);
      CHECK(write(fd, &c, 1) == -1, "write of device major %d did not fail", majors[i]);
      close(fd);
    }
    EXPECT(unlink("nodev") == 0);
  }
}

static void t_read_dir(void) {
  int fd = open("/", O_RDONLY);
  EXPECT(fd >= 0);
  struct dirent de;
  int found = 0, dots = 0;
  while (read(fd, &de, sizeof de) == sizeof de) {
    if (de.inum == 0) continue;
    if (strncmp(de.name, "utests", DIRSIZ) == 0) found = 1;
    if (strcmp(de.name, ".") == 0 || strcmp(de.name, "..") == 0) dots++;
  }
  close(fd);
  EXPECT(found);
  EXPECT(dots == 2);
}

// A file past xv6's 268 KiB limit: NBIG blocks reach through the doubly
// indirect block into its second singly indirect block.
#define NBIG (NDIRECT + NINDIRECT + NINDIRECT + 13)
#define BIG_PER_WRITE 4 // blocks per write(): one transaction each (MAXOPBLOCKS)
static void t_big_file(void) {
  static uint64 blk[BIG_PER_WRITE * BSIZE / 8];
  int fd = open("big", O_CREATE | O_RDWR | O_TRUNC);
  EXPECT(fd >= 0);
  for (uint b = 0; b < NBIG; b += BIG_PER_WRITE) {
    uint nb = NBIG - b < BIG_PER_WRITE ? NBIG - b : BIG_PER_WRITE;
    for (uint i = 0; i < nb * BSIZE / 8; i++) blk[i] = pattern((b + i / (BSIZE / 8)) * 1000 + i % (BSIZE / 8));
    int n = write(fd, blk, nb * BSIZE);
    CHECK(n == (int)(nb * BSIZE), "write of blocks %d.. returned %d", b, n);
  }
  struct stat st;
  EXPECT(fstat(fd, &st) == 0);
  CHECK(st.size == NBIG * BSIZE, "size %d, expected %d", (int)st.size, (int)(NBIG * BSIZE));
  close(fd);
  fd = open("big", O_RDONLY);
  for (uint b = 0; b < NBIG; b++) {
    int n = read(fd, blk, BSIZE);
    CHECK(n == BSIZE, "read of block %d returned %d", b, n);
    for (int i = 0; i < BSIZE / 8; i++)
      CHECK(blk[i] == pattern(b * 1000 + i), "block %d word %d differs", b, i);
  }
  EXPECT(read(fd, blk, BSIZE) == 0);
  close(fd);
  // Truncation frees all three levels (fsck, run after the suites, finds
  // any block left allocated).
  fd = open("big", O_RDWR | O_TRUNC);
  EXPECT(fd >= 0 && fstat(fd, &st) == 0 && st.size == 0);
  EXPECT(write(fd, "x", 1) == 1);
  close(fd);
  EXPECT(unlink("big") == 0);
}

// A write that would end past MAXFILE blocks fails, and the file stays
// MAXFILE blocks long. Slow (it writes 64 MiB): run by name only.
static void t_maxfile(void) {
  static uint64 blk[8 * BSIZE / 8];
  int fd = open("max", O_CREATE | O_RDWR | O_TRUNC);
  EXPECT(fd >= 0);
  uint b = 0;
  while (b + 8 <= MAXFILE) {
    int n = write(fd, blk, sizeof blk);
    if (n != (int)sizeof blk) {
      close(fd);
      unlink("max");
      FAIL("write at block %d returned %d", b, n);
    }
    b += 8;
  }
  int rest = (MAXFILE - b) * BSIZE;
  EXPECT(write(fd, blk, rest) == rest);
  int n = write(fd, blk, 1);
  struct stat st;
  EXPECT(fstat(fd, &st) == 0);
  close(fd);
  EXPECT(unlink("max") == 0);
  CHECK(n == -1, "write past MAXFILE returned %d", n);
  CHECK(st.size == MAXFILE * BSIZE, "size %d, expected %d", (int)st.size, (int)(MAXFILE * BSIZE));
}

// Remove mf000..mf199, whichever exist (also after a failure).
static void many_files_cleanup(void) {
  char name[16];
  for (int i = 0; i < 200; i++) {
    snprintf(name, sizeof name, "mf%03d", i);
    unlink(name);
  }
}

static void many_files_fail(const char *what, const char *name) {
  many_files_cleanup();
  FAIL("%s %s", what, name);
}

static int count_mf_entries(void) {
  int fd = open(".", O_RDONLY);
  struct dirent de;
  int count = 0;
  while (read(fd, &de, sizeof de) == sizeof de)
    if (de.inum != 0 && de.name[0] == 'm' && de.name[1] == 'f') count++;
  close(fd);
  return count;
}

// 200 files, at most WINDOW of them at once (the image has a limited number
// of inodes, and the programs use some of them).
static void t_many_files(void) {
  enum { N = 200, WINDOW = 100 };
  char name[16], buf[16];
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof name, "mf%03d", i);
    int fd = open(name, O_CREATE | O_RDWR);
    if (fd < 0) many_files_fail("create failed:", name);
    if (write(fd, name, 6) != 6) many_files_fail("write failed:", name);
    close(fd);
    if (i == WINDOW - 1 && count_mf_entries() != WINDOW) many_files_fail("directory lists too few", "");
    if (i >= WINDOW) {
      snprintf(name, sizeof name, "mf%03d", i - WINDOW);
      if (slurp(name, buf, sizeof buf) != 6 || memcmp(buf, name, 6) != 0)
        many_files_fail("reads wrong:", name);
      if (unlink(name) != 0) many_files_fail("unlink failed:", name);
      if (open(name, O_RDONLY) != -1) many_files_fail("still there after unlink:", name);
    }
  }
  for (int i = N - WINDOW; i < N; i++) {
    snprintf(name, sizeof name, "mf%03d", i);
    if (slurp(name, buf, sizeof buf) != 6 || memcmp(buf, name, 6) != 0)
      many_files_fail("reads wrong:", name);
    if (unlink(name) != 0) many_files_fail("unlink failed:", name);
  }
  CHECK(count_mf_entries() == 0, "files left after unlinking all");
}

static void t_concurrent_files(void) {
  // Four writers, one file each.
  char name[8];
  static char buf[BSIZE];
  for (int c = 0; c < 4; c++) {
    int pid = xfork();
    if (pid == 0) {
      snprintf(name, sizeof name, "cw%d", c);
      int fd = open(name, O_CREATE | O_RDWR | O_TRUNC);
      if (fd < 0) exit(2);
      memset(buf, 'a' + c, sizeof buf);
      for (int j = 0; j < 16; j++)
        if (write(fd, buf, sizeof buf) != sizeof buf) exit(3);
      close(fd);
      exit(0);
    }
  }
  for (int c = 0; c < 4; c++) {
    int st;
    EXPECT(wait(&st) > 0);
    CHECK(st == 0, "a writer exited %d", st);
  }
  for (int c = 0; c < 4; c++) {
    snprintf(name, sizeof name, "cw%d", c);
    int fd = open(name, O_RDONLY);
    EXPECT(fd >= 0);
    int total = 0, n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      for (int i = 0; i < n; i++) CHECK(buf[i] == 'a' + c, "%s: byte %d is wrong", name, total + i);
      total += n;
    }
    close(fd);
    CHECK(total == 16 * BSIZE, "%s has %d bytes", name, total);
    unlink(name);
  }
  // Two appenders sharing one descriptor (and so one offset).
  enum { RECS = 100, RLEN = 64 };
  int fd = open("ap", O_CREATE | O_RDWR | O_TRUNC);
  EXPECT(fd >= 0);
  for (int c = 0; c < 2; c++) {
    int pid = xfork();
    if (pid == 0) {
      char rec[RLEN];
      memset(rec, 'A' + c, RLEN);
      for (int j = 0; j < RECS; j++)
        if (write(fd, rec, RLEN) != RLEN) exit(2);
      exit(0);
    }
  }
  for (int c = 0; c < 2; c++) {
    int st;
    EXPECT(wait(&st) > 0);
    CHECK(st == 0, "an appender exited %d", st);
  }
  close(fd);
  fd = open("ap", O_RDONLY);
  char rec[RLEN];
  int counts[2] = {0, 0}, n;
  while ((n = read(fd, rec, RLEN)) == RLEN) {
    CHECK(rec[0] == 'A' || rec[0] == 'B', "record starts with %d", rec[0]);
    for (int i = 1; i < RLEN; i++) CHECK(rec[i] == rec[0], "interleaved record");
    counts[rec[0] - 'A']++;
  }
  close(fd);
  CHECK(counts[0] == RECS && counts[1] == RECS, "records: %d A, %d B", counts[0], counts[1]);
  unlink("ap");
  // Three processes creating and deleting files in one directory at once.
  for (int c = 0; c < 3; c++) {
    int pid = xfork();
    if (pid == 0) {
      char nm[16];
      for (int j = 0; j < 30; j++) {
        snprintf(nm, sizeof nm, "cd%d_%d", c, j);
        int f = open(nm, O_CREATE | O_RDWR);
        if (f < 0) exit(2);
        write(f, nm, 3);
        close(f);
        if (j % 2 == 0 && unlink(nm) != 0) exit(3);
      }
      for (int j = 1; j < 30; j += 2) {
        snprintf(nm, sizeof nm, "cd%d_%d", c, j);
        if (unlink(nm) != 0) exit(4);
      }
      exit(0);
    }
  }
  for (int c = 0; c < 3; c++) {
    int st;
    EXPECT(wait(&st) > 0);
    CHECK(st == 0, "a creator exited %d", st);
  }
  fd = open(".", O_RDONLY);
  struct dirent de;
  while (read(fd, &de, sizeof de) == sizeof de)
    CHECK(de.inum == 0 || de.name[0] != 'c' || de.name[1] != 'd' || de.name[2] == 0,
          "%s left behind", de.name);
  close(fd);
}

// ---------------------------------------------------------------- pipes

static void t_pipe(void) {
  int p[2];
  char buf[16];
  EXPECT(pipe(p) == 0);
  EXPECT(p[0] >= 0 && p[1] >= 0 && p[0] != p[1]);
  EXPECT(write(p[1], "hello", 5) == 5);
  EXPECT(read(p[0], buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0);
  EXPECT(write(p[0], "x", 1) == -1); // wrong ends
  EXPECT(read(p[1], buf, 1) == -1);
  close(p[1]);
  EXPECT(read(p[0], buf, sizeof buf) == 0); // all writers gone: end of file
  close(p[0]);
  // No reader left: write fails instead of blocking.
  EXPECT(pipe(p) == 0);
  close(p[0]);
  EXPECT(write(p[1], "x", 1) == -1);
  close(p[1]);
  // A reader blocked on an empty pipe wakes when the writer writes.
  EXPECT(pipe(p) == 0);
  int pid = xfork();
  if (pid == 0) {
    sleep(2);
    write(p[1], "late", 4);
    exit(0);
  }
  EXPECT(read(p[0], buf, sizeof buf) == 4);
  EXPECT(xwait(pid) == 0);
  close(p[0]);
  close(p[1]);
}

static void t_pipe_large(void) {
  enum { TOTAL = 150000 };
  static char buf[6000];
  int p[2];
  EXPECT(pipe(p) == 0);
  int pid = xfork();
  if (pid == 0) {
    close(p[0]);
    static const int sizes[] = {1, 100, 1000, 4096, 5000, 513, 7};
    int sent = 0, k = 0;
    while (sent < TOTAL) {
      int n = sizes[k++ % 7];
      if (n > TOTAL - sent) n = TOTAL - sent;
      for (int i = 0; i < n; i++) buf[i] = (char)pattern(sent + i);
      if (write(p[1], buf, n) != n) exit(2);
      sent += n;
    }
    exit(0);
  }
  close(p[1]);
  static const int rsizes[] = {3000, 1, 777, 6000, 512};
  int got = 0, k = 0, n;
  while ((n = read(p[0], buf, rsizes[k++ % 5])) > 0) {
    for (int i = 0; i < n; i++)
      CHECK(buf[i] == (char)pattern(got + i), "byte %d is wrong", got + i);
    got += n;
  }
  close(p[0]);
  CHECK(got == TOTAL, "received %d of %d bytes", got, TOTAL);
  EXPECT(xwait(pid) == 0);
}

// ---------------------------------------------------------------- exec

static void t_exec(void) {
  int p[2];
  char buf[64];
  EXPECT(pipe(p) == 0);
  int pid = xfork();
  if (pid == 0) {
    close(1);
    dup(p[1]); // the new image inherits its descriptors
    close(p[0]);
    close(p[1]);
    char *argv[] = {"utests", "-helper", "echo", "hello", "world", 0};
    exec(self, argv);
    exit(98);
  }
  close(p[1]);
  int n = read_all(p[0], buf, sizeof buf - 1);
  close(p[0]);
  buf[n] = 0;
  CHECK(strcmp(buf, "hello world\n") == 0, "exec'd program printed \"%s\"", buf);
  int st = xwait(pid);
  CHECK(st == 5, "exec'd program exited %d, expected argc 5", st);
  // MAXARG-1 arguments fit (xv6's exec needs room for the final 0).
  char *many[MAXARG + 16];
  many[0] = "utests";
  many[1] = "-helper";
  many[2] = "argc";
  for (int i = 3; i < MAXARG + 16; i++) many[i] = "a";
  many[MAXARG - 1] = 0;
  pid = xfork();
  if (pid == 0) {
    exec(self, many);
    exit(98);
  }
  st = xwait(pid);
  CHECK(st == MAXARG - 1, "exec with %d arguments: status %d", MAXARG - 1, st);
}

static int expect_exec_fails(const char *path, char **argv) {
  // In a helper, in case exec wrongly succeeds and replaces the image.
  int pid = xfork();
  if (pid == 0) {
    memset(parent_global, 'e', sizeof parent_global);
    int r = exec(path, argv);
    if (r != -1) exit(2);
    // The old image is intact.
    for (uint i = 0; i < sizeof parent_global; i++)
      if (parent_global[i] != 'e') exit(3);
    exit(0);
  }
  return xwait(pid);
}

// A minimal ELF64 file image for malformed-executable tests.
struct elf64 {
  uint magic;
  uchar ident[12];
  ushort type, machine;
  uint version;
  uint64 entry, phoff, shoff;
  uint flags;
  ushort ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct phdr64 {
  uint type, flags;
  uint64 off, vaddr, paddr, filesz, memsz, align;
};

static void write_elf(const char *name, uint64 phoff, ushort phnum, uint64 vaddr, uint64 filesz,
                      uint64 memsz, uint64 off) {
  static char img[2 * PGSIZE];
  memset(img, 0, sizeof img);
  struct elf64 *e = (struct elf64 *)img;
  e->magic = 0x464C457F;
  e->ident[0] = 2; // 64-bit
  e->ident[1] = 1; // little-endian
  e->ident[2] = 1;
  e->type = 2; // executable
  e->machine = 243;
  e->version = 1;
  e->entry = vaddr;
  e->phoff = phoff;
  e->ehsize = sizeof(struct elf64);
  e->phentsize = sizeof(struct phdr64);
  e->phnum = phnum;
  if (phoff + sizeof(struct phdr64) <= sizeof img) {
    struct phdr64 *ph = (struct phdr64 *)(img + phoff);
    ph->type = 1; // PT_LOAD
    ph->flags = 5;
    ph->off = off;
    ph->vaddr = vaddr;
    ph->filesz = filesz;
    ph->memsz = memsz;
    ph->align = PGSIZE;
  }
  // A few real instructions where a loader might jump: "j ." loops.
  for (int i = PGSIZE; i < PGSIZE + 64; i += 4) *(uint *)(img + i) = 0x0000006f;
  make_file(name, img, sizeof img);
}

static void t_exec_errors(void) {
  char *argv[] = {"x", 0};
  int st;
  CHECK((st = expect_exec_fails("/utmp/nosuchprog", argv)) == 0, "missing file: %d", st);
  CHECK((st = expect_exec_fails("/", argv)) == 0, "directory: %d", st);
  make_file("empty", "", 0);
  CHECK((st = expect_exec_fails("empty", argv)) == 0, "empty file: %d", st);
  // Garbage.
  static char junk[3000];
  for (uint i = 0; i < sizeof junk; i++) junk[i] = (char)pattern(i + 77);
  make_file("junk", junk, sizeof junk);
  CHECK((st = expect_exec_fails("junk", argv)) == 0, "garbage file: %d", st);
  // ELF magic only.
  make_file("junk", "\x7f" "ELF", 4);
  CHECK((st = expect_exec_fails("junk", argv)) == 0, "truncated ELF header: %d", st);
  // Program headers beyond the end of the file.
  write_elf("junk", 100000, 1, 0, PGSIZE, PGSIZE, PGSIZE);
  CHECK((st = expect_exec_fails("junk", argv)) == 0, "program headers past EOF: %d", st);
  // Segment data beyond the end of the file.
  write_elf("junk", 64, 1, 0, 64 * PGSIZE, 64 * PGSIZE, PGSIZE);
  CHECK((st = expect_exec_fails("junk", argv)) == 0, "segment past EOF: %d", st);
  // filesz > memsz.
  write_elf("junk", 64, 1, 0, PGSIZE, 16, PGSIZE);
  CHECK((st = expect_exec_fails("junk", argv)) == 0, "filesz > memsz: %d", st);
  // vaddr + memsz wraps around.
  write_elf("junk", 64, 1, 0xFFFFFFFFFFFFF000ULL, 16, 0x2000, PGSIZE);
  CHECK((st = expect_exec_fails("junk", argv)) == 0, "vaddr+memsz overflow: %d", st);
  // A segment in kernel space / beyond MAXVA.
  write_elf("junk", 64, 1, KERNEL_DIRECT_MAP + KERNBASE, 16, PGSIZE, PGSIZE);
  CHECK((st = expect_exec_fails("junk", argv)) == 0, "segment in kernel space: %d", st);
  write_elf("junk", 64, 1, MAXVA - PGSIZE, 16, 4 * PGSIZE, PGSIZE);
  CHECK((st = expect_exec_fails("junk", argv)) == 0, "segment past MAXVA: %d", st);
  // More memory than the machine has: exec maps it lazily and succeeds (as
  // on Linux); the program (it loops) is killed, and every frame it cost
  // comes back (the case's leak check).
  write_elf("junk", 64, 1, 0, 16, 1ULL << 30, PGSIZE);
  {
    int pid = xfork();
    if (pid == 0) {
      exec("junk", argv);
      exit(2);
    }
    sleep(2);
    kill(pid);
    CHECK((st = xwait(pid)) == -1, "1 GiB segment: status %d, expected killed (-1)", st);
  }
  // Misaligned segment address.
  write_elf("junk", 64, 1, 0x123, 16, PGSIZE, PGSIZE);
  CHECK((st = expect_exec_fails("junk", argv)) == 0, "misaligned vaddr: %d", st);
  unlink("junk");
  unlink("empty");
  // Too many arguments, and arguments larger than the stack.
  char *many[MAXARG + 16];
  for (int i = 0; i < MAXARG + 15; i++) many[i] = "a";
  many[MAXARG + 15] = 0;
  CHECK((st = expect_exec_fails(self, many)) == 0, "%d arguments: %d", MAXARG + 15, st);
  static char longarg[1500];
  memset(longarg, 'z', sizeof longarg - 1);
  char *fat[8];
  for (int i = 0; i < 7; i++) fat[i] = longarg;
  fat[7] = 0;
  CHECK((st = expect_exec_fails(self, fat)) == 0, "arguments larger than the stack: %d", st);
}

// ---------------------------------------------------------------- bad pointers

static void t_bad_pointers(void) {
  uint64 bad[] = {
      unmapped_addr(),
      guard_page(),
      KERNBASE,
      KERNEL_DIRECT_MAP + KERNBASE,
      MAXVA - PGSIZE,
      MAXVA - 2 * PGSIZE,
      MAXVA,
      MAXVA + PGSIZE,
      0x0000800000000000ULL, // not a canonical Sv39 address
      0xFFFFFFFFFFFFF000ULL,
      0xFFFFFFFFFFFFFFFFULL,
  };
  make_file("bp", "0123456789abcdef", 16);
  int fd = open("bp", O_RDWR);
  EXPECT(fd >= 0);
  char *argv[] = {"x", 0};
  for (uint i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    void *b = ptr(bad[i]);
    CHECK(read(fd, b, 10) == -1, "read into %p did not fail", b);
    CHECK(write(fd, b, 10) == -1, "write from %p did not fail", b);
    CHECK(pipe(b) == -1, "pipe(%p) did not fail", b);
    CHECK(fstat(fd, b) == -1, "fstat into %p did not fail", b);
    CHECK(memstat(b) == -1, "memstat into %p did not fail", b);
    CHECK(open(b, O_RDONLY) == -1, "open(%p) did not fail", b);
    CHECK(open(b, O_CREATE | O_RDWR) == -1, "open(%p, O_CREATE) did not fail", b);
    CHECK(exec(b, argv) == -1, "exec(%p) did not fail", b);
    CHECK(exec(self, b) == -1, "exec(self, argv=%p) did not fail", b);
    char *badargv[] = {"x", b, 0};
    CHECK(exec(self, badargv) == -1, "exec(self, {x, %p}) did not fail", b);
    CHECK(unlink(b) == -1, "unlink(%p) did not fail", b);
    CHECK(mkdir(b) == -1, "mkdir(%p) did not fail", b);
    CHECK(chdir(b) == -1, "chdir(%p) did not fail", b);
    CHECK(mknod(b, 1, 0) == -1, "mknod(%p) did not fail", b);
    CHECK(link(b, "bp2") == -1, "link(%p, ...) did not fail", b);
    CHECK(link("bp", b) == -1, "link(..., %p) did not fail", b);
    // wait into a bad pointer fails; the child is reaped then or later.
    int pid = xfork();
    if (pid == 0) exit(0);
    CHECK(wait(b) == -1, "wait(%p) did not fail", b);
    int w = wait(0);
    CHECK(w == pid || w == -1, "second wait returned %d", w);
    CHECK(wait(0) == -1, "a child is left over");
  }
  // The file was not touched and the descriptor still works.
  char buf[17];
  EXPECT(slurp("bp", buf, 16) == 16 && memcmp(buf, "0123456789abcdef", 16) == 0);
  // Reading into the read-only text page fails and leaves the text alone.
  uint64 text0 = *(volatile uint64 *)ptr(0);
  int rfd = open("bp", O_RDONLY);
  CHECK(read(rfd, ptr(0), 8) == -1, "read into the text page did not fail");
  CHECK(read(rfd, ptr((uint64)&t_bad_pointers), 8) == -1, "read into own code did not fail");
  CHECK(*(volatile uint64 *)ptr(0) == text0, "read changed the text page");
  CHECK(fstat(rfd, ptr(0)) == -1, "fstat into the text page did not fail");
  CHECK(pipe(ptr(0)) == -1, "pipe into the text page did not fail");
  close(rfd);
  // Writing from the text page is fine: it is readable.
  EXPECT(write(fd, ptr(0), 8) == 8);
  close(fd);
  // Buffers that run off the end of the heap: -1 or a short count, no crash.
  char *top = sbrk(0);
  EXPECT(((uint64)top % PGSIZE) == 0 || sbrk(PGSIZE - (uint64)top % PGSIZE) != (char *)-1);
  EXPECT(sbrk(PGSIZE) != (char *)-1); // a page of our own below the break
  top = sbrk(0);
  fd = open("bp", O_RDWR);
  int r = read(fd, top - 8, 16);
  CHECK(r == -1 || r <= 8, "read across the break returned %d", r);
  close(fd);
  fd = open("bp", O_RDWR);
  r = write(fd, top - 8, 64);
  CHECK(r == -1 || r <= 8, "write across the break returned %d", r);
  close(fd);
  // A path that runs into unmapped memory without a terminator.
  memset(top - 8, 'q', 8);
  CHECK(open(top - 8, O_RDONLY) == -1, "open of an unterminated path did not fail");
  CHECK(open(top - 8, O_CREATE | O_RDWR) == -1, "create of an unterminated path did not fail");
  CHECK(exec(top - 8, argv) == -1, "exec of an unterminated path did not fail");
  unlink("bp");
  unlink("bp2");
}

static void t_long_paths(void) {
  char path[300];
  memset(path, 'a', sizeof path - 1);
  path[sizeof path - 1] = 0;
  char *argv[] = {"x", 0};
  CHECK(open(path, O_CREATE | O_RDWR) == -1, "open of a %d-byte path did not fail", (int)strlen(path));
  EXPECT(open(path, O_RDONLY) == -1);
  EXPECT(mkdir(path) == -1);
  EXPECT(chdir(path) == -1);
  EXPECT(unlink(path) == -1);
  EXPECT(mknod(path, 1, 0) == -1);
  EXPECT(exec(path, argv) == -1);
  make_file("lp", "", 0);
  EXPECT(link("lp", path) == -1);
  EXPECT(link(path, "lp2") == -1);
  // Many short components, longer than MAXPATH in total.
  for (int i = 0; i < 298; i += 2) {
    path[i] = 'b';
    path[i + 1] = '/';
  }
  EXPECT(open(path, O_CREATE | O_RDWR) == -1);
  EXPECT(mkdir(path) == -1);
  unlink("lp");
  // The file system still works.
  make_file("lp", "ok", 2);
  EXPECT(unlink("lp") == 0);
}

// ---------------------------------------------------------------- self-test
// Cases that must fail, to check the runner itself: build a program that
// defines UTESTS_SELFTEST and includes this file (tests/qemu/utselftest.c).
#ifdef UTESTS_SELFTEST
static void t_selftest_leak(void) {
  int pid = fork();
  if (pid == 0) {
    char *p = sbrk(32 * PGSIZE);
    for (int i = 0; i < 32; i++) p[i * PGSIZE] = 1;
    sleep(100000); // an orphan that keeps its frames past the runner's patience
  }
}
static void t_selftest_fail(void) { FAIL("deliberate failure %d", 42); }
static void t_selftest_killed(void) { *(volatile int *)ptr(0) = 1; }
static void t_selftest_status(void) { exit(3); }
#endif

// ---------------------------------------------------------------- the runner

struct test {
  const char *name;
  void (*fn)(void);
};

static struct test tests[] = {
    {"memstat", t_memstat},
    {"fork_exit_wait", t_fork_exit_wait},
    {"getpid", t_getpid},
    {"sleep_uptime", t_sleep_uptime},
    {"kill", t_kill},
    {"orphans", t_orphans},
    {"bad_syscall", t_bad_syscall},
    {"xv6_abi", t_xv6_abi},
    {"open_read_write", t_open_read_write},
    {"bad_fds", t_bad_fds},
    {"dup", t_dup},
    {"exit_closes_files", t_exit_closes_files},
    {"fstat", t_fstat},
    {"link_unlink", t_link_unlink},
    {"mkdir_chdir", t_mkdir_chdir},
    {"removed_cwd", t_removed_cwd},
    {"mknod", t_mknod},
    {"read_dir", t_read_dir},
    {"pipe", t_pipe},
    {"pipe_large", t_pipe_large},
    {"exec", t_exec},
    {"exec_errors", t_exec_errors},
    {"sbrk", t_sbrk},
    {"sbrk_lazy", t_sbrk_lazy},
    {"sbrk_child", t_sbrk_child},
    {"bad_pointers", t_bad_pointers},
    {"long_paths", t_long_paths},
    {"faults_kill", t_faults_kill},
    {"fork_until_fail", t_fork_until_fail},
    {"big_file", t_big_file},
    {"many_files", t_many_files},
    {"concurrent_files", t_concurrent_files},
    {"sbrk_exhaust", t_sbrk_exhaust},
    {"maxfile", t_maxfile}, // slow: by name only (see `slow` below)
#ifdef UTESTS_SELFTEST
    {"selftest_leak", t_selftest_leak},       {"selftest_fail", t_selftest_fail},
    {"selftest_killed", t_selftest_killed},   {"selftest_status", t_selftest_status},
#endif
};

static void t_warmup(void) {
  int p[2];
  if (pipe(p) == 0) {
    close(p[0]);
    close(p[1]);
  }
}

// Run one case in a child, with a watchdog; print its line. Returns 1 if it
// passed.
static int verbose; // -v: also print how many ticks each case took

static int run_case(struct test *t, int report, int check_leaks) {
  // Names the case a kernel panic interrupts (tools/run-tests reports it).
  if (report) printf("# run %s\n", t->name);
  long before = free_frames();
  int t0 = uptime();
  int pid = fork();
  if (pid < 0) {
    printf("FAIL %s: fork failed\n", t->name);
    return 0;
  }
  if (pid == 0) {
    cur = t->name;
    if (chdir("/utmp") < 0) FAIL("chdir /utmp failed");
    t->fn();
    exit(0);
  }
  int st = 0;
  int w = wait(&st);
  if (w != pid) {
    printf("FAIL %s: wait returned %d, expected %d\n", t->name, w, pid);
    return 0;
  }
  if (verbose && report) printf("# %s: %d ticks\n", t->name, uptime() - t0);
  long after = free_frames();
  // Orphans are reaped by init a little later: give them time.
  for (int i = 0; i < 10 && after < before; i++) {
    sleep(1);
    after = free_frames();
  }
  if (!report) return 1;
  if (st == 1) return 0; // the case printed its FAIL line
  if (st != 0) {
    if (st == KILLED)
      printf("FAIL %s: the test process was killed\n", t->name);
    else
      printf("FAIL %s: the test process exited with status %d\n", t->name, st);
    return 0;
  }
  if (check_leaks && before >= 0 && after < before) {
    printf("FAIL %s: leaked %d frames (free %d -> %d)\n", t->name, (int)(before - after),
           (int)before, (int)after);
    return 0;
  }
  printf("ok %s\n", t->name);
  return 1;
}

// Modes used by the exec tests: `utests -helper echo ARGS...` prints its
// arguments; `utests -helper argc ...` exits with argc.
static void helper(int argc, char *argv[]) {
  if (argc >= 3 && strcmp(argv[2], "echo") == 0) {
    char line[256];
    int n = 0;
    for (int i = 3; i < argc && n < 200; i++) {
      int len = strlen(argv[i]);
      if (n + len + 2 > (int)sizeof line) break;
      if (i > 3) line[n++] = ' ';
      memcpy(line + n, argv[i], len);
      n += len;
    }
    line[n++] = '\n';
    write(1, line, n);
  }
  exit(argc);
}

int main(int argc, char *argv[]) {
  prefault_data();
  if (argc >= 2 && strcmp(argv[1], "-helper") == 0) helper(argc, argv);
  if (argv[0][0] == '/')
    snprintf(self, sizeof self, "%s", argv[0]);
  else
    snprintf(self, sizeof self, "/%s", argv[0]);
  if (argc >= 2 && strcmp(argv[1], "-v") == 0) {
    verbose = 1;
    argv++;
    argc--;
  }

  mkdir("/utmp"); // may exist from an earlier run
  struct stat st;
  if (stat("/utmp", &st) < 0 || st.type != T_DIR) {
    printf("FAIL setup: cannot make /utmp\n");
    exit(1);
  }
  int leaks = free_frames() >= 0;
  if (!leaks) printf("FAIL memstat: memstat() failed; frame-leak checks are off\n");

  // Warm up: the first fork, pipe and wait may allocate things that stay.
  struct test warm = {"warmup", t_warmup};
  run_case(&warm, 0, 0);
  run_case(&warm, 0, 0);

  int passed = 0, failed = leaks ? 0 : 1;
  int ntests = sizeof tests / sizeof tests[0];
  for (int i = 0; i < ntests; i++) {
    // Cases that take minutes run only when named.
    int slow = strcmp(tests[i].name, "maxfile") == 0;
    int wanted = argc < 2 && !slow;
    for (int j = 1; j < argc; j++)
      if (strcmp(argv[j], tests[i].name) == 0) wanted = 1;
    if (!wanted) continue;
    if (run_case(&tests[i], 1, leaks))
      passed++;
    else
      failed++;
  }
  printf("utests: %d passed, %d failed\n", passed, failed);
  exit(failed == 0 ? 0 : 1);
}

// forkbench: the cost of fork and of a copy-on-write fault, in every fork
// mode the kernel offers (FORK_EAGER copies every page at fork, FORK_COW
// shares them, FORK_COW_AHEAD shares them and copies runs of pages ahead of
// sequential write faults), in one run.
//
//   forkbench [-i] [-r ROUNDS] [-o eager|cow|cow-ahead] [-s MIB]
//
// -o and -s restrict the run to one fork mode / one heap size (for quick
// experiments); the fault and three-generation figures then run only with
// no -s.
// -i: the machine runs under QEMU -icount shift=0, where the instret counter
//     is virtual nanoseconds (1 instruction = 1 ns): figures are exact and
//     repeatable. Without -i, the time CSR (10 MHz, host real time) is used
//     and each figure is the median of ROUNDS rounds.
//
// Output: a readable table, and one machine-readable line per figure:
//   csv,MODE,CASE,MIB,VALUE,UNIT
// that bench/run turns into CSV, JSON and a chart.
#include "kernel/types.h"
#include "kernel/memstat.h"
#include "kernel/stat.h"
#include "user/user.h"

#define PAGE 4096
#define MIB (1024 * 1024)
#define MAXROUNDS 32

static int icount;
static int rounds = 5;
static const char *only_mode; // -o
static int only_size = -1;    // -s

static inline uint64 rd_instret(void) {
  uint64 x;
  asm volatile("rdinstret %0" : "=r"(x)::"memory");
  return x;
}
static inline uint64 rd_time(void) {
  uint64 x;
  asm volatile("rdtime %0" : "=r"(x)::"memory");
  return x;
}

// The clock, in nanoseconds: exact instructions under icount, else 100 ns ticks.
static uint64 now_ns(void) { return icount ? rd_instret() : rd_time() * 100; }

static void sort(uint64 *v, int n) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
      uint64 t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
}

// The figure for a set of rounds: under icount every round is the same
// program on the same state, so the median is also the typical value.
static uint64 median(uint64 *v, int n) {
  sort(v, n);
  return v[n / 2];
}

static void print_fixed(uint64 ns) {
  // ns as microseconds with one decimal
  printf("%lu.%lu", ns / 1000, (ns % 1000) / 100);
}

static void csv(const char *mode, const char *name, int mib, uint64 value, const char *unit) {
  printf("csv,%s,%s,%d,%lu,%s\n", mode, name, mib, value, unit);
}

static void csv_us(const char *mode, const char *name, int mib, uint64 ns) {
  printf("csv,%s,%s,%d,", mode, name, mib);
  print_fixed(ns);
  printf(",us\n");
}

static uint64 frames_allocated(void) {
  struct memstat ms;
  memstat(&ms);
  return ms.frames_allocated;
}

static char *heap;
static int heap_pages;

// Make the touched heap exactly `mib` MiB (grow and touch, or shrink).
static int set_heap(int mib) {
  int pages = mib * (MIB / PAGE);
  if (!heap) heap = sbrk(0);
  if (pages > heap_pages) {
    if (sbrk((pages - heap_pages) * PAGE) == (char *)-1) return -1;
    for (int i = heap_pages; i < pages; i++) heap[(long)i * PAGE] = (char)i; // touch every page
  } else if (pages < heap_pages) {
    sbrk(-(heap_pages - pages) * PAGE);
  }
  heap_pages = pages;
  return 0;
}

// One round: fork, the child (optionally writing one byte in every page)
// exits, the parent waits. Returns ns, or 0 if fork failed.
static uint64 fork_round(int child_writes, int *failed) {
  uint64 t0 = now_ns();
  int pid = fork();
  if (pid < 0) {
    *failed = 1;
    return 0;
  }
  if (pid == 0) {
    if (child_writes)
      for (int i = 0; i < heap_pages; i++) heap[(long)i * PAGE] = 1;
    exit(0);
  }
  int status;
  wait(&status);
  uint64 t1 = now_ns();
  if (status != 0) *failed = 1; // the child died (out of memory)
  return t1 - t0;
}

static void bench_fork(const char *mode, int mib, int child_writes) {
  uint64 v[MAXROUNDS];
  int failed = 0;
  if (set_heap(mib) < 0) {
    printf("%-6s %-12s %3d MiB: cannot grow the heap\n", mode, child_writes ? "fork+write" : "fork", mib);
    return;
  }
  uint64 before = frames_allocated();
  fork_round(child_writes, &failed); // warm-up, and the frame count of one round
  uint64 frames = frames_allocated() - before;
  for (int r = 0; r < rounds && !failed; r++) v[r] = fork_round(child_writes, &failed);
  const char *name = child_writes ? "fork_write" : "fork";
  printf("%-6s %-12s %3d MiB: ", mode, name, mib);
  if (failed) {
    printf("fails (out of memory)\n");
    csv(mode, name, mib, 0, "fail");
    return;
  }
  uint64 m = median(v, rounds);
  print_fixed(m);
  printf(" us/round, %lu frames allocated\n", frames);
  csv_us(mode, name, mib, m);
  if (!child_writes) csv(mode, "fork_frames", mib, frames, "frames");
}

// The cost of one COW fault: fork a child that keeps sharing the heap, then
// time the parent's first store to each page (each one copies).
static void bench_fault(void) {
  int pages = 256;
  set_heap(1);
  int fds[2];
  pipe(fds);
  int pid = fork();
  if (pid == 0) {
    char c;
    close(fds[1]);
    read(fds[0], &c, 1); // hold the shared pages until the parent is done
    exit(0);
  }
  close(fds[0]);
  uint64 v[256];
  for (int i = 0; i < pages; i++) {
    volatile char *p = heap + (long)i * PAGE;
    uint64 t0 = now_ns();
    *p = 2;
    v[i] = now_ns() - t0;
  }
  write(fds[1], "x", 1);
  close(fds[1]);
  wait(0);
  uint64 fault = median(v, pages);

  // The floor: a null system call round trip plus a 4 KiB copy in user space.
  for (int i = 0; i < pages; i++) {
    uint64 t0 = now_ns();
    getpid();
    v[i] = now_ns() - t0;
  }
  uint64 sys = median(v, pages);
  static char src[PAGE] __attribute__((aligned(64))), dst[PAGE] __attribute__((aligned(64)));
  for (int i = 0; i < pages; i++) {
    uint64 t0 = now_ns();
    memcpy(dst, src, PAGE);
    v[i] = now_ns() - t0;
  }
  uint64 copy = median(v, pages);
  const char *unit = icount ? "instructions" : "ns";
  printf("cow fault: %lu %s; floor %lu (null syscall %lu + 4 KiB user copy %lu); fault/floor %lu.%lu%lu\n",
         fault, unit, sys + copy, sys, copy, fault / (sys + copy), (fault * 10 / (sys + copy)) % 10,
         (fault * 100 / (sys + copy)) % 10);
  csv("cow", "fault", 0, fault, unit);
  csv("-", "floor", 0, sys + copy, unit);
  csv("-", "null_syscall", 0, sys, unit);
  csv("-", "copy_4k", 0, copy, unit);
}

// A store, and the COW copies and reuses it caused (memstat around it; the
// first memstat call makes this stack page private, so it is not counted).
struct counted {
  uint64 copies, reuses;
};
static struct counted counted_store(volatile char *p, char v) {
  struct memstat a, b;
  memstat(&a);
  memstat(&a);
  *p = v;
  memstat(&b);
  struct counted c = {b.cow_copies - a.cow_copies, b.cow_reuses - a.cow_reuses};
  return c;
}

// P1 forks P2, P2 forks P3; P3 writes, P1 writes, P2 writes (pipes order the
// three stores). Each process counts what its own store cost.
static void bench_threegen(void) {
  static volatile char page[PAGE] __attribute__((aligned(PAGE)));
  page[0] = 1;
  int go1[2], go2[2], res[2];
  pipe(go1);
  pipe(go2);
  pipe(res);
  struct counted c;
  char x;
  int p2 = fork();
  if (p2 == 0) {
    int p3 = fork();
    if (p3 == 0) {
      c = counted_store(page, 3);
      write(res[1], &c, sizeof c);
      write(go1[1], "x", 1);
      exit(page[0] == 3 ? 0 : 1);
    }
    read(go2[0], &x, 1);
    c = counted_store(page, 2);
    write(res[1], &c, sizeof c);
    wait(0);
    exit(page[0] == 2 ? 0 : 1);
  }
  read(go1[0], &x, 1);
  c = counted_store(page, 4);
  write(res[1], &c, sizeof c);
  write(go2[1], "x", 1);
  int status;
  wait(&status);
  struct counted p3, p1, p2c;
  read(res[0], &p3, sizeof p3);
  read(res[0], &p1, sizeof p1);
  read(res[0], &p2c, sizeof p2c);
  if (page[0] != 4 || status != 0) printf("three generations: a process saw another's store\n");
  printf("three generations: P3 store %lu copy %lu reuse, P1 store %lu copy %lu reuse, P2 store %lu copy %lu reuse\n",
         p3.copies, p3.reuses, p1.copies, p1.reuses, p2c.copies, p2c.reuses);
  csv("cow", "threegen_copies", 0, p3.copies + p1.copies + p2c.copies, "pages");
  csv("cow", "threegen_reuses", 0, p3.reuses + p1.reuses + p2c.reuses, "pages");
  for (int i = 0; i < 2; i++) {
    close(go1[i]);
    close(go2[i]);
    close(res[i]);
  }
}

int main(int argc, char *argv[]) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-i") == 0) icount = 1;
    else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) only_mode = argv[++i];
    else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) only_size = atoi(argv[++i]);
    else {
      fprintf(2, "usage: forkbench [-i] [-r ROUNDS] [-o eager|cow|cow-ahead] [-s MIB]\n");
      return 2;
    }
  }
  if (rounds < 1) rounds = 1;
  if (rounds > MAXROUNDS) rounds = MAXROUNDS;
  printf("forkbench: clock %s, %d rounds per figure\n", icount ? "instret (icount: 1 instr = 1 ns)" : "time",
         rounds);
  // Start on a timer tick. Under icount everything after this point happens
  // at the same instruction count in every run (the disk reads of booting and
  // of exec finish at host-dependent times, so the phase of the 1 ms timer
  // relative to the program would otherwise differ from run to run).
  sleep(1);

  int mode0 = forkmode(FORK_COW); // the boot default, restored at the end
  forkmode(mode0);
  static const int sizes[] = {0, 1, 4, 16, 48, 64};
  static const struct {
    const char *name;
    int mode;
  } modes[] = {{"eager", FORK_EAGER}, {"cow", FORK_COW}, {"cow-ahead", FORK_COW_AHEAD}};
  for (int m = 0; m < 3; m++) {
    if (only_mode && strcmp(only_mode, modes[m].name) != 0) continue;
    forkmode(modes[m].mode);
    for (int s = 0; s < 6; s++) {
      if (only_size >= 0 && sizes[s] != only_size) continue;
      bench_fork(modes[m].name, sizes[s], 0);
      if (sizes[s] == 48) bench_fork(modes[m].name, 48, 1);
    }
  }
  // The single fault and the three generations are about plain COW (copy-
  // ahead would turn the 256 sequential stores of bench_fault into runs).
  forkmode(FORK_COW);
  if (only_size < 0) {
    set_heap(0);
    bench_fault();
    bench_threegen();
  }
  forkmode(mode0);
  printf("forkbench: done\n");
  return 0;
}

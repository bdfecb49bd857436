// swaptest: the in-QEMU test suite of swap and reclaim. Run it on a small
// machine (tools/qemu-run --mem 32) with a swap disk.
//
//   swaptest            run every case but "oom"
//   swaptest NAME ...   run the named cases only ("oom" wants a small swap
//                       disk: tools/qemu-run --mem 32 --swap 16)
//
// One line per case, "ok NAME [details]" or "FAIL NAME: reason"; exit status
// 0 iff every case passed. As in maptest, each case runs in a process of its
// own; afterwards the harness checks vmaudit() == 0, that free frames (plus
// page-cache pages, which reclaim gives back on demand) are back to their
// value before the case, and that every swap slot is free again but those
// holding pages of the sleeping init and shell.
//
// The user stack is one page: no big local arrays.

#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "kernel/param.h"
#include "kernel/riscv.h"
#include "kernel/memstat.h"
#include "kernel/syscall.h"
#include "user/user.h"

#define PG PGSIZE
#define MAP_FAILED ((void *)-1)

// ------------------------------------------------------------------ results

static char msg[200];
static int resfd = -1;

#define FAIL(...)                              \
  do {                                         \
    snprintf(msg, sizeof msg, __VA_ARGS__);    \
    return -1;                                 \
  } while (0)
#define CHECK(c, ...)                          \
  do {                                         \
    if (!(c)) FAIL(__VA_ARGS__);               \
  } while (0)

static void ms(struct memstat *m) {
  if (memstat(m) < 0) {
    printf("swaptest: memstat failed\n");
    exit(3);
  }
}

static uint64 now_ms(void) {
  uint64 t;
  asm volatile("rdtime %0" : "=r"(t)::"memory");
  return t / 10000; // QEMU virt: 10 MHz timebase
}

// Page i of a region written with tag holds pat(i, tag, w) in word w. Only
// a few words per page are written and checked: the point is where each
// page went, not the cost of filling it.
#define K1 0x9E3779B97F4A7C15ULL
#define K2 0xD6E8FEB86659FD93ULL
static inline uint64 pat(uint64 i, uint64 tag, uint64 w) { return (i + 1) * K1 + tag * K2 + w; }
static const int WORDS[] = {0, 1, 255, 511};

static void put_page(char *p, uint64 i, uint64 tag) {
  uint64 *w = (uint64 *)p;
  for (int k = 0; k < 4; k++) w[WORDS[k]] = pat(i, tag, WORDS[k]);
}
static int page_ok(const char *p, uint64 i, uint64 tag) {
  const volatile uint64 *w = (const volatile uint64 *)p;
  for (int k = 0; k < 4; k++)
    if (w[WORDS[k]] != pat(i, tag, WORDS[k])) return 0;
  return 1;
}
static void fill(char *base, uint64 pages, uint64 tag) {
  for (uint64 i = 0; i < pages; i++) put_page(base + i * PG, i, tag);
}
// -1 if every page holds its pattern, else the first bad page.
static long verify(const char *base, uint64 pages, uint64 tag) {
  for (uint64 i = 0; i < pages; i++)
    if (!page_ok(base + i * PG, i, tag)) return (long)i;
  return -1;
}

static uint64 total_frames(void) {
  struct memstat m;
  ms(&m);
  return m.total_frames;
}

// A child that touches `pages` fresh pages (pushing everything else out)
// and exits.
static int push(uint64 pages) {
  int pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    char *p = sbrk((int)(pages * PG));
    if (p == (char *)-1) exit(2);
    fill(p, pages, 99);
    exit(verify(p, pages, 99) < 0 ? 0 : 1);
  }
  int st;
  wait(&st);
  return st;
}

static int readn(int fd, void *buf, int n) {
  int got = 0;
  while (got < n) {
    int r = read(fd, (char *)buf + got, n - got);
    if (r <= 0) break;
    got += r;
  }
  return got;
}

// ------------------------------------------------------------------ cases

// One process touches 1.5x the machine's memory and checks every page.
static int case_fill(void) {
  uint64 pages = total_frames() * 3 / 2;
  struct memstat a, b;
  ms(&a);
  char *p = sbrk((int)(pages * PG));
  CHECK(p != (char *)-1, "sbrk of %lu pages failed", pages);
  fill(p, pages, 1);
  long bad = verify(p, pages, 1);
  CHECK(bad < 0, "page %ld of %lu lost its contents", bad, pages);
  bad = verify(p, pages, 1); // again: everything comes back from swap once more
  CHECK(bad < 0, "page %ld of %lu lost its contents (second pass)", bad, pages);
  ms(&b);
  CHECK(b.swap_outs > a.swap_outs && b.swap_ins > a.swap_ins, "nothing went through swap");
  snprintf(msg, sizeof msg, "%lu pages: %lu out, %lu in", pages, b.swap_outs - a.swap_outs,
           b.swap_ins - a.swap_ins);
  return 0;
}

// A parent with a large heap forks three children that verify and modify
// it under pressure: each sees its own writes only, and the parent its own.
static int case_fork3(void) {
  uint64 pages = total_frames() * 3 / 5;
  char *p = sbrk((int)(pages * PG));
  CHECK(p != (char *)-1, "sbrk failed");
  fill(p, pages, 7);
  int pids[3];
  for (int c = 0; c < 3; c++) {
    pids[c] = fork();
    CHECK(pids[c] >= 0, "fork %d failed", c);
    if (pids[c] == 0) {
      if (verify(p, pages, 7) >= 0) exit(1);
      fill(p, pages, 100 + c);
      if (verify(p, pages, 100 + c) >= 0) exit(2);
      exit(0);
    }
  }
  for (int c = 0; c < 3; c++) {
    int st = -9;
    wait(&st);
    CHECK(st == 0, "a child failed (status %d)", st);
  }
  long bad = verify(p, pages, 7);
  CHECK(bad < 0, "the parent's page %ld changed", bad);
  return 0;
}

// A parent and three children share a heap after fork. Pushed out to swap
// and read back by all four, each page is read from the disk about once:
// the family shares one frame again.
static int case_family(void) {
  uint64 pages = total_frames() / 4;
  char *p = sbrk((int)(pages * PG));
  CHECK(p != (char *)-1, "sbrk failed");
  fill(p, pages, 3);
  int go[3][2], done[2];
  CHECK(pipe(done) == 0, "pipe failed");
  for (int c = 0; c < 3; c++) {
    CHECK(pipe(go[c]) == 0, "pipe failed");
    int pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
      char x;
      close(go[c][1]);
      read(go[c][0], &x, 1); // wait until the family is in swap
      char r = verify(p, pages, 3) < 0 ? 'y' : 'n';
      write(done[1], &r, 1);
      exit(0);
    }
    close(go[c][0]);
  }
  int st = push(total_frames() * 6 / 5);
  CHECK(st == 0, "the pushing child failed (%d)", st);
  struct memstat a, b;
  ms(&a);
  struct vmmap maps[16];
  int n = vmmap(0, maps, 16);
  uint64 out = 0;
  for (int i = 0; i < n; i++)
    if (maps[i].kind == VMMAP_HEAP) out += maps[i].swapped;
  CHECK(out >= pages / 2, "only %lu of %lu heap pages went to swap", out, pages);
  long bad = verify(p, pages, 3);
  for (int c = 0; c < 3; c++) write(go[c][1], "g", 1);
  for (int c = 0; c < 3; c++) {
    char r = 0;
    CHECK(read(done[0], &r, 1) == 1 && r == 'y', "a child found wrong contents");
  }
  for (int c = 0; c < 3; c++) wait(0);
  CHECK(bad < 0, "the parent's page %ld is wrong", bad);
  ms(&b);
  uint64 reads = b.swap_ins - a.swap_ins;
  // Each of the `out` pages is read once; the children's own stacks and
  // the like add a few.
  CHECK(reads <= out + 64, "%lu pages in swap read back %lu times", out, reads);
  CHECK(b.swap_cache_hits - a.swap_cache_hits >= out, "%lu swap-cache hits for %lu pages shared by 4",
        b.swap_cache_hits - a.swap_cache_hits, out);
  snprintf(msg, sizeof msg, "%lu pages in swap, %lu reads, %lu swap-cache hits", out, reads,
           b.swap_cache_hits - a.swap_cache_hits);
  return 0;
}

// Stores through a MAP_SHARED mapping made under memory pressure reach the
// file: reclaim writes dirty file pages back instead of losing them.
static int case_file(void) {
  const char *name = "swaptest.f";
  uint64 pages = total_frames() / 4;
  int fd = open(name, O_CREATE | O_RDWR | O_TRUNC);
  CHECK(fd >= 0, "open failed");
  static char zero[PG];
  for (uint64 i = 0; i < pages; i++) CHECK(write(fd, zero, PG) == PG, "write failed");
  char *m = mmap(0, pages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED, "mmap failed");
  fill(m, pages, 11);
  struct memstat a, b;
  ms(&a);
  int st = push(total_frames() * 6 / 5);
  CHECK(st == 0, "the pushing child failed (%d)", st);
  ms(&b);
  CHECK(b.reclaim_writebacks > a.reclaim_writebacks, "reclaim wrote no dirty file page back");
  long bad = verify(m, pages, 11);
  CHECK(bad < 0, "mapped page %ld is wrong after the pressure", bad);
  // read() sees the same pages.
  static char buf[PG];
  int rfd = open(name, O_RDONLY);
  CHECK(rfd >= 0, "open for reading failed");
  for (uint64 i = 0; i < pages; i++)
    CHECK(readn(rfd, buf, PG) == PG && page_ok(buf, i, 11), "read() of page %lu disagrees", i);
  close(rfd);
  munmap(m, pages * PG);
  close(fd);
  snprintf(msg, sizeof msg, "%lu file pages written back by reclaim", b.reclaim_writebacks - a.reclaim_writebacks);
  unlink(name);
  return 0;
}

// A parent and three children share anonymous memory (MAP_SHARED |
// MAP_ANONYMOUS). Pushed out to swap, it comes back with one read per page
// for all four; the children's stores reach everybody, and survive being
// pushed out again.
static uint64 shared_swapped(char *m) {
  struct vmmap maps[16];
  int n = vmmap(0, maps, 16);
  for (int i = 0; i < n; i++)
    if (maps[i].start == (uint64)m) return maps[i].swapped;
  return 0;
}
static long verify_mixed(const char *m, uint64 pages) {
  for (uint64 i = 0; i < pages; i++)
    if (!page_ok(m + i * PG, i, 20 + i % 3)) return (long)i;
  return -1;
}
static int case_shared(void) {
  uint64 pages = total_frames() / 4;
  char *m = mmap(0, pages * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED, "mmap failed");
  fill(m, pages, 5);
  int go[3][2], done[2];
  CHECK(pipe(done) == 0, "pipe failed");
  for (int c = 0; c < 3; c++) {
    CHECK(pipe(go[c]) == 0, "pipe failed");
    int pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
      char x;
      close(go[c][1]);
      read(go[c][0], &x, 1); // wait until the memory is in swap
      char r = verify(m, pages, 5) < 0 ? 'y' : 'n';
      write(done[1], &r, 1);
      read(go[c][0], &x, 1); // everybody has checked: store
      for (uint64 i = c; i < pages; i += 3) put_page(m + i * PG, i, 20 + c);
      write(done[1], &r, 1);
      exit(0);
    }
    close(go[c][0]);
  }
  int st = push(total_frames() * 6 / 5);
  CHECK(st == 0, "the pushing child failed (%d)", st);
  uint64 out = shared_swapped(m);
  CHECK(out >= pages / 2, "only %lu of %lu shared pages went to swap", out, pages);
  struct memstat a, b;
  ms(&a);
  long bad = verify(m, pages, 5);
  for (int c = 0; c < 3; c++) write(go[c][1], "g", 1);
  for (int c = 0; c < 3; c++) {
    char r = 0;
    CHECK(read(done[0], &r, 1) == 1 && r == 'y', "a child found wrong contents");
  }
  ms(&b);
  for (int c = 0; c < 3; c++) write(go[c][1], "s", 1);
  for (int c = 0; c < 3; c++) {
    char r = 0;
    CHECK(read(done[0], &r, 1) == 1, "a child died storing");
  }
  for (int c = 0; c < 3; c++) wait(0);
  CHECK(bad < 0, "the parent's shared page %ld is wrong", bad);
  uint64 reads = b.swap_ins - a.swap_ins;
  CHECK(reads <= out + 64, "%lu shared pages in swap read back %lu times", out, reads);
  bad = verify_mixed(m, pages);
  CHECK(bad < 0, "page %ld: a child's store did not reach the parent", bad);
  // Out again with the children's stores, and back.
  st = push(total_frames() * 6 / 5);
  CHECK(st == 0, "the pushing child failed (%d)", st);
  uint64 out2 = shared_swapped(m);
  CHECK(out2 >= pages / 2, "only %lu of %lu shared pages went to swap the second time", out2, pages);
  bad = verify_mixed(m, pages);
  CHECK(bad < 0, "shared page %ld lost a child's store in swap", bad);
  snprintf(msg, sizeof msg, "%lu of %lu shared pages in swap, read back by 4 processes with %lu reads; %lu out again",
           out, pages, reads, out2);
  return 0;
}

static void touch_all(void);

// Errors of the swap disk kill the process that needed the page, never the
// kernel. Every write failing: nothing goes out (a page whose write failed
// stays in memory), so a process filling 1.5x memory cannot get its pages
// and fails alone (killed, or its sbrk refused). Every read failing: a
// process whose pages are in swap dies at its first fault on one. Then
// the disk works again, and the harness finds every frame and slot back.
static int case_diskerr(void) {
  uint64 pages = total_frames() * 3 / 2;
  faultinject(FAULT_SWAP, 0); // every request from now on fails
  int pid = fork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    char *p = sbrk((int)(pages * PG));
    if (p == (char *)-1) exit(3);
    fill(p, pages, 1);
    exit(0);
  }
  int st = 0;
  wait(&st);
  int failed = faultinject(FAULT_SWAP, -1);
  CHECK(st == -1 || st == 3, "filling memory with every swap write failing: exit status %d", st);
  CHECK(failed > 0, "no swap request failed");
  int writes_failed = failed, first = st;

  // The failing reads must hit the child alone: every other process may
  // have pages in swap after its fill, and would die at its next fault on
  // one. So the child fills, then waits while we read ours back; nobody
  // else runs (the harness waits for us in the kernel).
  int ready[2], go[2];
  CHECK(pipe(ready) == 0 && pipe(go) == 0, "pipe failed");
  pid = fork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    char *p = sbrk((int)(pages * PG));
    if (p == (char *)-1) exit(3);
    fill(p, pages, 2); // most of it is in swap now
    char c;
    write(ready[1], "r", 1);
    read(go[0], &c, 1);
    faultinject(FAULT_SWAP, 0);
    verify(p, pages, 2); // its first swapped page cannot be read
    exit(0);
  }
  close(ready[1]);
  char x = 0;
  int got = read(ready[0], &x, 1);
  close(ready[0]);
  touch_all(); // our own pages back in memory, before reads fail
  write(go[1], "g", 1);
  wait(&st);
  failed = faultinject(FAULT_SWAP, -1);
  close(go[1]);
  CHECK(got == 1, "the child died before its pages were in swap (status %d)", st);
  CHECK(st == -1, "reading swap with every read failing: exit status %d, not killed", st);
  CHECK(failed > 0, "no swap read failed");
  snprintf(msg, sizeof msg, "writes failing: child %s (%d requests failed); reads failing: child killed",
           first == 3 ? "refused memory" : "killed", writes_failed);
  return 0;
}

// Memory and swap both full: the biggest process is killed with a message,
// everyone else goes on.
static int case_oom(void) {
  struct memstat m;
  ms(&m);
  uint64 pages = m.total_frames + m.swap_slots + 1024; // more than there is
  int pid = fork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    // Grow lazily, so that the faults (not sbrk) run out.
    char *p = sbrklazy((int)(pages * PG));
    if (p == (char *)-1) exit(2);
    fill(p, pages, 5);
    exit(0); // not reached: killed on the way
  }
  int st = 0;
  wait(&st);
  CHECK(st == -1, "the hog was not killed (status %d)", st);
  // The machine still works.
  st = push(total_frames() / 2);
  CHECK(st == 0, "a later process could not get memory (%d)", st);
  return 0;
}

// ------------------------------------------------------------------ harness

struct tcase {
  const char *name;
  int (*fn)(void);
  int by_default;
};

static struct tcase cases[] = {
    {"fill", case_fill, 1}, {"fork3", case_fork3, 1}, {"family", case_family, 1},
    {"file", case_file, 1}, {"shared", case_shared, 1},
    {"diskerr", case_diskerr, 1}, {"oom", case_oom, 0},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

// The case's memory pressure sends the harness's own pages to swap too.
// Read every page of every mapping of ours back in, so that the harness
// holds no slot when it compares free slots before and after.
static void touch_all(void) {
  static struct vmmap maps[32];
  int n = vmmap(0, maps, 32);
  for (int i = 0; i < n; i++) {
    if (!(maps[i].prot & PROT_READ)) continue;
    for (uint64 a = maps[i].start; a < maps[i].end; a += PG) (void)*(volatile char *)a;
  }
}

// Pages other processes (init, the shell) have in swap: the pressure of a
// case may push theirs out too, and they stay there while those sleep.
static uint64 others_swapped(void) {
  static struct vmmap maps[32];
  uint64 n = 0;
  for (int pid = 1; pid < 200; pid++) {
    if (pid == getpid()) continue;
    int k = vmmap(pid, maps, 32);
    for (int i = 0; i < k; i++) n += maps[i].swapped;
  }
  return n;
}

static int run_case(struct tcase *t) {
  struct memstat before, after;
  static char line[sizeof msg + 8];
  uint64 others_before = others_swapped();
  ms(&before);
  uint64 t0 = now_ms();
  int rp[2];
  if (pipe(rp) < 0) {
    printf("FAIL %s: pipe failed\n", t->name);
    return -1;
  }
  int pid = fork();
  if (pid < 0) {
    printf("FAIL %s: fork failed\n", t->name);
    return -1;
  }
  if (pid == 0) {
    close(rp[0]);
    resfd = rp[1];
    int r = t->fn();
    line[0] = r == 0 ? '0' : '1';
    strcpy(line + 1, msg);
    write(resfd, line, strlen(line) + 1);
    exit(r == 0 ? 0 : 1);
  }
  close(rp[1]);
  int st = -2;
  int w = wait(&st);
  int n = readn(rp[0], line, sizeof line - 1);
  close(rp[0]);
  line[n > 0 ? n : 0] = 0;
  unlink("swaptest.f");
  touch_all();
  int violations = vmaudit();
  uint64 others_after = others_swapped();
  ms(&after);
  long dfree = (long)(after.free_frames + after.cache_pages) - (long)(before.free_frames + before.cache_pages);
  int ok = 0;
  if (w != pid) printf("FAIL %s: wait returned %d\n", t->name, w);
  else if (n <= 0) printf("FAIL %s: the case process died (status %d)\n", t->name, st);
  else if (line[0] != '0') printf("FAIL %s: %s\n", t->name, line + 1);
  else if (st != 0) printf("FAIL %s: case process exit status %d\n", t->name, st);
  else if (violations != 0) printf("FAIL %s: vmaudit found %d violations\n", t->name, violations);
  else if (dfree < 0) printf("FAIL %s: %ld frames fewer free (or cached) than before\n", t->name, -dfree);
  else if (after.swap_free + others_after != before.swap_free + others_before)
    printf("FAIL %s: %lu swap slots free after, %lu before (other processes: %lu in swap, %lu before)\n",
           t->name, after.swap_free, before.swap_free, others_after, others_before);
  else ok = 1;
  if (ok) printf("ok %s%s%s (%lu ms)\n", t->name, line[1] ? " " : "", line + 1, now_ms() - t0);
  return ok ? 0 : -1;
}

int main(int argc, char **argv) {
  touch_all(); // every page of ours resident before the first case
  struct memstat m;
  ms(&m);
  printf("swaptest: %lu frames, %lu free, %lu swap slots\n", m.total_frames, m.free_frames, m.swap_slots);
  if (m.swap_slots == 0) {
    printf("FAIL swaptest: no swap disk\n");
    return 1;
  }
  int failed = 0, ran = 0;
  for (int i = 0; i < NCASES; i++) {
    int want = argc == 1 && cases[i].by_default;
    for (int j = 1; j < argc; j++)
      if (strcmp(argv[j], cases[i].name) == 0) want = 1;
    if (!want) continue;
    ran++;
    if (run_case(&cases[i]) < 0) failed++;
  }
  for (int j = 1; j < argc; j++) {
    int known = 0;
    for (int i = 0; i < NCASES; i++)
      if (strcmp(argv[j], cases[i].name) == 0) known = 1;
    if (!known) {
      printf("FAIL %s: no such case\n", argv[j]);
      failed++;
    }
  }
  printf("swaptest: %d cases, %d failed\n", ran, failed);
  return failed ? 1 : 0;
}

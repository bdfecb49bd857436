// cowtest: the in-QEMU test suite of copy-on-write fork.
//
//   cowtest            run every case
//   cowtest NAME ...   run the named cases only
//
// One line per case, "ok NAME [details]" or "FAIL NAME: reason"; exit status
// 0 iff every case passed.
//
// How a case runs: the harness reads memstat, forks a case process that runs
// the case and sends its one-line result back through a pipe, waits for it,
// and then checks that vmaudit() finds no violation and that free_frames is
// back to its value before the case. A case whose process dies, or that
// leaks or corrupts the frame table, fails even if its own checks passed.
//
// Exact counts. The cow_* counters are global, so a case measures a delta
// only around a "window" in which it alone can fault: every other process of
// the case is blocked in read() or wait(). Stacks are the trap: the user
// stack is one page, shared after fork like everything else, so the first
// store to it after a fork is a COW fault. cfork() therefore makes both
// sides store to their stacks and then handshake, before anybody measures.
// No case writes globals while another process measures.
//
// Layout facts used (xv6's, see kernel/proc/exec.cpp): text from 0 to etext,
// data from the next page to end, one unmapped guard page, USERSTACK stack
// pages, then the heap up to sbrk(0). The stack is a single page: keep
// frames small (no big local arrays).

#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "kernel/param.h"
#include "kernel/riscv.h"
#include "kernel/memlayout.h"
#include "kernel/memstat.h"
#include "user/user.h"

extern char etext[], end[];

#define PG PGSIZE
#define TAG_ORIG 0x0A11CE


// ------------------------------------------------------------------ results

static char msg[200]; // the case's result line tail (written by the case process only)
static int resfd = -1; // write end of the harness's result pipe (case process only)

#define FAIL(...)                              \
  do {                                         \
    snprintf(msg, sizeof msg, __VA_ARGS__);    \
    return -1;                                 \
  } while (0)
#define CHECK(c, ...)                          \
  do {                                         \
    if (!(c)) FAIL(__VA_ARGS__);               \
  } while (0)

// ------------------------------------------------------------------ helpers

static uint64 now_ns(void) {
  uint64 t;
  asm volatile("rdtime %0" : "=r"(t)::"memory");
  return t * 100; // QEMU virt: 10 MHz timebase
}

// Frames in use are counted against what is free or only cached: the page
// cache takes free frames as this program's own text is paged in, and gives
// them back (reclaims them) when memory is needed, so "free" here means
// free_frames + cache_pages.
static void ms(struct memstat *m) {
  if (memstat(m) < 0) {
    printf("cowtest: memstat failed\n");
    exit(3);
  }
  m->free_frames += m->cache_pages;
}

// The content of the word at addr for a writer identified by tag.
#define K1 0x9E3779B97F4A7C15ULL
#define K2 0xD6E8FEB86659FD93ULL

static void fill(void *p, uint64 bytes, uint64 tag) {
  uint64 t = tag * K2;
  uint64 *w = (uint64 *)p, *e = (uint64 *)((char *)p + bytes);
  for (; w < e; w++) *w = (uint64)w * K1 + t;
}

// 0 if [p, p+bytes) holds tag's pattern; otherwise the bad address.
static uint64 check(void *p, uint64 bytes, uint64 tag) {
  uint64 t = tag * K2;
  uint64 *w = (uint64 *)p, *e = (uint64 *)((char *)p + bytes);
  for (; w < e; w++)
    if (*w != (uint64)w * K1 + t) return (uint64)w;
  return 0;
}

// One store per page (the cheapest way to take one COW fault per page).
static void poke_pages(char *p, uint64 npages, uint64 tag) {
  for (uint64 i = 0; i < npages; i++) *(volatile uint64 *)(p + i * PG) = tag + i;
}

// Make sure this process's stack page is private now (one store to it).
__attribute__((noinline)) static void touch_stack(void) {
  volatile uint64 x = 1;
  (void)x;
}

static int readn(int fd, void *buf, int n) {
  int got = 0;
  while (got < n) {
    int r = read(fd, (char *)buf + got, n - got);
    if (r <= 0) return got;
    got += r;
  }
  return got;
}

static void put1(int fd) {
  char c = 'x';
  write(fd, &c, 1);
}
static void get1(int fd) {
  char c;
  read(fd, &c, 1);
}

// fork, then make both stacks private and handshake both ways, so that when
// either side returns the other one has already taken its stack fault.
static int cfork(void) {
  int a[2], b[2];
  if (pipe(a) < 0) return -1;
  if (pipe(b) < 0) {
    close(a[0]);
    close(a[1]);
    return -1;
  }
  int pid = fork();
  if (pid == 0 && resfd >= 0) {
    close(resfd); // only the case process reports
    resfd = -1;
  }
  touch_stack();
  if (pid == 0) {
    put1(a[1]);
    get1(b[0]);
  } else if (pid > 0) {
    get1(a[0]);
    put1(b[1]);
  }
  close(a[0]);
  close(a[1]);
  close(b[0]);
  close(b[1]);
  return pid;
}

// Pages the process maps now (present in its page table): text and data
// are paged in on first touch, so ask the kernel rather than count the
// layout. The first call pages in the array the answer is copied into.
static uint64 mapped_pages(void) {
  static struct vmmap v[64];
  int n = vmmap(0, v, 64);
  n = vmmap(0, v, 64);
  uint64 pages = 0;
  for (int i = 0; i < n; i++) pages += v[i].resident;
  return pages;
}

static char *grow(uint64 npages) {
  char *p = sbrk((int)(npages * PG));
  return p == (char *)-1 ? 0 : p;
}

// ------------------------------------------------------------------ big

// A heap of more than half of free memory: an eager fork could not copy it.
static int case_big(void) {
  struct memstat m0, m1, a, b;
  ms(&m0);
  uint64 H = m0.free_frames / 2 + m0.free_frames / 16;
  char *heap = grow(H);
  CHECK(heap, "sbrk of %lu pages failed (free %lu)", H, m0.free_frames);
  fill(heap, H * PG, 1);
  uint64 expect_shared = mapped_pages();
  ms(&m0);
  int pid = cfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    ms(&a);
    uint64 bad = check(heap, H * PG, 1);
    ms(&b);
    if (bad) exit(2);
    if (b.cow_copies != a.cow_copies || b.cow_faults != a.cow_faults) exit(3);
    exit(0);
  }
  ms(&m1);
  ms(&a);
  uint64 bad = check(heap, H * PG, 1);
  ms(&b);
  int st = -2;
  wait(&st);
  CHECK(!bad, "parent: wrong content at %p", (void *)bad);
  CHECK(st == 0, "child: %s (status %d)",
        st == 2 ? "wrong content" : st == 3 ? "reads caused COW faults" : "died", st);
  CHECK(b.cow_copies == a.cow_copies && b.cow_faults == a.cow_faults,
        "parent reads caused %lu faults, %lu copies", b.cow_faults - a.cow_faults,
        b.cow_copies - a.cow_copies);
  uint64 shared = m1.fork_shared - m0.fork_shared;
  CHECK(shared >= H, "fork_shared grew by %lu < %lu heap pages", shared, H);
  CHECK(shared == expect_shared, "fork_shared grew by %lu, process maps %lu pages", shared,
        expect_shared);
  CHECK(m1.fork_copied == m0.fork_copied, "fork copied %lu pages",
        m1.fork_copied - m0.fork_copied);
  CHECK(m1.free_frames < H, "free frames after fork %lu >= heap pages %lu: not a real test",
        m1.free_frames, H);
  snprintf(msg, sizeof msg, "heap=%lu pages shared=%lu free-after-fork=%lu", H, shared,
           m1.free_frames);
  return 0;
}

// ------------------------------------------------------------------ three-generation

struct gen_result {
  int who;
  int ok;
  uint64 copies, reuses;
};

// P1 forks P2, P2 forks P3; all share page X (written) and three more.
// P3 writes X (copy), then P1 (copy), then P2 (last sharer: reuse).
static int case_three_generation(void) {
  enum { N = 4 };
  char *heap = grow(N);
  CHECK(heap, "sbrk failed");
  fill(heap, N * PG, TAG_ORIG);
  uint64 *X = (uint64 *)heap;
  int a[2], b[2], res[2];
  CHECK(pipe(a) == 0 && pipe(b) == 0 && pipe(res) == 0, "pipe failed");
  struct memstat m0, m1;
  struct gen_result r;

  int p2 = cfork();
  CHECK(p2 >= 0, "fork failed");
  if (p2 == 0) {
    int p3 = cfork();
    if (p3 < 0) exit(1);
    if (p3 == 0) { // P3: first
      ms(&m0);
      X[0] = 3;
      ms(&m1);
      r.who = 3;
      r.copies = m1.cow_copies - m0.cow_copies;
      r.reuses = m1.cow_reuses - m0.cow_reuses;
      r.ok = X[0] == 3 && !check(X + 1, PG - 8, TAG_ORIG) && !check(heap + PG, (N - 1) * PG, TAG_ORIG);
      write(res[1], &r, sizeof r);
      put1(a[1]); // P1's turn
      exit(0);
    }
    // P2: last
    get1(b[0]);
    ms(&m0);
    X[0] = 2;
    ms(&m1);
    r.who = 2;
    r.copies = m1.cow_copies - m0.cow_copies;
    r.reuses = m1.cow_reuses - m0.cow_reuses;
    r.ok = X[0] == 2 && !check(X + 1, PG - 8, TAG_ORIG) && !check(heap + PG, (N - 1) * PG, TAG_ORIG);
    write(res[1], &r, sizeof r);
    int st = -2;
    wait(&st);
    exit(st == 0 ? 0 : 1);
  }
  // P1: second
  get1(a[0]);
  ms(&m0);
  X[0] = 1;
  ms(&m1);
  put1(b[1]); // P2's turn
  struct gen_result r3, r2;
  int n3 = readn(res[0], &r3, sizeof r3);
  int n2 = readn(res[0], &r2, sizeof r2);
  int st = -2;
  wait(&st);
  CHECK(st == 0, "P2 or P3 failed (status %d)", st);
  CHECK(n3 == sizeof r3 && n2 == sizeof r2 && r3.who == 3 && r2.who == 2, "bad results from P2/P3");
  uint64 c1 = m1.cow_copies - m0.cow_copies, u1 = m1.cow_reuses - m0.cow_reuses;
  CHECK(r3.ok && r2.ok, "P%d saw wrong content", r3.ok ? 2 : 3);
  CHECK(X[0] == 1 && !check(X + 1, PG - 8, TAG_ORIG) && !check(heap + PG, (N - 1) * PG, TAG_ORIG),
        "P1 saw wrong content");
  uint64 copies = r3.copies + c1 + r2.copies, reuses = r3.reuses + u1 + r2.reuses;
  CHECK(r3.copies == 1 && r3.reuses == 0 && c1 == 1 && u1 == 0 && r2.copies == 0 && r2.reuses == 1,
        "copies/reuses P3 %lu/%lu P1 %lu/%lu P2 %lu/%lu, expected 1/0 1/0 0/1", r3.copies,
        r3.reuses, c1, u1, r2.copies, r2.reuses);
  snprintf(msg, sizeof msg, "copies=%lu reuses=%lu (P3 %lu/%lu, P1 %lu/%lu, P2 %lu/%lu)", copies,
           reuses, r3.copies, r3.reuses, c1, u1, r2.copies, r2.reuses);
  return 0;
}

// ------------------------------------------------------------------ isolation

#define ISO_HEAP 4
#define ISO_DATA 3
#define ISO_STACK 64 // words
static uint64 iso_data[ISO_DATA * PG / 8] __attribute__((aligned(PG)));

// The family: index -> parent index, writer?
static const int iso_parent[] = {-1, 0, 0, 1, 1, 2, 2};
static const int iso_writer[] = {0, 1, 0, 1, 0, 1, 1};
#define ISO_N 7

static void barrier(int me, int arrive[2], int release[2]) {
  if (me == 0) {
    char c[ISO_N];
    readn(arrive[0], c, ISO_N - 1);
    for (int i = 1; i < ISO_N; i++) put1(release[1]);
  } else {
    put1(arrive[1]);
    get1(release[0]);
  }
}

static int iso_verify(char *heap, uint64 *stackbuf, uint64 tag) {
  if (check(heap, ISO_HEAP * PG, tag)) return 1;
  if (check(iso_data, sizeof iso_data, tag)) return 2;
  if (check(stackbuf, ISO_STACK * 8, tag)) return 3;
  return 0;
}

static int case_isolation(void) {
  uint64 sbuf[ISO_STACK];
  char *heap = grow(ISO_HEAP);
  CHECK(heap, "sbrk failed");
  fill(heap, ISO_HEAP * PG, TAG_ORIG);
  fill(iso_data, sizeof iso_data, TAG_ORIG);
  fill(sbuf, sizeof sbuf, TAG_ORIG);
  int arrive1[2], release1[2], arrive2[2], release2[2];
  CHECK(pipe(arrive1) == 0 && pipe(release1) == 0 && pipe(arrive2) == 0 && pipe(release2) == 0,
        "pipe failed");

  // Build the family: each member forks its own children (higher indices).
  int me = 0;
  for (int i = 1; i < ISO_N; i++) {
    if (iso_parent[i] != me) continue;
    int pid = fork();
    if (pid < 0) {
      if (me == 0) FAIL("fork failed");
      exit(100);
    }
    if (pid == 0) {
      me = i; // keep scanning for my own children after i
      if (resfd >= 0) close(resfd);
    }
  }
  barrier(me, arrive1, release1); // everybody exists and shares everything
  uint64 tag = iso_writer[me] ? 1000 + me : TAG_ORIG;
  if (iso_writer[me]) {
    fill(heap, ISO_HEAP * PG, tag);
    fill(iso_data, sizeof iso_data, tag);
    fill(sbuf, sizeof sbuf, tag);
  }
  barrier(me, arrive2, release2); // every writer has written
  int bad = iso_verify(heap, sbuf, tag);
  // Reap my children; report the first failure (member*4 + what).
  int result = bad ? me * 4 + bad : 0;
  int st;
  while (wait(&st) >= 0)
    if (st != 0 && result == 0) result = st < 0 ? 100 : st;
  if (me != 0) exit(result);
  if (result == 0 && (bad = iso_verify(heap, sbuf, tag))) result = bad;
  static const char *what[] = {"?", "heap", "data", "stack"};
  CHECK(result != 100, "a family member died");
  CHECK(result == 0, "member %d (%s) saw wrong %s content", result / 4,
        iso_writer[result / 4] ? "writer" : "untouched", what[result % 4]);
  snprintf(msg, sizeof msg, "members=%d writers=4", ISO_N);
  return 0;
}

// ------------------------------------------------------------------ copy-out

#define CO_FILE "/cowtest" // a file that exists, read only: no disk writes

// The kernel writing into COW-shared pages (read, fstat, wait) must copy
// them exactly like a user store would, in either direction.
static int case_copyout(void) {
  enum { A, B, C, D, E, N };
  char *heap = grow(N);
  CHECK(heap, "sbrk failed");
  fill(heap, N * PG, TAG_ORIG);
  char *pa = heap + A * PG + 8, *pb = heap + B * PG + 16;
  struct stat *pc = (struct stat *)(heap + C * PG + 24);
  int *pd = (int *)(heap + D * PG + 32);
  char *pe = heap + E * PG + 40;

  // The file's first bytes and size, read into private memory first.
  char data[200];
  struct stat st0;
  int fd = open(CO_FILE, O_RDONLY);
  CHECK(fd >= 0, "cannot open %s", CO_FILE);
  CHECK(read(fd, data, sizeof data) == sizeof data && fstat(fd, &st0) == 0, "cannot read %s", CO_FILE);
  close(fd);
  int dp[2], rp[2], tok[2], tok2[2];
  CHECK(pipe(dp) == 0 && pipe(rp) == 0 && pipe(tok) == 0 && pipe(tok2) == 0, "pipe failed");
  CHECK(write(dp[1], data, 100) == 100, "pipe write failed");

  int pid = cfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    struct memstat m0, m1;
    int e = 0;
    // read() from a pipe into page A.
    ms(&m0);
    int n = read(dp[0], pa, 100);
    ms(&m1);
    if (n != 100 || memcmp(pa, data, 100) != 0) e = e ? e : 10;
    if (m1.cow_copies - m0.cow_copies != 1) e = e ? e : 11;
    // read() from a file into page B.
    int f = open(CO_FILE, O_RDONLY);
    ms(&m0);
    n = read(f, pb, 200);
    ms(&m1);
    if (n != 200 || memcmp(pb, data, 200) != 0) e = e ? e : 20;
    if (m1.cow_copies - m0.cow_copies != 1) e = e ? e : 21;
    // fstat() into page C.
    ms(&m0);
    n = fstat(f, pc);
    ms(&m1);
    close(f);
    if (n != 0 || pc->type != T_FILE || pc->size != st0.size || pc->ino != st0.ino) e = e ? e : 30;
    if (m1.cow_copies - m0.cow_copies != 1) e = e ? e : 31;
    // wait() storing a status into page D.
    int g = cfork();
    if (g == 0) exit(42); // its stack is private already: exiting faults nowhere
    ms(&m0);
    n = wait(pd);
    ms(&m1);
    if (n != g || *pd != 42) e = e ? e : 40;
    if (m1.cow_copies - m0.cow_copies != 1) e = e ? e : 41;
    // The rest of each page is still the original.
    if (check(heap + A * PG, 8, TAG_ORIG) || check(pa + 104, PG - 112, TAG_ORIG) ||
        check(heap + E * PG, PG, TAG_ORIG))
      e = e ? e : 50;
    put1(tok[1]);  // parent: look at your pages, then write E
    get1(tok2[0]); // parent has written E
    if (check(heap + E * PG, PG, TAG_ORIG)) e = e ? e : 60;
    exit(e);
  }
  get1(tok[0]);
  // The parent's pages are unchanged by the child's kernel writes.
  CHECK(!check(heap, (E + 0) * PG, TAG_ORIG), "parent's pages changed by the child's read/fstat/wait");
  // Reverse: the parent reads into page E twice (one copy, then private).
  struct memstat m0, m1, m2;
  CHECK(write(rp[1], data + 50, 64) == 64 && write(rp[1], data, 8) == 8, "pipe write failed");
  ms(&m0);
  int n = read(rp[0], pe, 64);
  ms(&m1);
  int n2 = read(rp[0], pe + 100, 8);
  ms(&m2);
  put1(tok2[1]);
  int st = -2;
  wait(&st);
  static const char *what[] = {"?", "pipe read", "file read", "fstat", "wait status", "rest of page", "page E"};
  CHECK(st == 0, "child: %s %s (status %d)", st > 0 && st < 70 ? what[st / 10] : "died",
        st % 10 ? "copy count" : "content", st);
  CHECK(n == 64 && memcmp(pe, data + 50, 64) == 0 && n2 == 8 && memcmp(pe + 100, data, 8) == 0,
        "parent read wrong data");
  CHECK(m1.cow_copies - m0.cow_copies == 1, "parent read into shared page: %lu copies",
        m1.cow_copies - m0.cow_copies);
  CHECK(m2.cow_copies == m1.cow_copies && m2.cow_faults == m1.cow_faults,
        "second read into the private page faulted");
  CHECK(!check(heap, E * PG, TAG_ORIG), "parent's pages changed");
  snprintf(msg, sizeof msg, "copies=5 (child pipe/file/fstat/wait 4, parent 1)");
  return 0;
}

// ------------------------------------------------------------------ kills

enum { STORE, LOAD, EXEC };
struct bad_access {
  const char *what;
  uint64 addr;
  int kind;
};

static void victim(uint64 addr, int kind) {
  if (kind == STORE) *(volatile int *)addr = 0;
  else if (kind == LOAD) (void)*(volatile int *)addr;
  else ((void (*)(void))addr)();
}

static int case_kills(void) {
  enum { N = 8 };
  char *heap = grow(N);
  CHECK(heap, "sbrk failed");
  fill(heap, N * PG, TAG_ORIG);
  uint64 local = 0;
  uint64 stack_page = PGROUNDDOWN((uint64)&local);
  uint64 guard = stack_page - PG;
  // The xv6 layout: text, data, guard, stack, heap.
  CHECK(guard == PGROUNDUP((uint64)end), "guard page %p is not just after data (end %p)",
        (void *)guard, (void *)end);
  CHECK(stack_page + USERSTACK * PG == (uint64)heap, "heap %p does not start after the stack",
        (void *)heap);
  uint64 brk = (uint64)sbrk(0);
  uint64 main_word = *(volatile uint64 *)(uint64)case_kills;

  struct bad_access bad[] = {
      {"store to text (own function)", (uint64)case_kills, STORE},
      {"store to text (fill)", (uint64)fill, STORE},
      {"store to rodata", (uint64)"a string", STORE},
      {"store to 0x80000000", KERNBASE, STORE},
      {"store to kernel direct map", KERNEL_DIRECT_MAP + KERNBASE, STORE},
      {"load from kernel direct map", KERNEL_DIRECT_MAP + KERNBASE, LOAD},
      {"store to top page", 0xFFFFFFFFFFFFF000UL, STORE},
      {"store to MAXVA", MAXVA, STORE},
      {"store just below MAXVA", MAXVA - 4, STORE},
      {"store beyond MAXVA", MAXVA + 16 * PG, STORE},
      {"store to non-canonical", 0x4000000000000000UL, STORE},
      {"store to guard page", guard + PG - 8, STORE},
      {"load from guard page", guard, LOAD},
      {"store beyond the break", PGROUNDUP(brk) + 8, STORE},
      {"store to unmapped user page", MAXVA / 2, STORE},
      {"exec in heap", (uint64)heap, EXEC},
      {"exec in stack", stack_page, EXEC},
  };
  int nbad = sizeof bad / sizeof bad[0];
  int tok[2];
  CHECK(pipe(tok) == 0, "pipe failed");

  for (int i = 0; i < nbad; i++) {
    // The sibling shares the same COW pages and waits for the victim's death.
    int sib = cfork();
    CHECK(sib >= 0, "fork failed");
    if (sib == 0) {
      get1(tok[0]);
      if (check(heap, N * PG, TAG_ORIG)) exit(2);
      fill(heap, N * PG, 77);
      if (check(heap, N * PG, 77)) exit(3);
      exit(0);
    }
    int v = cfork();
    CHECK(v >= 0, "fork failed");
    if (v == 0) {
      fill(heap, PG, 55); // a private copy of one shared page, then die
      victim(bad[i].addr, bad[i].kind);
      exit(99); // survived: wrong
    }
    int st = -2;
    int w = wait(&st);
    CHECK(w == v, "%s: wait returned %d, not the victim %d", bad[i].what, w, v);
    CHECK(st == -1, "%s: victim's status %d, not -1", bad[i].what, st);
    put1(tok[1]);
    st = -2;
    w = wait(&st);
    CHECK(w == sib && st == 0, "%s: sibling %s (status %d)", bad[i].what,
          st == 2 ? "saw changed content" : st == 3 ? "could not write its pages" : "died", st);
    CHECK(!check(heap, N * PG, TAG_ORIG), "%s: parent's pages changed", bad[i].what);
  }

  // System calls given bad addresses return -1 and do not kill the caller.
  int pid = cfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    int p[2], fd = open("/cowtest", O_RDONLY);
    if (pipe(p) < 0 || fd < 0) exit(1);
    write(p[1], "0123456789abcdef", 16);
    int z = fork(); // a zombie to wait for
    if (z == 0) exit(7);
    sleep(1);
    for (int i = 0; i < nbad; i++) {
      uint64 a = bad[i].addr;
      if (bad[i].kind == EXEC) continue;
      int readable = (a < (uint64)etext); // text and rodata
      if (read(p[0], (void *)a, 8) != -1) exit(10 + i);
      if (fstat(fd, (struct stat *)a) != -1) exit(10 + i);
      if (memstat((struct memstat *)a) != -1) exit(10 + i);
      if (pipe((int *)a) != -1) exit(10 + i);
      if (!readable && write(p[1], (void *)a, 8) != -1) exit(10 + i);
      if (!readable && exec((char *)a, 0) != -1) exit(10 + i);
      if (wait((int *)a) != -1) exit(10 + i);
    }
    int st = -2;
    if (wait(&st) != z || st != 7) exit(2);
    if (read(p[0], heap, 16) != 16 || memcmp(heap, "0123456789abcdef", 16) != 0) exit(3);
    exit(0);
  }
  int st = -2;
  wait(&st);
  CHECK(st == 0, "system calls with bad addresses: %s (status %d)",
        st == -1 ? "the caller was killed"
        : st >= 10 ? bad[st - 10 < nbad ? st - 10 : 0].what
                   : "zombie or pipe lost", st);
  CHECK(*(volatile uint64 *)(uint64)case_kills == main_word, "text changed");
  snprintf(msg, sizeof msg, "victims=%d", nbad);
  return 0;
}

// ------------------------------------------------------------------ oom

// A family shares a heap of most of free memory, and every member writes
// all of it: there is not enough memory for that, so some must die.
static int case_oom(void) {
  enum { W = 4 };
  struct memstat m0;
  ms(&m0);
  uint64 H = m0.free_frames * 7 / 10;
  char *heap = grow(H);
  CHECK(heap, "sbrk of %lu pages failed", H);
  fill(heap, H * PG, TAG_ORIG);
  int go[2];
  CHECK(pipe(go) == 0, "pipe failed");
  int pids[W];
  for (int i = 0; i < W; i++) {
    pids[i] = cfork();
    CHECK(pids[i] >= 0, "fork %d failed", i);
    if (pids[i] == 0) {
      get1(go[0]);
      if (check(heap, H * PG, TAG_ORIG)) exit(2);
      fill(heap, H * PG, 100 + i);
      if (check(heap, H * PG, 100 + i)) exit(3);
      exit(0);
    }
  }
  // Drop the leader's references, so that a last survivor can reuse frames.
  CHECK(sbrk(-(int)(H * PG)) != (char *)-1, "sbrk shrink failed");
  for (int i = 0; i < W; i++) put1(go[1]);
  int killed = 0, done = 0, other = 0, st;
  for (int i = 0; i < W; i++) {
    st = -2;
    if (wait(&st) < 0) break;
    if (st == -1) killed++;
    else if (st == 0) done++;
    else other = st;
  }
  CHECK(!other, "a writer saw wrong content (status %d)", other);
  CHECK(killed + done == W, "lost writers");
  CHECK(killed >= 1, "nobody ran out of memory (heap %lu pages, %d writers)", H, W);
  snprintf(msg, sizeof msg, "heap=%lu pages writers=%d killed=%d completed=%d", H, W, killed, done);
  return 0;
}

// ------------------------------------------------------------------ release

// exit, exec and sbrk(-n) drop the references of shared pages: the last
// sharer then takes them over with no copy.
static int case_release(void) {
  enum { H = 64 };
  struct memstat m0, m1, m2, m3;
  char *heap = grow(H);
  CHECK(heap, "sbrk failed");
  int tok[2], tok2[2];
  CHECK(pipe(tok) == 0 && pipe(tok2) == 0, "pipe failed");

  // exit: half written while shared (copies), half after the exit (reuses).
  fill(heap, H * PG, TAG_ORIG);
  int pid = cfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    get1(tok[0]);
    exit(0);
  }
  ms(&m0);
  poke_pages(heap, H / 2, 1);
  ms(&m1);
  put1(tok[1]);
  wait(0);
  ms(&m2);
  poke_pages(heap + H / 2 * PG, H / 2, 1);
  ms(&m3);
  CHECK(m1.cow_copies - m0.cow_copies == H / 2 && m1.cow_reuses == m0.cow_reuses,
        "exit: writes while shared: %lu copies %lu reuses, expected %d/0",
        m1.cow_copies - m0.cow_copies, m1.cow_reuses - m0.cow_reuses, H / 2);
  CHECK(m3.cow_reuses - m2.cow_reuses == H / 2 && m3.cow_copies == m2.cow_copies,
        "exit: writes after the child's exit: %lu copies %lu reuses, expected 0/%d",
        m3.cow_copies - m2.cow_copies, m3.cow_reuses - m2.cow_reuses, H / 2);
  uint64 exit_reuses = m3.cow_reuses - m2.cow_reuses;

  // exec: the child becomes "cowtest --exec-helper", which signals on tok
  // and waits for tok2: meanwhile the parent's pages must be its own.
  fill(heap, H * PG, TAG_ORIG);
  pid = cfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    char a[8], b[8];
    snprintf(a, sizeof a, "%d", tok[1]);
    snprintf(b, sizeof b, "%d", tok2[0]);
    char *argv[] = {"cowtest", "--exec-helper", a, b, 0};
    exec("/cowtest", argv);
    exit(5);
  }
  get1(tok[0]);
  ms(&m0);
  poke_pages(heap, H, 2);
  ms(&m1);
  put1(tok2[1]);
  int st = -2;
  wait(&st);
  CHECK(st == 0, "exec helper failed (status %d)", st);
  CHECK(m1.cow_reuses - m0.cow_reuses == H && m1.cow_copies == m0.cow_copies,
        "exec: writes after the child's exec: %lu copies %lu reuses, expected 0/%d",
        m1.cow_copies - m0.cow_copies, m1.cow_reuses - m0.cow_reuses, H);
  uint64 exec_reuses = m1.cow_reuses - m0.cow_reuses;

  // sbrk(-n) in the child.
  fill(heap, H * PG, TAG_ORIG);
  pid = cfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    ms(&m0);
    char *r = sbrk(-H * PG);
    ms(&m1);
    // All of those frames are still the parent's: none may be freed.
    int e = r == (char *)-1 ? 1 : m1.free_frames >= m0.free_frames + H ? 2 : 0;
    put1(tok[1]);
    get1(tok2[0]);
    exit(e);
  }
  get1(tok[0]);
  ms(&m0);
  poke_pages(heap, H, 3);
  ms(&m1);
  put1(tok2[1]);
  st = -2;
  wait(&st);
  CHECK(st == 0, "sbrk shrink in the child: %s (status %d)",
        st == 1 ? "failed" : st == 2 ? "freed frames the parent still maps" : "died", st);
  CHECK(m1.cow_reuses - m0.cow_reuses == H && m1.cow_copies == m0.cow_copies,
        "sbrk: writes after the child's shrink: %lu copies %lu reuses, expected 0/%d",
        m1.cow_copies - m0.cow_copies, m1.cow_reuses - m0.cow_reuses, H);
  uint64 sbrk_reuses = m1.cow_reuses - m0.cow_reuses;

  // sbrk(-n) in the parent while the child shares; then the child reuses.
  fill(heap, H * PG, TAG_ORIG);
  pid = cfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    get1(tok[0]);
    ms(&m0);
    poke_pages(heap, H, 4);
    ms(&m1);
    int e = m1.cow_reuses - m0.cow_reuses != H || m1.cow_copies != m0.cow_copies ? 1 : 0;
    if (check(heap + 8, PG - 8, TAG_ORIG)) e = 2;
    exit(e);
  }
  ms(&m0);
  CHECK(sbrk(-H * PG) != (char *)-1, "sbrk shrink failed");
  ms(&m1);
  put1(tok[1]);
  st = -2;
  wait(&st);
  ms(&m2);
  CHECK(m1.free_frames < m0.free_frames + H, "parent's shrink freed frames the child maps");
  CHECK(st == 0, "child after the parent's shrink: %s (status %d)",
        st == 1 ? "did not reuse all pages" : st == 2 ? "wrong content" : "died", st);
  CHECK(m2.free_frames >= m1.free_frames + H, "child's exit freed %lu frames < %d",
        m2.free_frames - m1.free_frames, H);

  snprintf(msg, sizeof msg, "reuses exit=%lu exec=%lu sbrk=%lu, copies 0", exit_reuses,
           exec_reuses, sbrk_reuses);
  return 0;
}

// ------------------------------------------------------------------ concurrent

// Several processes (one per hart) write the same freshly shared pages at
// the same time, round after round: concurrent COW faults on one frame.
static int case_concurrent(void) {
  enum { N = 16, K = 3, ROUNDS = 40, ITERS = 4 };
  char *heap = grow(N);
  CHECK(heap, "sbrk failed");
  fill(heap, N * PG, TAG_ORIG);
  int go[2];
  CHECK(pipe(go) == 0, "pipe failed");
  struct memstat m0, m1;
  ms(&m0);
  for (int round = 0; round < ROUNDS; round++) {
    uint64 base = 1 + round * 100;
    for (int k = 1; k <= K; k++) {
      int pid = cfork();
      CHECK(pid >= 0, "fork failed");
      if (pid == 0) {
        get1(go[0]);
        if (check(heap, N * PG, round ? base - 100 : TAG_ORIG)) exit(2);
        for (int it = 0; it < ITERS; it++) {
          fill(heap, N * PG, base + k * 10 + it);
          if (check(heap, N * PG, base + k * 10 + it)) exit(3);
        }
        exit(0);
      }
    }
    for (int k = 0; k < K; k++) put1(go[1]);
    for (int it = 0; it < ITERS; it++) {
      fill(heap, N * PG, base + it);
      CHECK(!check(heap, N * PG, base + it), "round %d: parent saw wrong content", round);
    }
    fill(heap, N * PG, base); // what the next round's children inherit
    for (int k = 0; k < K; k++) {
      int st = -2;
      wait(&st);
      CHECK(st == 0, "round %d: a child %s (status %d)", round,
            st == 2 ? "inherited wrong content" : st == 3 ? "saw wrong content" : "died", st);
    }
  }
  ms(&m1);
  uint64 f = m1.cow_faults - m0.cow_faults, c = m1.cow_copies - m0.cow_copies,
         r = m1.cow_reuses - m0.cow_reuses;
  CHECK(f == c + r, "%lu COW faults but %lu copies + %lu reuses", f, c, r);
  CHECK(f >= (uint64)ROUNDS * N * (K + 1), "only %lu COW faults", f);
  CHECK(vmaudit() == 0, "vmaudit found violations");
  snprintf(msg, sizeof msg, "rounds=%d procs=%d faults=%lu copies=%lu reuses=%lu", ROUNDS, K + 1,
           f, c, r);
  return 0;
}

// ------------------------------------------------------------------ forkloop

static int case_forkloop(void) {
  enum { N = 8, ROUNDS = 1000 };
  char *heap = grow(N);
  CHECK(heap, "sbrk failed");
  fill(heap, N * PG, TAG_ORIG);
  struct memstat m0, m;
  ms(&m0);
  for (int i = 0; i < ROUNDS; i++) {
    int pid = fork();
    CHECK(pid >= 0, "round %d: fork failed", i);
    if (pid == 0) {
      uint64 *w = (uint64 *)(heap + (i % N) * PG);
      w[1] = i;
      exit(w[1] == (uint64)i && w[2] == (uint64)&w[2] * K1 + TAG_ORIG * K2 ? i % 100 : 100);
    }
    int st = -2;
    int w = wait(&st);
    CHECK(w == pid && st == i % 100, "round %d: wait gave pid %d status %d", i, w, st);
    ms(&m);
    CHECK(m.free_frames == m0.free_frames, "round %d: free frames %lu, were %lu", i, m.free_frames,
          m0.free_frames);
  }
  CHECK(!check(heap, N * PG, TAG_ORIG), "parent's heap changed");
  snprintf(msg, sizeof msg, "rounds=%d", ROUNDS);
  return 0;
}

// ------------------------------------------------------------------ eager

static int case_eager(void) {
  enum { N = 32 };
  char *heap = grow(N);
  CHECK(heap, "sbrk failed");
  fill(heap, N * PG, TAG_ORIG);
  int old = forkmode(FORK_EAGER);
  CHECK(old == FORK_COW, "forkmode returned %d, expected FORK_COW", old);
  uint64 pages = mapped_pages();
  struct memstat m0, m1, m2;
  int hold[2]; // the child lives until the parent has counted its frames
  CHECK(pipe(hold) == 0, "pipe failed");
  ms(&m0);
  int pid = fork();
  if (pid == 0) {
    struct memstat a, b;
    ms(&a);
    fill(heap, N * PG, 9);
    int e = check(heap, N * PG, 9) ? 2 : 0;
    ms(&b);
    if (b.cow_faults != a.cow_faults) e = 3; // every page is private already
    close(hold[1]);
    get1(hold[0]);
    exit(e);
  }
  ms(&m1);
  put1(hold[1]);
  close(hold[0]);
  close(hold[1]);
  int st = -2;
  wait(&st);
  ms(&m2);
  int back = forkmode(FORK_COW);
  CHECK(pid > 0, "eager fork failed");
  CHECK(back == FORK_EAGER, "forkmode(FORK_COW) returned %d", back);
  CHECK(st == 0, "child: %s (status %d)",
        st == 2 ? "wrong content" : st == 3 ? "took COW faults" : "died", st);
  CHECK(!check(heap, N * PG, TAG_ORIG), "parent saw the child's writes");
  uint64 copied = m1.fork_copied - m0.fork_copied, shared = m1.fork_shared - m0.fork_shared;
  CHECK(copied == pages && shared == 0, "fork_copied +%lu fork_shared +%lu, expected +%lu/+0", copied,
        shared, pages);
  CHECK(m0.free_frames - m1.free_frames >= pages, "eager fork took only %lu frames for %lu pages",
        m0.free_frames - m1.free_frames, pages);
  snprintf(msg, sizeof msg, "copied=%lu pages frames-taken=%lu", copied,
           m0.free_frames - m1.free_frames);
  return 0;
}

// ------------------------------------------------------------------ ahead

// FORK_COW_AHEAD: a child writing its heap page after page takes far fewer
// faults than pages (runs are resolved ahead), yet every page ends private
// and the parent sees none of the writes.
static int case_ahead(void) {
  enum { N = 256 };
  char *heap = grow(N);
  CHECK(heap, "sbrk failed");
  fill(heap, N * PG, TAG_ORIG);
  int old = forkmode(FORK_COW_AHEAD);
  CHECK(old == FORK_COW, "forkmode returned %d, expected FORK_COW", old);
  int pid = cfork();
  forkmode(FORK_COW);
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    struct memstat a, b;
    ms(&a);
    for (int i = 0; i < N; i++) heap[(long)i * PG] = 9; // one store per page, in order
    ms(&b);
    uint64 faults = b.cow_faults - a.cow_faults, ahead = b.cow_ahead - a.cow_ahead;
    if (faults >= N / 4) exit(2);                                       // runs did not grow
    if (b.cow_copies + b.cow_reuses - a.cow_copies - a.cow_reuses != N) exit(3); // each page once
    if (ahead != N - faults) exit(4);
    for (int i = 0; i < N; i++)
      if (heap[(long)i * PG] != 9) exit(5);
    exit(0);
  }
  int st = -2;
  wait(&st);
  CHECK(st == 0, "child: %s (status %d)",
        st == 2   ? "as many faults as pages"
        : st == 3 ? "copies + reuses != pages written"
        : st == 4 ? "cow_ahead does not account for the pages not faulted"
        : st == 5 ? "lost a write"
                  : "died",
        st);
  for (int i = 0; i < N; i++) CHECK(heap[(long)i * PG] != 9, "parent saw the child's write to page %d", i);
  snprintf(msg, sizeof msg, "pages=%d", N);
  return 0;
}

// ------------------------------------------------------------------ harness

struct tcase {
  const char *name;
  int (*fn)(void);
};

static struct tcase cases[] = {
    {"big", case_big},
    {"three-generation", case_three_generation},
    {"isolation", case_isolation},
    {"copy-out", case_copyout},
    {"kills", case_kills},
    {"oom", case_oom},
    {"release", case_release},
    {"concurrent", case_concurrent},
    {"forkloop", case_forkloop},
    {"eager", case_eager},
    {"ahead", case_ahead},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static int run_case(struct tcase *t) {
  struct memstat before, after;
  static char line[sizeof msg + 8];
  // Names the case a kernel panic interrupts (tools/run-tests reports it).
  printf("# run %s\n", t->name);
  ms(&before);
  uint64 t0 = now_ns();
  int rp[2];
  if (pipe(rp) < 0) {
    printf("FAIL %s: pipe failed\n", t->name);
    return -1;
  }
  // cfork: the harness's own stack faults (COW on its stack page) happen
  // before the case starts, so the case sees a quiet system and exact counts.
  int pid = cfork();
  if (pid < 0) {
    close(rp[0]);
    close(rp[1]);
    printf("FAIL %s: fork failed\n", t->name);
    return -1;
  }
  if (pid == 0) {
    close(rp[0]);
    resfd = rp[1];
    msg[0] = 0;
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
  forkmode(FORK_COW); // in case an eager case died
  int violations = vmaudit();
  ms(&after);
  uint64 dt = now_ns() - t0;

  int ok = 0;
  if (w != pid) printf("FAIL %s: wait returned %d\n", t->name, w);
  else if (n <= 0) printf("FAIL %s: the case process died (status %d)\n", t->name, st);
  else if (line[0] != '0') printf("FAIL %s: %s\n", t->name, line + 1);
  else if (st != 0) printf("FAIL %s: case process exit status %d\n", t->name, st);
  else if (violations != 0) printf("FAIL %s: vmaudit found %d violations\n", t->name, violations);
  else if (after.free_frames != before.free_frames)
    printf("FAIL %s: free frames %lu after, %lu before\n", t->name, after.free_frames,
           before.free_frames);
  else ok = 1;
  if (ok) printf("ok %s%s%s (%lu ms)\n", t->name, line[1] ? " " : "", line + 1, dt / 1000000);
  return ok ? 0 : -1;
}

// exec target of the release case: say we run, wait for the word, exit.
static int exec_helper(int argc, char **argv) {
  if (argc != 4) return 1;
  put1(atoi(argv[2]));
  get1(atoi(argv[3]));
  return 0;
}

int main(int argc, char **argv) {
  prefault_data();
  if (argc > 1 && strcmp(argv[1], "--exec-helper") == 0) return exec_helper(argc, argv);
  // The cases count copies exactly, so they run with plain COW (the boot
  // default, FORK_COW_AHEAD, may copy ahead of sequential writes); the
  // "ahead" case switches for its own fork.
  int mode0 = forkmode(FORK_COW);
  struct memstat m;
  ms(&m);
  printf("cowtest: %lu frames, %lu free\n", m.total_frames, m.free_frames);
  uint64 t0 = now_ns();
  int failed = 0, ran = 0;
  for (int i = 0; i < NCASES; i++) {
    int want = argc == 1;
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
  forkmode(mode0);
  ms(&m);
  printf("cowtest: %d cases, %d failed, %lu ms, %lu free frames\n", ran, failed,
         (now_ns() - t0) / 1000000, m.free_frames);
  return failed ? 1 : 0;
}

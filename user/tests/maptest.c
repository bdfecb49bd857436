// maptest: the in-QEMU test suite of mmap, munmap, mprotect, vmmap, the page
// cache and demand-paged exec.
//
//   maptest            run every case
//   maptest NAME ...   run the named cases only
//
// One line per case, "ok NAME [details]" or "FAIL NAME: reason"; exit status
// 0 iff every case passed.
//
// How a case runs (as in cowtest): the harness reads memstat, forks a case
// process that runs the case and sends its one-line result back through a
// pipe, waits for it, and then checks that vmaudit() finds no violation and
// that free_frames is back to its value before the case, once the case's
// files are removed (the case removes them, and the harness again in case
// the case failed half-way): their pages leave the page cache with them. A
// case that legitimately leaves pages of a program file in the cache (it runs
// a program other than maptest) says so, and then free_frames + cache_pages
// must be back instead. To make every other case exact, the harness first
// reads all of /maptest, so that its pages are all cached before any case.
//
// Semantics checked are POSIX's, as Linux behaves (see each case). Cases that
// expect a process to be killed run the access in a child and expect wait
// status -1.
//
// The user stack is one page: no big local arrays (buffers are static).

#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "kernel/param.h"
#include "kernel/riscv.h"
#include "kernel/memlayout.h"
#include "kernel/memstat.h"
#include "user/user.h"

#define PG PGSIZE
#define MAP_FAILED ((void *)-1)
#define RW (PROT_READ | PROT_WRITE)
// mmap may take one frame of kernel bookkeeping (a slab page for the mapping
// object) even though it allocates no data frame.
#define SLACK 1

extern char etext[], end[];

// ------------------------------------------------------------------ results

static char msg[200]; // the case's result line tail (case process only)
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

static void ms(struct memstat *m) {
  if (memstat(m) < 0) {
    printf("maptest: memstat failed\n");
    exit(3);
  }
}

static uint64 free_now(void) {
  struct memstat m;
  ms(&m);
  return m.free_frames;
}

// File and mapping contents: the word at file offset o (a multiple of 8) of
// a file written with tag is pat(o, tag). A mapping of that file at p with
// file offset off holds pat(off + i, tag) at p + i.
#define K1 0x9E3779B97F4A7C15ULL
#define K2 0xD6E8FEB86659FD93ULL
static inline uint64 pat(uint64 o, uint64 tag) { return (o + 8) * K1 + tag * K2; }

static void fill(void *p, uint64 off, uint64 bytes, uint64 tag) {
  uint64 *w = (uint64 *)p;
  for (uint64 i = 0; i < bytes / 8; i++) w[i] = pat(off + i * 8, tag);
}

// -1 if [p, p + bytes) holds the pattern; else the offset of the first bad word.
static long check(const void *p, uint64 off, uint64 bytes, uint64 tag) {
  const volatile uint64 *w = (const volatile uint64 *)p;
  for (uint64 i = 0; i < bytes / 8; i++)
    if (w[i] != pat(off + i * 8, tag)) return (long)(i * 8);
  return -1;
}

// -1 if [p, p + bytes) is all zero; else the offset of the first non-zero byte.
static long check_zero(const void *p, uint64 bytes) {
  const volatile char *c = (const volatile char *)p;
  for (uint64 i = 0; i < bytes; i++)
    if (c[i]) return (long)i;
  return -1;
}

static char iobuf[PG] __attribute__((aligned(PG)));

// Create (or truncate) `name` with `bytes` bytes of tag's pattern.
static int mkfile(const char *name, uint64 bytes, uint64 tag) {
  int fd = open(name, O_CREATE | O_RDWR | O_TRUNC);
  if (fd < 0) return -1;
  for (uint64 off = 0; off < bytes; off += PG) {
    uint64 n = bytes - off < PG ? bytes - off : PG;
    fill(iobuf, off, PG, tag);
    if (write(fd, iobuf, (int)n) != (int)n) {
      close(fd);
      return -1;
    }
  }
  close(fd);
  return 0;
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

// Read `bytes` at file offset `off` of `name` with read() and compare them
// with the pattern (tag) except where `alt` says the word was overwritten:
// alt(o) returns the tag expected at offset o, or tag itself.
static uint64 (*alt_tag)(uint64 o, uint64 tag);
// -1 if good, -2 if the read failed or came short, else the bad offset.
static long check_file(const char *name, uint64 off, uint64 bytes, uint64 tag) {
  int fd = open(name, O_RDONLY);
  if (fd < 0) return -2;
  for (uint64 o = 0; o < off; o += PG) { // skip
    int n = off - o < PG ? off - o : PG;
    if (readn(fd, iobuf, n) != n) {
      close(fd);
      return -2;
    }
  }
  for (uint64 o = off; o < off + bytes; o += PG) {
    int n = off + bytes - o < PG ? off + bytes - o : PG;
    if (readn(fd, iobuf, n) != n) {
      close(fd);
      return -2;
    }
    for (int i = 0; i + 8 <= n; i += 8) {
      uint64 t = alt_tag ? alt_tag(o + i, tag) : tag;
      if (*(uint64 *)(iobuf + i) != pat(o + i, t)) {
        close(fd);
        return (long)(o + i);
      }
    }
  }
  close(fd);
  return -1;
}

static uint64 file_size(const char *name) {
  struct stat st;
  if (stat(name, &st) < 0) return (uint64)-1;
  return st.size;
}

static void put1(int fd) {
  char c = 'x';
  write(fd, &c, 1);
}
static int get1(int fd) {
  char c;
  return read(fd, &c, 1);
}

// fork; the child does not keep the harness's result pipe.
static int xfork(void) {
  int pid = fork();
  if (pid == 0 && resfd >= 0) {
    close(resfd);
    resfd = -1;
  }
  return pid;
}

static int waitst(int pid) {
  int st = -2;
  int w = wait(&st);
  return w == pid ? st : -100;
}

enum { LOAD, STORE, EXEC };

// Run one access in a child; its wait status (-1: killed, 99: survived).
static int access_status(void *addr, int kind) {
  int pid = xfork();
  if (pid < 0) return -99;
  if (pid == 0) {
    if (kind == STORE) *(volatile uint64 *)addr = 1;
    else if (kind == LOAD) (void)*(volatile uint64 *)addr;
    else ((void (*)(void))addr)();
    exit(99);
  }
  return waitst(pid);
}

static void *map(void *addr, uint64 len, int prot, int flags, int fd, uint64 off) {
  return mmap(addr, len, prot, flags, fd, (off_t)off);
}
static void *anon(uint64 len, int prot, int flags) {
  return mmap(0, len, prot, flags | MAP_ANONYMOUS, -1, 0);
}

static struct vmmap vmbuf[600];
static int nmaps(void) { return vmmap(getpid(), vmbuf, 600); }
// The vmmap entry containing va (after nmaps()), or 0.
static struct vmmap *entry_at(int n, uint64 va) {
  for (int i = 0; i < n; i++)
    if (vmbuf[i].start <= va && va < vmbuf[i].end) return &vmbuf[i];
  return 0;
}

// Open `name`, map it, close it: the mapping, or MAP_FAILED.
static void *map_file(const char *name, int omode, uint64 len, int prot, int flags, uint64 off) {
  int fd = open(name, omode);
  if (fd < 0) return MAP_FAILED;
  void *p = map(0, len, prot, flags, fd, off);
  close(fd);
  return p;
}

// ------------------------------------------------------------------ anon-lazy

// Anonymous private memory: no frame at mmap, one shared zero frame for
// loads (zero_maps counts them), one frame per page at the first store.
static int case_anon_lazy(void) {
  enum { N = 256 };
  struct memstat m0, m1, m2, m3, m4;
  ms(&m0);
  char *p = anon(N * PG, RW, MAP_PRIVATE);
  ms(&m1);
  CHECK(p != MAP_FAILED, "mmap failed");
  CHECK(((uint64)p & (PG - 1)) == 0, "address %p not page aligned", p);
  CHECK(m0.free_frames - m1.free_frames <= SLACK, "mmap of %d pages took %lu frames", N,
        m0.free_frames - m1.free_frames);
  long bad = check_zero(p, N * PG);
  ms(&m2);
  CHECK(bad < 0, "byte %ld not zero", bad);
  CHECK(m2.zero_maps - m1.zero_maps >= N, "loads of %d pages: zero_maps +%lu", N,
        m2.zero_maps - m1.zero_maps);
  CHECK(m1.free_frames - m2.free_frames <= 4, "loads of %d zero pages took %lu frames", N,
        m1.free_frames - m2.free_frames);
  fill(p, 0, N * PG, 1);
  ms(&m3);
  CHECK(m2.free_frames - m3.free_frames >= N, "stores to %d pages took only %lu frames", N,
        m2.free_frames - m3.free_frames);
  CHECK(check(p, 0, N * PG, 1) < 0, "content lost");
  CHECK(munmap(p, N * PG) == 0, "munmap failed");
  ms(&m4);
  CHECK(m4.free_frames - m3.free_frames >= N, "munmap gave back %lu frames < %d",
        m4.free_frames - m3.free_frames, N);
  CHECK(access_status(p, LOAD) == -1, "load after munmap: not killed");
  snprintf(msg, sizeof msg, "pages=%d mmap-frames=%lu zero-load-frames=%lu", N,
           m0.free_frames - m1.free_frames, m1.free_frames - m2.free_frames);
  return 0;
}

// ------------------------------------------------------------------ zero-frame

// Loads from never-written memory share one read-only zero frame; the first
// store replaces it with a private zeroed frame; fork copies nothing.
static int case_zero_frame(void) {
  enum { N = 32 };
  char *p = anon(N * PG, RW, MAP_PRIVATE);
  CHECK(p != MAP_FAILED, "mmap failed");
  struct memstat a, b, c;
  ms(&a);
  long bad = check_zero(p, N * PG);
  ms(&b);
  CHECK(bad < 0, "byte %ld not zero", bad);
  CHECK(b.zero_maps - a.zero_maps == N, "zero_maps +%lu for %d pages", b.zero_maps - a.zero_maps, N);
  CHECK(a.free_frames - b.free_frames <= 3, "loads took %lu frames (more than page tables)",
        a.free_frames - b.free_frames);
  p[5 * PG + 7] = 42;
  ms(&c);
  CHECK(b.free_frames - c.free_frames == 1, "one store took %lu frames", b.free_frames - c.free_frames);
  CHECK(check_zero(p + 4 * PG, PG) < 0 && check_zero(p + 6 * PG, PG) < 0 && p[5 * PG + 7] == 42 &&
            check_zero(p + 5 * PG, 7) < 0 && check_zero(p + 5 * PG + 8, PG - 8) < 0,
        "wrong content around the store");
  int pid = xfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    int e = check_zero(p, 5 * PG) >= 0 || p[5 * PG + 7] != 42 ? 2 : 0;
    p[9 * PG] = 1; // private to the child
    exit(e);
  }
  CHECK(waitst(pid) == 0, "child saw wrong content");
  CHECK(check_zero(p + 9 * PG, PG) < 0, "the child's store reached the parent");
  snprintf(msg, sizeof msg, "zero-maps=%lu", b.zero_maps - a.zero_maps);
  return 0;
}

// ------------------------------------------------------------------ anon-shared

// MAP_SHARED|MAP_ANONYMOUS: zeros at first, shared with children after fork
// both ways, while private anonymous memory stays private.
static int case_anon_shared(void) {
  enum { N = 16 };
  char *s = anon(N * PG, RW, MAP_SHARED);
  char *q = anon(N * PG, RW, MAP_PRIVATE);
  CHECK(s != MAP_FAILED && q != MAP_FAILED, "mmap failed");
  CHECK(check_zero(s, N * PG) < 0, "shared anonymous memory not zero");
  fill(s, 0, N / 2 * PG, 1); // half written before the fork, half untouched
  fill(q, 0, N * PG, 1);
  int a[2], b[2];
  CHECK(pipe(a) == 0 && pipe(b) == 0, "pipe failed");
  int pid = xfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    if (check(s, 0, N / 2 * PG, 1) >= 0) exit(2);
    fill(s + N / 2 * PG, N / 2 * PG, N / 2 * PG, 2); // the untouched half
    fill(s, 0, PG, 3);                             // a page the parent wrote
    fill(q, 0, N * PG, 4);                         // private
    put1(a[1]);
    get1(b[0]);
    if (check(s + PG, PG, PG, 5) >= 0) exit(3); // the parent's store after the fork
    exit(0);
  }
  close(a[1]);
  close(b[0]);
  CHECK(get1(a[0]) == 1, "child failed (status %d)", waitst(pid));
  CHECK(check(s, 0, PG, 3) < 0, "parent does not see the child's store to a page written before fork");
  CHECK(check(s + N / 2 * PG, N / 2 * PG, N / 2 * PG, 2) < 0,
        "parent does not see the child's store to a page untouched before fork");
  CHECK(check(q, 0, N * PG, 1) < 0, "the child's store to private memory reached the parent");
  fill(s + PG, PG, PG, 5);
  put1(b[1]);
  int st = waitst(pid);
  CHECK(st == 0, "child: %s (status %d)",
        st == 2 ? "wrong content inherited" : st == 3 ? "does not see the parent's store" : "died", st);
  // After the child's exit the pages are still there.
  CHECK(check(s, 0, PG, 3) < 0 && check(s + PG, PG, PG, 5) < 0, "shared pages lost at the child's exit");
  CHECK(munmap(s, N * PG) == 0 && munmap(q, N * PG) == 0, "munmap failed");
  return 0;
}

// ------------------------------------------------------------------ file-read

#define F1 "mt.f1"

// A private read-only mapping of a file: lazy (no read, no frame at mmap),
// right content, zeros after EOF in the last page, offsets.
static int case_file_read(void) {
  enum { SIZE = 5 * PG + 1000 };
  CHECK(mkfile(F1, SIZE, 7) == 0, "cannot create %s", F1);
  struct memstat m0, m1;
  int fd = open(F1, O_RDONLY);
  CHECK(fd >= 0, "open failed");
  ms(&m0);
  char *p = map(0, 6 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
  ms(&m1);
  CHECK(p != MAP_FAILED, "mmap failed");
  CHECK(m0.free_frames - m1.free_frames <= SLACK, "mmap took %lu frames",
        m0.free_frames - m1.free_frames);
  CHECK(m1.cache_misses == m0.cache_misses, "mmap read the file (%lu cache misses)",
        m1.cache_misses - m0.cache_misses);
  long bad = check(p, 0, SIZE / 8 * 8, 7);
  CHECK(bad < 0, "wrong word at offset %ld", bad);
  bad = check_zero(p + SIZE, 6 * PG - SIZE);
  CHECK(bad < 0, "byte %ld past EOF is not zero", SIZE + bad);
  // The same file at an offset, and with a length that is not a page multiple.
  char *q = map(0, PG + 1, PROT_READ, MAP_PRIVATE, fd, 2 * PG);
  CHECK(q != MAP_FAILED, "mmap at offset 2 pages failed");
  bad = check(q, 2 * PG, 2 * PG, 7);
  CHECK(bad < 0, "offset mapping: wrong word at %ld", bad);
  int n = nmaps();
  struct vmmap *v = entry_at(n, (uint64)q);
  CHECK(v, "vmmap does not list the mapping");
  CHECK(v->start == (uint64)q && v->end == (uint64)q + 2 * PG, "length %lu rounded to %lu bytes",
        (uint64)PG + 1, v->end - v->start);
  CHECK(v->kind == VMMAP_FILE && v->offset == 2 * PG && v->prot == PROT_READ &&
            v->flags == MAP_PRIVATE && strcmp(v->name, F1) == 0,
        "vmmap entry: kind %d offset %lu prot %d flags %d name '%s'", v->kind, v->offset, v->prot,
        v->flags, v->name);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && v->inum == (int)st.ino, "vmmap inum %d, file's %d", v->inum, st.ino);
  close(fd);
  CHECK(munmap(p, 6 * PG) == 0 && munmap(q, PG + 1) == 0, "munmap failed");
  CHECK(unlink(F1) == 0, "unlink failed");
  return 0;
}

// ------------------------------------------------------------------ shared-store

#define F2 "mt.f2"

static uint64 alt_shared(uint64 o, uint64 tag) { return o < PG ? 9 : o >= 2 * PG && o < 3 * PG ? 10 : tag; }

// MAP_SHARED stores reach the file: read() sees them at once, without munmap
// or close; the file's size does not change; other mappings see them.
static int case_shared_store(void) {
  enum { SIZE = 4 * PG };
  CHECK(mkfile(F2, SIZE, 8) == 0, "cannot create %s", F2);
  char *p = map_file(F2, O_RDWR, SIZE, RW, MAP_SHARED, 0);
  char *p2 = map_file(F2, O_RDONLY, SIZE, PROT_READ, MAP_SHARED, 0);
  CHECK(p != MAP_FAILED && p2 != MAP_FAILED, "mmap failed");
  CHECK(p != p2, "two mappings at the same address");
  fill(p, 0, PG, 9);
  fill(p + 2 * PG, 2 * PG, PG, 10);
  alt_tag = alt_shared;
  long bad = check_file(F2, 0, SIZE, 8);
  alt_tag = 0;
  CHECK(bad == -1, "read() after the stores: %s %ld", bad == -2 ? "short read" : "wrong word at",
        bad);
  CHECK(check(p2, 0, PG, 9) < 0 && check(p2 + 2 * PG, 2 * PG, PG, 10) < 0 &&
            check(p2 + PG, PG, PG, 8) < 0,
        "the other shared mapping does not see the stores");
  CHECK(file_size(F2) == SIZE, "size changed to %lu", file_size(F2));
  CHECK(munmap(p, SIZE) == 0 && munmap(p2, SIZE) == 0, "munmap failed");
  alt_tag = alt_shared;
  bad = check_file(F2, 0, SIZE, 8);
  alt_tag = 0;
  CHECK(bad == -1, "after munmap: wrong file content (%ld)", bad);
  CHECK(unlink(F2) == 0, "unlink failed");
  return 0;
}

// ------------------------------------------------------------------ write-coherent

#define F3 "mt.f3"

// write() is seen by every MAP_SHARED mapping, whether the page was already
// faulted in or not (the lab's "lazy" test); private untouched pages see it
// too, a private page once written does not.
static int case_write_coherent(void) {
  enum { SIZE = 3 * PG };
  CHECK(mkfile(F3, SIZE, 11) == 0, "cannot create %s", F3);
  char *s = map_file(F3, O_RDWR, SIZE, RW, MAP_SHARED, 0);
  char *r = map_file(F3, O_RDONLY, SIZE, PROT_READ, MAP_SHARED, 0);
  char *v = map_file(F3, O_RDONLY, SIZE, RW, MAP_PRIVATE, 0);
  CHECK(s != MAP_FAILED && r != MAP_FAILED && v != MAP_FAILED, "mmap failed");
  (void)*(volatile char *)s;       // page 0 faulted in (s), page 1 never
  (void)*(volatile char *)r;
  *(volatile uint64 *)v = 77;      // page 0 of the private mapping is its own now
  // write() words 1 and 2 of page 0, and the first 64 bytes of page 1.
  int fd = open(F3, O_RDWR);
  CHECK(fd >= 0 && readn(fd, iobuf, 8) == 8, "open or read failed");
  fill(iobuf, 0, PG, 12);
  CHECK(write(fd, iobuf + 8, 16) == 16, "write failed");
  close(fd);
  fd = open(F3, O_RDWR);
  CHECK(fd >= 0 && readn(fd, iobuf, PG) == PG, "open or read failed");
  fill(iobuf, PG, 64, 12);
  CHECK(write(fd, iobuf, 64) == 64, "write failed");
  close(fd);
  uint64 *ws = (uint64 *)s, *wr = (uint64 *)r, *wv = (uint64 *)v;
  CHECK(ws[1] == pat(8, 12) && ws[2] == pat(16, 12) && ws[3] == pat(24, 11),
        "a shared mapping (page already mapped) does not see write()");
  CHECK(wr[1] == pat(8, 12) && wr[2] == pat(16, 12),
        "a read-only shared mapping (page already mapped) does not see write()");
  CHECK(check(s + PG, PG, 64, 12) < 0 && check(s + PG + 64, PG + 64, 8, 11) < 0,
        "a shared mapping (page not yet mapped) does not see write()");
  CHECK(wv[0] == 77 && wv[1] == pat(8, 11), "a private page written before write() changed");
  CHECK(check(v + PG, PG, 64, 12) < 0, "a private page untouched before write() does not see it");
  CHECK(munmap(s, SIZE) == 0 && munmap(r, SIZE) == 0 && munmap(v, SIZE) == 0, "munmap failed");
  CHECK(unlink(F3) == 0, "unlink failed");
  return 0;
}

// ------------------------------------------------------------------ private-cow

#define F4 "mt.f4"

// MAP_PRIVATE stores are copy-on-write: they never reach the file or another
// mapping, even after munmap, exit, or a read() of the same page.
static int case_private_cow(void) {
  enum { SIZE = 4 * PG };
  CHECK(mkfile(F4, SIZE, 13) == 0, "cannot create %s", F4);
  char *v = map_file(F4, O_RDONLY, SIZE, RW, MAP_PRIVATE, 0);
  char *s = map_file(F4, O_RDONLY, SIZE, PROT_READ, MAP_SHARED, 0);
  CHECK(v != MAP_FAILED && s != MAP_FAILED, "mmap failed");
  CHECK(check(v, 0, SIZE, 13) < 0, "wrong initial content");
  struct memstat a, b;
  ms(&a);
  fill(v, 0, SIZE, 14);
  ms(&b);
  CHECK(a.free_frames - b.free_frames >= 4, "4 private stores took %lu frames",
        a.free_frames - b.free_frames);
  CHECK(check(v, 0, SIZE, 14) < 0, "private stores lost");
  CHECK(check(s, 0, SIZE, 13) < 0, "a shared mapping sees private stores");
  CHECK(check_file(F4, 0, SIZE, 13) == -1, "the file sees private stores");
  int pid = xfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    int e = check(v, 0, SIZE, 14) >= 0 ? 2 : 0;
    fill(v, 0, PG, 15);
    exit(e);
  }
  CHECK(waitst(pid) == 0, "child did not inherit the private content");
  CHECK(check(v, 0, SIZE, 14) < 0, "the child's private store reached the parent");
  CHECK(munmap(v, SIZE) == 0, "munmap failed");
  CHECK(check_file(F4, 0, SIZE, 13) == -1 && check(s, 0, SIZE, 13) < 0,
        "private stores reached the file at munmap");
  CHECK(munmap(s, SIZE) == 0, "munmap failed");
  CHECK(unlink(F4) == 0, "unlink failed");
  return 0;
}

// ------------------------------------------------------------------ close-unlink

#define F5 "mt.f5"

// A mapping stays valid after close(fd) and after unlink(); the unlinked
// file's pages go away with the last mapping, and a new file of that name
// is another file.
static int case_close_unlink(void) {
  enum { SIZE = 3 * PG };
  CHECK(mkfile(F5, SIZE, 16) == 0, "cannot create %s", F5);
  int fd = open(F5, O_RDWR);
  CHECK(fd >= 0, "open failed");
  char *p = map(0, SIZE, RW, MAP_SHARED, fd, 0);
  CHECK(p != MAP_FAILED, "mmap failed");
  CHECK(close(fd) == 0, "close failed");
  CHECK(check(p, 0, SIZE, 16) < 0, "wrong content after close (first touch after close)");
  CHECK(unlink(F5) == 0, "unlink failed");
  fill(p, 0, SIZE, 17);
  CHECK(check(p, 0, SIZE, 17) < 0, "stores after unlink lost");
  CHECK(mkfile(F5, PG, 18) == 0, "cannot create a new %s", F5);
  CHECK(check(p, 0, SIZE, 17) < 0, "the old mapping sees the new file");
  CHECK(check_file(F5, 0, PG, 18) == -1, "the new file sees the old mapping");
  int pid = xfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) exit(check(p, 0, SIZE, 17) < 0 ? 0 : 2);
  CHECK(waitst(pid) == 0, "child: wrong content of the unlinked file");
  CHECK(munmap(p, SIZE) == 0, "munmap failed");
  CHECK(unlink(F5) == 0, "unlink failed");
  return 0;
}

// ------------------------------------------------------------------ past-eof

#define F6 "mt.f6"

// The tail of the last page past EOF reads as zeros; stores there (shared)
// never grow the file, never reach read(); a page wholly past EOF cannot be
// touched (Linux: SIGBUS).
static int case_past_eof(void) {
  enum { SIZE = PG + 100 };
  CHECK(mkfile(F6, SIZE, 19) == 0, "cannot create %s", F6);
  char *p = map_file(F6, O_RDWR, 3 * PG, RW, MAP_SHARED, 0);
  CHECK(p != MAP_FAILED, "mmap of 3 pages over a file of %d bytes failed", SIZE);
  CHECK(check(p, 0, 96, 19) < 0 && check(p + PG, PG, 96, 19) < 0, "wrong content");
  long bad = check_zero(p + SIZE, 2 * PG - SIZE);
  CHECK(bad < 0, "byte %ld past EOF not zero", SIZE + bad);
  p[SIZE] = 'x';
  p[2 * PG - 1] = 'y';
  p[50] = 'z';
  CHECK(file_size(F6) == SIZE, "a store past EOF grew the file to %lu", file_size(F6));
  int fd = open(F6, O_RDONLY);
  CHECK(fd >= 0, "open failed");
  static char rb[2 * PG];
  int n = readn(fd, rb, sizeof rb);
  close(fd);
  CHECK(n == SIZE, "read() returned %d bytes, file has %d", n, SIZE);
  CHECK(rb[50] == 'z', "a store before EOF did not reach the file");
  int st = access_status(p + 2 * PG, LOAD);
  CHECK(st == -1, "load from a page wholly past EOF: status %d, not killed", st);
  st = access_status(p + 2 * PG + 8, STORE);
  CHECK(st == -1, "store to a page wholly past EOF: status %d, not killed", st);
  CHECK(file_size(F6) == SIZE, "size changed to %lu", file_size(F6));
  CHECK(munmap(p, 3 * PG) == 0, "munmap failed");
  CHECK(file_size(F6) == SIZE, "munmap changed the size to %lu", file_size(F6));
  // A mapping wholly past EOF can be made (Linux), just not touched.
  char *q = map_file(F6, O_RDONLY, PG, PROT_READ, MAP_PRIVATE, 4 * PG);
  CHECK(q != MAP_FAILED, "mmap at an offset past EOF failed");
  CHECK(access_status(q, LOAD) == -1, "load from a mapping past EOF: not killed");
  CHECK(munmap(q, PG) == 0, "munmap failed");
  CHECK(unlink(F6) == 0, "unlink failed");
  return 0;
}

// ------------------------------------------------------------------ errors

#define F7 "mt.f7"

// Every error returns -1 (MAP_FAILED) and changes nothing: no mapping
// appears or disappears, no frame is taken, the content stays.
static int case_errors(void) {
  CHECK(mkfile(F7, 2 * PG, 20) == 0, "cannot create %s", F7);
  int rdonly = open(F7, O_RDONLY), wronly = open(F7, O_WRONLY), rdwr = open(F7, O_RDWR);
  int closed = open(F7, O_RDONLY);
  int dir = open("/", O_RDONLY), dev = open("console", O_RDWR), pp[2];
  CHECK(rdonly >= 0 && wronly >= 0 && rdwr >= 0 && closed >= 0 && dir >= 0 && dev >= 0 &&
            pipe(pp) == 0,
        "open failed");
  close(closed);
  // An existing mapping that failed MAP_FIXED calls must leave alone.
  char *keep = map(0, 2 * PG, RW, MAP_SHARED, rdwr, 0);
  CHECK(keep != MAP_FAILED, "mmap failed");
  CHECK(check(keep, 0, 2 * PG, 20) < 0, "wrong content");
  int n0 = nmaps();
  CHECK(n0 > 0, "vmmap returned %d", n0);
  uint64 f0 = free_now();
  uint64 top = MAXVA;
  struct {
    const char *what;
    void *addr;
    uint64 len;
    int prot, flags, fd;
    uint64 off;
  } bad[] = {
      {"fd -1", 0, PG, PROT_READ, MAP_PRIVATE, -1, 0},
      {"fd 99", 0, PG, PROT_READ, MAP_PRIVATE, 99, 0},
      {"closed fd", 0, PG, PROT_READ, MAP_PRIVATE, closed, 0},
      {"fd not open for reading (private)", 0, PG, PROT_READ, MAP_PRIVATE, wronly, 0},
      {"fd not open for reading (shared)", 0, PG, RW, MAP_SHARED, wronly, 0},
      {"directory", 0, PG, PROT_READ, MAP_PRIVATE, dir, 0},
      {"device", 0, PG, PROT_READ, MAP_SHARED, dev, 0},
      {"pipe", 0, PG, PROT_READ, MAP_SHARED, pp[0], 0},
      {"len 0", 0, 0, PROT_READ, MAP_PRIVATE, rdonly, 0},
      {"len 0 anonymous", 0, 0, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0},
      {"len MAXVA", 0, top, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0},
      {"len MAXVA - 1 page (no room)", 0, top - PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0},
      {"len -1", 0, ~0UL, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0},
      {"len -1 page", 0, ~0UL - PG + 1, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0},
      {"off unaligned", 0, PG, PROT_READ, MAP_PRIVATE, rdonly, 100},
      {"off 1", 0, PG, PROT_READ, MAP_SHARED, rdonly, 1},
      {"off negative", 0, PG, PROT_READ, MAP_PRIVATE, rdonly, (uint64)-PG},
      {"MAP_FIXED unaligned", keep + 8, PG, RW, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0},
      {"neither shared nor private", 0, PG, PROT_READ, 0, rdonly, 0},
      {"neither shared nor private anonymous", 0, PG, RW, MAP_ANONYMOUS, -1, 0},
      {"PROT_WRITE|MAP_SHARED on O_RDONLY", 0, PG, RW, MAP_SHARED, rdonly, 0},
      {"same, MAP_FIXED over a mapping", keep, PG, RW, MAP_SHARED | MAP_FIXED, rdonly, 0},
      {"bad fd, MAP_FIXED over a mapping", keep, PG, PROT_READ, MAP_SHARED | MAP_FIXED, closed, 0},
      {"MAP_FIXED at MAXVA", (void *)top, PG, RW, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0},
      {"MAP_FIXED across MAXVA", (void *)(top - PG), 2 * PG, RW, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS,
       -1, 0},
      {"MAP_FIXED over the kernel", (void *)(KERNEL_DIRECT_MAP + KERNBASE), PG, RW,
       MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0},
      {"MAP_FIXED at the top page", (void *)0xFFFFFFFFFFFFF000UL, PG, RW,
       MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0},
      {"MAP_FIXED wrapping around", (void *)(top - PG), ~0UL - top + 2 * PG, RW,
       MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0},
  };
  int nbad = sizeof bad / sizeof bad[0];
  for (int i = 0; i < nbad; i++) {
    void *r = map(bad[i].addr, bad[i].len, bad[i].prot, bad[i].flags, bad[i].fd, bad[i].off);
    CHECK(r == MAP_FAILED, "mmap with %s returned %p", bad[i].what, r);
  }
  CHECK(munmap(keep, 0) == -1, "munmap of 0 bytes succeeded");
  CHECK(munmap(keep + 8, PG) == -1, "munmap of an unaligned address succeeded");
  CHECK(munmap((void *)top, PG) == -1, "munmap at MAXVA succeeded");
  CHECK(munmap((void *)(top - PG), 2 * PG) == -1, "munmap across MAXVA succeeded");
  CHECK(munmap((void *)(KERNEL_DIRECT_MAP + KERNBASE), PG) == -1, "munmap of the kernel succeeded");
  CHECK(munmap(keep, ~0UL - PG + 1) == -1, "munmap of a length reaching MAXVA succeeded");
  CHECK(mprotect((void *)top, PG, PROT_READ) == -1, "mprotect at MAXVA succeeded");
  CHECK(mprotect((void *)(KERNEL_DIRECT_MAP + KERNBASE), PG, RW) == -1,
        "mprotect of the kernel succeeded");
  CHECK(mprotect((void *)(MAXVA / 2), PG, PROT_READ) == -1, "mprotect of an unmapped range succeeded");
  CHECK(mprotect(keep + 8, PG, PROT_READ) == -1, "mprotect of an unaligned address succeeded");
  // A shared mapping of a read-only fd cannot become writable later.
  char *ro = map(0, 2 * PG, PROT_READ, MAP_SHARED, rdonly, 0);
  CHECK(ro != MAP_FAILED, "PROT_READ MAP_SHARED mapping of an O_RDONLY fd failed");
  int n1 = nmaps();
  CHECK(mprotect(ro, 2 * PG, RW) == -1, "mprotect added PROT_WRITE to a shared read-only-fd mapping");
  CHECK(mprotect(ro + PG, PG, RW) == -1, "mprotect added PROT_WRITE to half of it");
  CHECK(nmaps() == n1, "a failed mprotect split the mapping");
  CHECK(access_status(ro, STORE) == -1, "store after a failed mprotect: not killed");
  CHECK(munmap(ro, 2 * PG) == 0, "munmap failed");
  // Nothing changed.
  CHECK(nmaps() == n0, "%d mappings, were %d", nmaps(), n0);
  CHECK(free_now() == f0, "free frames %lu, were %lu", free_now(), f0);
  CHECK(check(keep, 0, 2 * PG, 20) < 0, "the existing mapping changed");
  fill(keep, 0, 8, 21); // still writable
  // munmap of a range with nothing mapped succeeds (POSIX, Linux).
  CHECK(munmap((void *)(MAXVA / 2), 4 * PG) == 0, "munmap of an unmapped range failed");
  CHECK(munmap(keep, 2 * PG) == 0, "munmap failed");
  close(rdonly);
  close(wronly);
  close(rdwr);
  close(dir);
  close(dev);
  close(pp[0]);
  close(pp[1]);
  CHECK(unlink(F7) == 0, "unlink failed");
  snprintf(msg, sizeof msg, "mmap errors=%d", nbad);
  return 0;
}

// ------------------------------------------------------------------ munmap-split

#define F8 "mt.f8"

// munmap of the middle of a mapping splits it: both halves keep their
// content and their file offsets; the hole is unmapped. Lengths round up.
static int case_munmap_split(void) {
  enum { N = 8 };
  char *p = anon(N * PG, RW, MAP_PRIVATE);
  CHECK(p != MAP_FAILED, "mmap failed");
  fill(p, 0, N * PG, 22);
  int n0 = nmaps();
  struct memstat a, b;
  ms(&a);
  CHECK(munmap(p + 3 * PG, 2 * PG) == 0, "munmap of the middle failed");
  ms(&b);
  CHECK(b.free_frames - a.free_frames >= 2, "munmap of 2 written pages gave back %lu frames",
        b.free_frames - a.free_frames);
  int n1 = nmaps();
  CHECK(n1 == n0 + 1, "%d mappings after the split, were %d", n1, n0);
  CHECK(check(p, 0, 3 * PG, 22) < 0 && check(p + 5 * PG, 5 * PG, 3 * PG, 22) < 0,
        "content lost by the split");
  CHECK(access_status(p + 3 * PG, LOAD) == -1 && access_status(p + 5 * PG - 8, STORE) == -1,
        "access to the hole not killed");
  // Rounding: 1 byte unmaps the whole page (the last of the lower half).
  CHECK(munmap(p + 2 * PG, 1) == 0, "munmap of 1 byte failed");
  CHECK(access_status(p + 2 * PG + 100, LOAD) == -1, "munmap of 1 byte left the page mapped");
  CHECK(check(p, 0, 2 * PG, 22) < 0, "lower pages lost");
  fill(p, 0, 2 * PG, 23);
  fill(p + 5 * PG, 5 * PG, 3 * PG, 23);
  // Over the hole and both pieces at once.
  CHECK(munmap(p, N * PG) == 0, "munmap of the whole range failed");
  CHECK(nmaps() == n0 - 1, "%d mappings after munmap, expected %d", nmaps(), n0 - 1);

  // A shared file mapping: the upper part keeps its file offset.
  CHECK(mkfile(F8, 6 * PG, 24) == 0, "cannot create %s", F8);
  char *s = map_file(F8, O_RDWR, 6 * PG, RW, MAP_SHARED, 0);
  CHECK(s != MAP_FAILED, "mmap failed");
  CHECK(munmap(s + 2 * PG, 2 * PG) == 0, "munmap failed");
  fill(s, 0, 2 * PG, 25);
  fill(s + 4 * PG, 4 * PG, 2 * PG, 25);
  CHECK(check(s + 4 * PG, 4 * PG, 2 * PG, 25) < 0, "upper part lost");
  n1 = nmaps();
  struct vmmap *v = entry_at(n1, (uint64)s + 4 * PG);
  CHECK(v && v->start == (uint64)s + 4 * PG && v->offset == 4 * PG,
        "upper half: vmmap start %p offset %lu", v ? (void *)v->start : 0, v ? v->offset : 0);
  CHECK(check_file(F8, 0, 2 * PG, 25) == -1 && check_file(F8, 2 * PG, 2 * PG, 24) == -1 &&
            check_file(F8, 4 * PG, 2 * PG, 25) == -1,
        "the file does not hold the stores at the right offsets");
  // The first page of a mapping, then the last.
  CHECK(munmap(s, PG) == 0 && munmap(s + 5 * PG, PG) == 0, "munmap of an end page failed");
  CHECK(check(s + PG, PG, PG, 25) < 0 && check(s + 4 * PG, 4 * PG, PG, 25) < 0, "content lost");
  CHECK(munmap(s, 6 * PG) == 0, "munmap failed");
  CHECK(unlink(F8) == 0, "unlink failed");
  return 0;
}

// ------------------------------------------------------------------ mprotect-split

// mprotect of part of a mapping splits it; protections are enforced page by
// page; mprotect back joins the pieces again.
static int case_mprotect_split(void) {
  enum { N = 6 };
  char *p = anon(N * PG, RW, MAP_PRIVATE);
  CHECK(p != MAP_FAILED, "mmap failed");
  fill(p, 0, N * PG, 26);
  int n0 = nmaps();
  CHECK(mprotect(p + 2 * PG, 2 * PG, PROT_READ) == 0, "mprotect failed");
  int n1 = nmaps();
  CHECK(n1 == n0 + 2, "%d mappings after mprotect of the middle, were %d", n1, n0);
  struct vmmap *v = entry_at(n1, (uint64)p + 2 * PG);
  CHECK(v && v->start == (uint64)p + 2 * PG && v->end == (uint64)p + 4 * PG && v->prot == PROT_READ,
        "the middle piece is not [%p, %p) PROT_READ", p + 2 * PG, p + 4 * PG);
  CHECK(check(p, 0, N * PG, 26) < 0, "content lost");
  CHECK(access_status(p + 2 * PG, STORE) == -1 && access_status(p + 4 * PG - 8, STORE) == -1,
        "store to the read-only middle not killed");
  CHECK(access_status(p + 2 * PG, LOAD) == 99, "load from the read-only middle killed");
  CHECK(access_status(p + PG, STORE) == 99 && access_status(p + 4 * PG, STORE) == 99,
        "store next to the read-only middle killed");
  fill(p, 0, 2 * PG, 27);
  fill(p + 4 * PG, 4 * PG, 2 * PG, 27);
  // PROT_NONE: no access at all; length 1 rounds up to the page.
  CHECK(mprotect(p + 5 * PG, 1, PROT_NONE) == 0, "mprotect PROT_NONE failed");
  CHECK(access_status(p + 5 * PG + 8, LOAD) == -1, "load from PROT_NONE not killed");
  CHECK(access_status(p + 5 * PG - 8, STORE) == 99, "the page below PROT_NONE was affected");
  // A kernel write into a read-only page fails (it does not kill).
  int pp[2];
  CHECK(pipe(pp) == 0 && write(pp[1], "abcdefgh", 8) == 8, "pipe failed");
  CHECK(read(pp[0], p + 2 * PG, 8) == -1, "read() into a read-only mapping succeeded");
  CHECK(read(pp[0], p + 5 * PG, 8) == -1, "read() into a PROT_NONE mapping succeeded");
  CHECK(read(pp[0], p + PG, 8) == 8 && memcmp(p + PG, "abcdefgh", 8) == 0, "read() into RW failed");
  close(pp[0]);
  close(pp[1]);
  // Back to RW everywhere: the pieces join again.
  CHECK(mprotect(p, N * PG, RW) == 0, "mprotect back failed");
  CHECK(nmaps() == n0, "%d mappings after mprotect back, expected %d", nmaps(), n0);
  CHECK(check(p + 2 * PG, 2 * PG, 2 * PG, 26) < 0 && check(p + 5 * PG, 5 * PG, PG, 27) < 0,
        "content lost through mprotect");
  fill(p, 0, N * PG, 28);
  CHECK(check(p, 0, N * PG, 28) < 0, "stores after mprotect back lost");
  // Read-only memory is still copy-on-write after fork, and mprotect in the
  // child does not change the parent.
  CHECK(mprotect(p, N * PG, PROT_READ) == 0, "mprotect failed");
  int pid = xfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    if (mprotect(p, PG, RW) != 0) exit(2);
    fill(p, 0, PG, 29);
    exit(0);
  }
  CHECK(waitst(pid) == 0, "child could not mprotect and write its copy");
  CHECK(check(p, 0, N * PG, 28) < 0, "the child's store reached the parent");
  CHECK(access_status(p, STORE) == -1, "the child's mprotect changed the parent's protection");
  CHECK(munmap(p, N * PG) == 0, "munmap failed");
  return 0;
}

// ------------------------------------------------------------------ fixed

#define F9 "mt.f9"

// MAP_FIXED replaces whatever was mapped there: the whole of a mapping, part
// of one, or parts of two; a hint without MAP_FIXED is only a hint.
static int case_fixed(void) {
  enum { N = 8 };
  CHECK(mkfile(F9, 4 * PG, 30) == 0, "cannot create %s", F9);
  char *p = anon(N * PG, RW, MAP_PRIVATE);
  CHECK(p != MAP_FAILED, "mmap failed");
  fill(p, 0, N * PG, 31);
  int n0 = nmaps();
  // Part of one (the middle): anonymous zeros.
  char *q = mmap(p + 2 * PG, 2 * PG, RW, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
  CHECK(q == p + 2 * PG, "MAP_FIXED returned %p, not %p", q, p + 2 * PG);
  CHECK(check_zero(q, 2 * PG) < 0, "the replaced pages are not zero");
  CHECK(check(p, 0, 2 * PG, 31) < 0 && check(p + 4 * PG, 4 * PG, 4 * PG, 31) < 0,
        "pages around the MAP_FIXED range changed");
  int n1 = nmaps();
  CHECK(n1 >= n0 && n1 <= n0 + 2, "%d mappings, were %d", n1, n0);
  // Part of one (the top end) with a file, read-only.
  int fd = open(F9, O_RDONLY);
  CHECK(fd >= 0, "open failed");
  q = map(p + 6 * PG, 2 * PG, PROT_READ, MAP_SHARED | MAP_FIXED, fd, PG);
  CHECK(q == p + 6 * PG, "MAP_FIXED of a file returned %p, not %p", q, p + 6 * PG);
  CHECK(check(q, PG, 2 * PG, 30) < 0, "MAP_FIXED file pages have the wrong content");
  CHECK(access_status(q, STORE) == -1, "store to the read-only file pages not killed");
  CHECK(check(p + 4 * PG, 4 * PG, 2 * PG, 31) < 0, "pages below changed");
  // Parts of two mappings at once (pages 3..4: the anonymous zeros and the
  // original), with a private writable file mapping.
  q = map(p + 3 * PG, 2 * PG, RW, MAP_PRIVATE | MAP_FIXED, fd, 0);
  CHECK(q == p + 3 * PG, "MAP_FIXED over two mappings returned %p", q);
  CHECK(check(q, 0, 2 * PG, 30) < 0, "wrong content");
  fill(q, 0, 2 * PG, 32);
  CHECK(check_file(F9, 0, 4 * PG, 30) == -1, "private stores reached the file");
  CHECK(check_zero(p + 2 * PG, PG) < 0 && check(p + 5 * PG, 5 * PG, PG, 31) < 0 &&
            check(p, 0, 2 * PG, 31) < 0,
        "neighbours changed");
  // The whole range: one mapping again.
  q = mmap(p, N * PG, RW, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
  CHECK(q == p, "MAP_FIXED over everything returned %p", q);
  CHECK(check_zero(p, N * PG) < 0, "not zero after MAP_FIXED over everything");
  CHECK(nmaps() == n0, "%d mappings, were %d", nmaps(), n0);
  fill(p, 0, N * PG, 33);
  // A hint at a free page is used; a hint at a used one is not, and the
  // existing mapping is left alone.
  CHECK(munmap(p + 4 * PG, 4 * PG) == 0, "munmap failed");
  q = map(p + 5 * PG, PG, RW, MAP_PRIVATE, fd, 0);
  CHECK(q == p + 5 * PG, "a free hint %p was not used (got %p)", p + 5 * PG, q);
  char *h = mmap(p, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(h != MAP_FAILED, "mmap with a hint at a used range failed");
  CHECK(h + 2 * PG <= p || h >= p + 4 * PG, "a hint at a used range overlapped it (%p)", h);
  CHECK(check(p, 0, 4 * PG, 33) < 0, "a hint replaced an existing mapping");
  CHECK(check(q, 0, PG, 30) < 0, "wrong file content at the hint");
  close(fd);
  CHECK(munmap(p, N * PG) == 0 && munmap(h, 2 * PG) == 0, "munmap failed");
  CHECK(nmaps() == n0 - 1, "%d mappings at the end, expected %d", nmaps(), n0 - 1);
  CHECK(unlink(F9) == 0, "unlink failed");
  return 0;
}

// ------------------------------------------------------------------ fork

#define F10 "mt.f10"

static uint64 alt_fork(uint64 o, uint64 tag) {
  return o < PG ? 41 : o >= PG && o < 2 * PG ? 42 : tag;
}

// fork with shared and private, file and anonymous mappings; both write;
// shared stores are seen by both and reach the file, private ones by none.
static int case_fork(void) {
  enum { N = 4 };
  CHECK(mkfile(F10, N * PG, 40) == 0, "cannot create %s", F10);
  char *fs = map_file(F10, O_RDWR, N * PG, RW, MAP_SHARED, 0);
  char *fp = map_file(F10, O_RDONLY, N * PG, RW, MAP_PRIVATE, 0);
  char *as = anon(N * PG, RW, MAP_SHARED);
  char *ap = anon(N * PG, RW, MAP_PRIVATE);
  CHECK(fs != MAP_FAILED && fp != MAP_FAILED && as != MAP_FAILED && ap != MAP_FAILED,
        "mmap failed");
  fill(fp, 0, N * PG, 43);
  fill(as, 0, N * PG, 44);
  fill(ap, 0, N * PG, 45);
  // Page 3 of each stays untouched until after the fork.
  int a[2], b[2];
  CHECK(pipe(a) == 0 && pipe(b) == 0, "pipe failed");
  int pid = xfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    if (check(fp, 0, N * PG, 43) >= 0 || check(as, 0, N * PG, 44) >= 0 ||
        check(ap, 0, N * PG, 45) >= 0 || check(fs, 0, N * PG, 40) >= 0)
      exit(2);
    fill(fs, 0, PG, 41);          // shared file, page 0: child
    fill(as, 0, PG, 46);          // shared anon, page 0: child
    fill(fp, 0, PG, 47);          // private: the child's own
    fill(ap, 0, PG, 48);
    fill(fs + 3 * PG, 3 * PG, 8, 49); // a page nobody had touched
    put1(a[1]);
    get1(b[0]);
    if (check(fs + PG, PG, PG, 42) >= 0 || check(as + PG, PG, PG, 50) >= 0) exit(3);
    if (check(fp + PG, PG, PG, 43) >= 0 || check(ap + PG, PG, PG, 45) >= 0) exit(4);
    exit(0);
  }
  close(a[1]);
  close(b[0]);
  CHECK(get1(a[0]) == 1, "child failed (status %d)", waitst(pid));
  fill(fs + PG, PG, PG, 42); // shared file, page 1: parent
  fill(as + PG, PG, PG, 50); // shared anon, page 1: parent
  fill(fp + PG, PG, PG, 51); // private
  fill(ap + PG, PG, PG, 52);
  CHECK(check(fs, 0, PG, 41) < 0 && check(as, 0, PG, 46) < 0, "the parent does not see the child's shared stores");
  CHECK(check(fs + 3 * PG, 3 * PG, 8, 49) < 0, "the parent does not see the child's store to an untouched shared page");
  CHECK(check(fp, 0, PG, 43) < 0 && check(ap, 0, PG, 45) < 0, "the child's private stores reached the parent");
  put1(b[1]);
  int st = waitst(pid);
  CHECK(st == 0, "child: %s (status %d)",
        st == 2   ? "wrong content inherited"
        : st == 3 ? "does not see the parent's shared stores"
        : st == 4 ? "sees the parent's private stores"
                  : "died",
        st);
  // After the child's exit: shared pages and writability stay.
  fill(fs + 2 * PG, 2 * PG, PG, 40);
  CHECK(check(fs, 0, PG, 41) < 0 && check(as, 0, PG, 46) < 0, "shared content lost at the child's exit");
  int fd = open(F10, O_RDONLY);
  CHECK(fd >= 0 && readn(fd, iobuf, PG) == PG, "read failed");
  CHECK(check(iobuf, 0, PG, 41) < 0, "the file does not hold the child's store");
  CHECK(readn(fd, iobuf, PG) == PG && check(iobuf, PG, PG, 42) < 0, "the file does not hold the parent's store");
  close(fd);
  CHECK(munmap(fs, N * PG) == 0 && munmap(fp, N * PG) == 0 && munmap(as, N * PG) == 0 &&
            munmap(ap, N * PG) == 0,
        "munmap failed");
  alt_tag = alt_fork;
  long bad = check_file(F10, 0, 3 * PG, 40);
  alt_tag = 0;
  CHECK(bad == -1, "file content after munmap: %ld", bad);
  CHECK(unlink(F10) == 0, "unlink failed");
  return 0;
}

// ------------------------------------------------------------------ child-maps

#define F11 "mt.f11"

// A child maps a file and exits without munmap: its dirty shared pages reach
// the file (written back), the frames come back. A child that unmaps part of
// an inherited mapping leaves the parent's alone.
static int case_child_maps(void) {
  enum { N = 4 };
  CHECK(mkfile(F11, N * PG, 60) == 0, "cannot create %s", F11);
  struct memstat a, b;
  ms(&a);
  int pid = xfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    char *p = map_file(F11, O_RDWR, N * PG, RW, MAP_SHARED, 0);
    char *q = anon(64 * PG, RW, MAP_PRIVATE);
    if (p == MAP_FAILED || q == MAP_FAILED) exit(2);
    fill(p, 0, N * PG, 61);
    fill(q, 0, 64 * PG, 62);
    exit(0);
  }
  CHECK(waitst(pid) == 0, "child failed");
  ms(&b);
  CHECK(check_file(F11, 0, N * PG, 61) == -1, "the exited child's stores are not in the file");
  CHECK(b.cache_writebacks > a.cache_writebacks, "exit wrote back no dirty page (writebacks +0)");
  // Parent maps, child unmaps part and exits, parent still maps.
  char *p = map_file(F11, O_RDWR, N * PG, RW, MAP_SHARED, 0);
  CHECK(p != MAP_FAILED, "mmap failed");
  pid = xfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
    if (munmap(p + PG, 2 * PG) != 0) exit(2);
    fill(p, 0, PG, 63);
    exit(0);
  }
  CHECK(waitst(pid) == 0, "child failed");
  CHECK(check(p, 0, PG, 63) < 0, "the child's store is not seen");
  CHECK(check(p + PG, PG, 3 * PG, 61) < 0, "the child's munmap changed the parent's mapping");
  fill(p + PG, PG, PG, 64);
  CHECK(munmap(p, N * PG) == 0, "munmap failed");
  CHECK(unlink(F11) == 0, "unlink failed");
  return 0;
}

// ------------------------------------------------------------------ copy-in-out

#define F12 "mt.f12"

// System calls read and write mapped memory that has not been touched yet:
// the kernel faults it in exactly like a user access would.
static int case_copy_in_out(void) {
  enum { SIZE = 4 * PG };
  CHECK(mkfile(F12, SIZE, 70) == 0, "cannot create %s", F12);
  char *fsh = map_file(F12, O_RDWR, SIZE, RW, MAP_SHARED, 0);
  char *fpr = map_file(F12, O_RDONLY, SIZE, RW, MAP_PRIVATE, 0);
  char *an = anon(2 * PG, RW, MAP_PRIVATE);
  CHECK(fsh != MAP_FAILED && fpr != MAP_FAILED && an != MAP_FAILED, "mmap failed");
  int pp[2];
  CHECK(pipe(pp) == 0, "pipe failed");
  // write() from untouched mappings.
  CHECK(write(pp[1], fsh + PG, 64) == 64 && readn(pp[0], iobuf, 64) == 64 && check(iobuf, PG, 64, 70) < 0,
        "write() from an untouched shared file mapping");
  CHECK(write(pp[1], fpr + 2 * PG, 64) == 64 && readn(pp[0], iobuf, 64) == 64 &&
            check(iobuf, 2 * PG, 64, 70) < 0,
        "write() from an untouched private file mapping");
  CHECK(write(pp[1], an + PG, 64) == 64 && readn(pp[0], iobuf, 64) == 64 && check_zero(iobuf, 64) < 0,
        "write() from untouched anonymous memory");
  // read() into untouched mappings.
  fill(iobuf, 0, 64, 71);
  CHECK(write(pp[1], iobuf, 64) == 64 && read(pp[0], fsh + 3 * PG, 64) == 64, "read() into a shared file mapping failed");
  CHECK(check(fsh + 3 * PG, 0, 64, 71) < 0 && check(fsh + 3 * PG + 64, 3 * PG + 64, 64, 70) < 0, "read() into a shared file mapping: wrong content");
  CHECK(write(pp[1], iobuf, 64) == 64 && read(pp[0], fpr + 3 * PG, 64) == 64, "read() into a private file mapping failed");
  CHECK(check(fpr + 3 * PG, 0, 64, 71) < 0, "read() into a private file mapping: wrong content");
  CHECK(write(pp[1], iobuf, 64) == 64 && read(pp[0], an, 64) == 64, "read() into anonymous memory failed");
  CHECK(check(an, 0, 64, 71) < 0 && check_zero(an + 64, PG - 64) < 0, "read() into anonymous memory: wrong content");
  // The file holds the shared read, not the private one.
  int fd = open(F12, O_RDONLY);
  CHECK(fd >= 0, "open failed");
  CHECK(readn(fd, iobuf, PG) == PG && readn(fd, iobuf, PG) == PG && readn(fd, iobuf, PG) == PG &&
            readn(fd, iobuf, PG) == PG,
        "read failed");
  close(fd);
  CHECK(check(iobuf, 0, 64, 71) < 0, "read() into a shared mapping did not reach the file");
  // read() of a file into a mapping of that same file's other page.
  fd = open(F12, O_RDONLY);
  CHECK(fd >= 0 && read(fd, fsh + 2 * PG, PG) == PG, "read() of the file into its own mapping");
  close(fd);
  CHECK(check(fsh + 2 * PG, 0, 64, 70) < 0, "read() of the file into its own mapping: wrong content");
  close(pp[0]);
  close(pp[1]);
  CHECK(munmap(fsh, SIZE) == 0 && munmap(fpr, SIZE) == 0 && munmap(an, 2 * PG) == 0, "munmap failed");
  CHECK(unlink(F12) == 0, "unlink failed");
  return 0;
}

// ------------------------------------------------------------------ many

#define F13 "mt.f13"
#define MANY 400

// Hundreds of mappings in one process (alternating kinds and protections so
// that none can be joined), unmapped in a scattered order.
static int case_many(void) {
  CHECK(mkfile(F13, 4 * PG, 80) == 0, "cannot create %s", F13);
  int fd = open(F13, O_RDWR);
  CHECK(fd >= 0, "open failed");
  static char *m[MANY];
  int n0 = nmaps();
  for (int i = 0; i < MANY; i++) {
    if (i % 2) m[i] = map(0, PG, i % 4 == 1 ? PROT_READ : RW, MAP_SHARED, fd, (i % 4) * PG);
    else m[i] = anon(PG, i % 4 == 0 ? RW : PROT_READ, MAP_PRIVATE);
    CHECK(m[i] != MAP_FAILED, "mmap %d failed", i);
  }
  close(fd);
  int n1 = nmaps();
  CHECK(n1 >= n0 + MANY, "vmmap lists %d mappings, expected at least %d", n1, n0 + MANY);
  for (int i = 0; i < MANY; i++) {
    if (i % 4 == 0) *(uint64 *)m[i] = i;
    if (i % 4 == 3) *(uint64 *)(m[i] + 8 * (i / 4) + 16) = i;
  }
  for (int i = 0; i < MANY; i++) {
    uint64 w = *(volatile uint64 *)m[i];
    if (i % 4 == 0) CHECK(w == (uint64)i, "anon mapping %d lost its word", i);
    else if (i % 4 == 2) CHECK(w == 0, "anon mapping %d not zero", i);
    else CHECK(w == pat((i % 4) * PG, 80), "file mapping %d: wrong word", i);
  }
  for (int j = 0; j < 3; j++) // unmap every third, in three passes
    for (int i = j; i < MANY; i += 3) CHECK(munmap(m[i], PG) == 0, "munmap %d failed", i);
  CHECK(nmaps() == n0, "%d mappings at the end, were %d", nmaps(), n0);
  // Every word stored through the shared mappings of page 3 is in the file.
  fd = open(F13, O_RDONLY);
  CHECK(fd >= 0, "open failed");
  for (int i = 0; i < 4; i++) CHECK(readn(fd, iobuf, PG) == PG, "read failed");
  close(fd);
  for (int i = 3; i < MANY; i += 4)
    CHECK(*(uint64 *)(iobuf + 8 * (i / 4) + 16) == (uint64)i, "store of mapping %d is not in the file", i);
  CHECK(unlink(F13) == 0, "unlink failed");
  snprintf(msg, sizeof msg, "mappings=%d", n1 - n0);
  return 0;
}

// ------------------------------------------------------------------ big-file

#define F14 "mt.f14"

// A 4 MiB file mapped shared: every page read through the mapping equals
// read(); a store in every 16th page reaches the file.
static int case_big_file(void) {
  enum { NP = 1024 };
  CHECK(mkfile(F14, (uint64)NP * PG, 90) == 0, "cannot create %s of 4 MiB (file system too small?)", F14);
  char *p = map_file(F14, O_RDWR, (uint64)NP * PG, RW, MAP_SHARED, 0);
  CHECK(p != MAP_FAILED, "mmap of 4 MiB failed");
  long bad = check(p, 0, (uint64)NP * PG, 90);
  CHECK(bad < 0, "wrong word at %ld", bad);
  for (int i = 0; i < NP; i += 16) *(uint64 *)(p + (uint64)i * PG + 8) = 0x5A5A0000 + i;
  int fd = open(F14, O_RDONLY);
  CHECK(fd >= 0, "open failed");
  for (int i = 0; i < NP; i++) {
    CHECK(readn(fd, iobuf, PG) == PG, "read failed at page %d", i);
    uint64 w = *(uint64 *)(iobuf + 8);
    CHECK(w == (i % 16 ? pat((uint64)i * PG + 8, 90) : 0x5A5A0000 + (uint64)i),
          "page %d: read() and the mapping disagree", i);
  }
  close(fd);
  CHECK(munmap(p, (uint64)NP * PG) == 0, "munmap failed");
  CHECK(unlink(F14) == 0, "unlink failed");
  return 0;
}

// ------------------------------------------------------------------ concurrent

#define F15 "mt.f15"

// Several processes fault the same untouched shared file pages at once,
// each storing into its own words, round after round.
static int case_concurrent(void) {
  enum { N = 16, K = 3, ROUNDS = 10 };
  CHECK(mkfile(F15, N * PG, 100) == 0, "cannot create %s", F15);
  int go[2];
  CHECK(pipe(go) == 0, "pipe failed");
  for (int round = 0; round < ROUNDS; round++) {
    char *p = map_file(F15, O_RDWR, N * PG, RW, MAP_SHARED, 0);
    char *q = map_file(F15, O_RDONLY, N * PG, RW, MAP_PRIVATE, 0);
    CHECK(p != MAP_FAILED && q != MAP_FAILED, "round %d: mmap failed", round);
    for (int k = 0; k < K; k++) {
      int pid = xfork();
      CHECK(pid >= 0, "fork failed");
      if (pid == 0) {
        get1(go[0]);
        for (int i = 0; i < N; i++) {
          uint64 *w = (uint64 *)(p + i * PG);
          uint64 *v = (uint64 *)(q + i * PG);
          w[64 + k] = round * 100 + k;
          v[64 + k] = 0xDEAD; // private: a copy of its own
          if (w[64 + k] != (uint64)(round * 100 + k) || w[8] != pat(i * PG + 64, 100)) exit(2);
        }
        exit(0);
      }
    }
    for (int k = 0; k < K; k++) put1(go[1]);
    for (int i = 0; i < N; i++) (void)*(volatile uint64 *)(p + i * PG + 8);
    for (int k = 0; k < K; k++) {
      int st = -2;
      wait(&st);
      CHECK(st == 0, "round %d: a child %s (status %d)", round, st == 2 ? "saw wrong content" : "died", st);
    }
    for (int i = 0; i < N; i++)
      for (int k = 0; k < K; k++) {
        CHECK(*(uint64 *)(p + i * PG + 8 * (64 + k)) == (uint64)(round * 100 + k),
              "round %d: store of child %d in page %d lost", round, k, i);
        CHECK(*(uint64 *)(q + i * PG + 8 * (64 + k)) == (uint64)(round * 100 + k),
              "round %d: a private mapping does not see the shared stores, or a child's private store leaked", round);
      }
    CHECK(munmap(p, N * PG) == 0 && munmap(q, N * PG) == 0, "munmap failed");
  }
  CHECK(unlink(F15) == 0, "unlink failed");
  snprintf(msg, sizeof msg, "rounds=%d procs=%d", ROUNDS, K + 1);
  return 0;
}

// ------------------------------------------------------------------ heap

// sbrk and mmap share the address space without overlapping: a mapping
// placed just above the break is not overwritten by a later sbrk.
static int case_heap(void) {
  char *brk = sbrk(0);
  if ((uint64)brk % PG) brk = sbrk(PG - (uint64)brk % PG) + (PG - (uint64)brk % PG);
  char *at = (char *)PGROUNDUP((uint64)brk) + 4 * PG;
  char *p = mmap(at, PG, RW, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
  CHECK(p == at, "MAP_FIXED just above the break returned %p, not %p", p, at);
  fill(p, 0, PG, 110);
  char *r = sbrk(8 * PG);
  if (r != (char *)-1) {
    // The heap grew over the mapping: only acceptable if it did not.
    CHECK(0, "sbrk grew the heap over a mapping at %p (heap now ends at %p)", p, sbrk(0));
  }
  CHECK(check(p, 0, PG, 110) < 0, "the mapping changed");
  CHECK(sbrk(2 * PG) != (char *)-1, "sbrk below the mapping failed");
  fill(brk, 0, 2 * PG, 111);
  CHECK(check(p, 0, PG, 110) < 0, "the mapping changed");
  CHECK(munmap(p, PG) == 0, "munmap failed");
  CHECK(sbrk(8 * PG) != (char *)-1, "sbrk after munmap failed");
  fill(brk + 2 * PG, 2 * PG, 8 * PG, 111);
  CHECK(sbrk(-10 * PG) != (char *)-1, "sbrk shrink failed");
  // Mappings placed by the kernel are nowhere near the heap.
  char *q = anon(PG, RW, MAP_PRIVATE);
  CHECK(q != MAP_FAILED, "mmap failed");
  CHECK((uint64)q > (uint64)sbrk(0) + 64 * PG, "a mapping placed at %p, right above the break %p", q, sbrk(0));
  CHECK(munmap(q, PG) == 0, "munmap failed");
  return 0;
}

// ------------------------------------------------------------------ kills

#define F16 "mt.f16"

// Every forbidden access kills the process with wait status -1; the
// parent's mappings of the same file are unaffected.
static int case_kills(void) {
  CHECK(mkfile(F16, 2 * PG, 120) == 0, "cannot create %s", F16);
  char *rs = map_file(F16, O_RDWR, 2 * PG, PROT_READ, MAP_SHARED, 0);
  char *rp = map_file(F16, O_RDONLY, 2 * PG, PROT_READ, MAP_PRIVATE, 0);
  char *ra = anon(PG, PROT_READ, MAP_PRIVATE);
  char *na = anon(PG, PROT_NONE, MAP_PRIVATE);
  char *nf = map_file(F16, O_RDONLY, PG, PROT_NONE, MAP_SHARED, 0);
  char *gone = anon(PG, RW, MAP_PRIVATE);
  char *ws = map_file(F16, O_RDWR, 2 * PG, RW, MAP_SHARED, 0);
  char *xa = anon(PG, RW, MAP_PRIVATE);
  CHECK(rs != MAP_FAILED && rp != MAP_FAILED && ra != MAP_FAILED && na != MAP_FAILED &&
            nf != MAP_FAILED && gone != MAP_FAILED && ws != MAP_FAILED && xa != MAP_FAILED,
        "mmap failed");
  *(uint64 *)gone = 1;
  CHECK(munmap(gone, PG) == 0, "munmap failed");
  *(uint32 *)xa = 0x00008067; // ret: would run if the page were executable
  CHECK(mprotect(ws + PG, PG, PROT_READ) == 0, "mprotect failed");
  struct {
    const char *what;
    void *addr;
    int kind;
  } bad[] = {
      {"store to a read-only shared file mapping", rs + 16, STORE},
      {"store to a read-only shared file mapping (page 2)", rs + PG, STORE},
      {"store to a read-only private file mapping", rp, STORE},
      {"store to read-only anonymous memory", ra, STORE},
      {"load from PROT_NONE anonymous memory", na, LOAD},
      {"load from a PROT_NONE file mapping", nf, LOAD},
      {"load from an unmapped page", gone, LOAD},
      {"store to an unmapped page", gone, STORE},
      {"store after mprotect PROT_READ", ws + PG + 8, STORE},
      {"execute in memory without PROT_EXEC", xa, EXEC},
  };
  int nbad = sizeof bad / sizeof bad[0];
  for (int i = 0; i < nbad; i++) {
    int st = access_status(bad[i].addr, bad[i].kind);
    CHECK(st == -1, "%s: status %d, not killed", bad[i].what, st);
  }
  // Loads that are allowed are allowed.
  CHECK(access_status(rs, LOAD) == 99 && access_status(rp, LOAD) == 99 && access_status(ra, LOAD) == 99,
        "a load from a readable mapping killed");
  CHECK(check(rs, 0, 2 * PG, 120) < 0 && check(ws, 0, 2 * PG, 120) < 0, "content changed");
  CHECK(check_file(F16, 0, 2 * PG, 120) == -1, "the file changed");
  fill(ws, 0, 8, 121);
  CHECK(check(rs, 0, 8, 121) < 0, "store after the kills not seen");
  CHECK(munmap(rs, 2 * PG) == 0 && munmap(rp, 2 * PG) == 0 && munmap(ra, PG) == 0 &&
            munmap(na, PG) == 0 && munmap(nf, PG) == 0 && munmap(ws, 2 * PG) == 0 &&
            munmap(xa, PG) == 0,
        "munmap failed");
  CHECK(unlink(F16) == 0, "unlink failed");
  snprintf(msg, sizeof msg, "victims=%d", nbad);
  return 0;
}

// ------------------------------------------------------------------ exec

static volatile uint64 gdata[PG / 8] = {0x1234567890ABCDEFUL, 2, 3}; // in the data segment
static uint64 gbss[PG / 8];                                           // in the bss

// Exec'd programs: data copy-on-write from the page cache (a store in one
// process is not seen by the next), bss zero, text and data pages the same
// frames in every process (vmmap: shared); the program file cannot be
// opened for writing while a process runs it.
// The pipes of the exec cases: helpers say "ready" on one and wait on the
// other. When a case fails half-way, with_helpers() closes the write end of
// `hold`, so that every helper still waiting sees end of file and exits.
static int hold[2] = {-1, -1}, ready[2] = {-1, -1};

static int with_helpers(int (*body)(void)) {
  int r = body();
  if (hold[1] >= 0) close(hold[1]);
  while (wait(0) >= 0)
    ;
  return r;
}

static int exec_body(void) {
  CHECK(open("/maptest", O_WRONLY) < 0, "open of a running program for writing succeeded");
  CHECK(open("/maptest", O_RDWR) < 0, "open of a running program for reading and writing succeeded");
  uint64 size0 = file_size("/maptest");
  CHECK(open("/maptest", O_RDONLY | O_TRUNC) < 0 || file_size("/maptest") == size0,
        "O_TRUNC truncated a running program");
  int fd = open("/maptest", O_RDONLY);
  CHECK(fd >= 0, "open of the program for reading failed");
  close(fd);
  CHECK(pipe(hold) == 0 && pipe(ready) == 0, "pipe failed");
  int pids[2];
  for (int k = 0; k < 2; k++) {
    pids[k] = xfork();
    CHECK(pids[k] >= 0, "fork failed");
    if (pids[k] == 0) {
      close(hold[1]); // the helper sees end of file if we give up
      close(ready[0]);
      char a[8], b[8];
      snprintf(a, sizeof a, "%d", ready[1]);
      snprintf(b, sizeof b, "%d", hold[0]);
      char *argv[] = {"maptest", "--data", a, b, 0};
      exec("/maptest", argv);
      exit(5);
    }
  }
  close(ready[1]); // a helper that dies cannot leave us waiting
  close(hold[0]);
  for (int k = 0; k < 2; k++) {
    char r[8];
    CHECK(readn(ready[0], r, 8) == 8, "a helper did not start");
    CHECK(r[0] == 'G', "a helper: data %s", r[0] == 'D' ? "word wrong" : "or bss wrong");
  }
  // Both helpers have written their data: look at their text and data.
  int n = vmmap(pids[1], vmbuf, 600);
  CHECK(n > 0, "vmmap of a helper failed");
  int text = 0, data = 0;
  uint64 priv = 0;
  for (int i = 0; i < n; i++) {
    if (vmbuf[i].kind == VMMAP_TEXT) {
      text = 1;
      CHECK(vmbuf[i].resident > 0 && vmbuf[i].private_ == 0 && vmbuf[i].shared == vmbuf[i].resident,
            "text: %lu resident, %lu shared, %lu private", vmbuf[i].resident, vmbuf[i].shared,
            vmbuf[i].private_);
      CHECK(vmbuf[i].prot == (PROT_READ | PROT_EXEC), "text prot %d", vmbuf[i].prot);
      CHECK(strcmp(vmbuf[i].name, "maptest") == 0, "text name '%s'", vmbuf[i].name);
    }
    if (vmbuf[i].kind == VMMAP_DATA) { // data and bss: one mapping or more
      data = 1;
      priv += vmbuf[i].private_;
      CHECK(vmbuf[i].flags == MAP_PRIVATE && (vmbuf[i].prot & PROT_WRITE), "data flags %d prot %d",
            vmbuf[i].flags, vmbuf[i].prot);
    }
  }
  CHECK(text && data, "vmmap of a helper lists no text or no data");
  CHECK(priv >= 2, "data and bss: the helper's stores made %lu private pages, not 2", priv);
  CHECK(open("/maptest", O_WRONLY) < 0, "open for writing succeeded while helpers run it");
  for (int k = 0; k < 2; k++) put1(hold[1]);
  for (int k = 0; k < 2; k++) {
    int st = -2;
    wait(&st);
    CHECK(st == 0, "helper failed (status %d)", st);
  }
  CHECK(gdata[0] == 0x1234567890ABCDEFUL && gbss[3] == 0, "a helper's store reached this process");
  CHECK(vmmap(pids[0], vmbuf, 600) == -1, "vmmap of an exited process succeeded");
  CHECK(vmmap(-5, vmbuf, 600) == -1, "vmmap of pid -5 succeeded");
  return 0;
}

// exec target: check the data and bss of a fresh image, store into both,
// say so, wait for the word, exit.
static int data_helper(int argc, char **argv) {
  if (argc != 4) return 1;
  int w = atoi(argv[2]), r = atoi(argv[3]);
  char c = gdata[0] == 0x1234567890ABCDEFUL && gdata[1] == 2 ? 'G' : 'D';
  for (int i = 0; i < PG / 8; i++)
    if (gbss[i]) c = 'B';
  gdata[0] = 99;
  gbss[3] = 7;
  char line[8] = {c, 'o', 'k', 0, 0, 0, 0, 0};
  write(w, line, 8);
  get1(r);
  return gdata[0] == 99 && gbss[3] == 7 ? 0 : 1;
}

// ------------------------------------------------------------------ exec-copy

#define FPROG "mt.prog"

// A copy of this program: while a process runs it, it cannot be opened for
// writing or truncated; afterwards it can; removing it frees its pages.
static int exec_copy_body(void) {
  int in = open("/maptest", O_RDONLY), out = open(FPROG, O_CREATE | O_RDWR | O_TRUNC);
  CHECK(in >= 0 && out >= 0, "open failed");
  int n;
  while ((n = read(in, iobuf, PG)) > 0) CHECK(write(out, iobuf, n) == n, "write failed");
  close(in);
  close(out);
  CHECK(pipe(hold) == 0 && pipe(ready) == 0, "pipe failed");
  int pid = xfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
      close(hold[1]); // the helper sees end of file if we give up
      close(ready[0]);
    char a[8], b[8];
    snprintf(a, sizeof a, "%d", ready[1]);
    snprintf(b, sizeof b, "%d", hold[0]);
    char *argv[] = {FPROG, "--data", a, b, 0};
    exec(FPROG, argv);
    exit(5);
  }
  close(ready[1]);
  close(hold[0]);
  char r[8];
  CHECK(readn(ready[0], r, 8) == 8 && r[0] == 'G', "the copy did not start");
  uint64 size = file_size(FPROG);
  int w = open(FPROG, O_WRONLY);
  int t = w < 0 ? open(FPROG, O_RDWR | O_TRUNC) : -1;
  uint64 size2 = file_size(FPROG);
  if (w >= 0) close(w);
  if (t >= 0) close(t);
  int ul = unlink(FPROG); // allowed (Linux): the running copy keeps the file
  put1(hold[1]);
  int st = waitst(pid);
  CHECK(w < 0, "a running program was opened for writing");
  CHECK(t < 0 && size2 == size, "a running program was truncated (size %lu -> %lu)", size, size2);
  CHECK(st == 0, "the copy failed (status %d)", st);
  CHECK(ul == 0, "unlink of a running program failed");
  // Once no process runs it, it can be written (a new file of that name).
  CHECK(mkfile(FPROG, PG, 1) == 0, "cannot create %s again", FPROG);
  CHECK(unlink(FPROG) == 0, "unlink failed");
  return 0;
}

// ------------------------------------------------------------------ exec-release

// exec releases the old image's mappings: anonymous frames come back and
// dirty shared pages are written back.
#define F17 "mt.f17"
static int exec_release_body(void) {
  CHECK(mkfile(F17, 2 * PG, 130) == 0, "cannot create %s", F17);
  CHECK(pipe(ready) == 0 && pipe(hold) == 0, "pipe failed");
  struct memstat a, b, c;
  int pid = xfork();
  CHECK(pid >= 0, "fork failed");
  if (pid == 0) {
      close(hold[1]); // the helper sees end of file if we give up
      close(ready[0]);
    char *p = map_file(F17, O_RDWR, 2 * PG, RW, MAP_SHARED, 0);
    char *q = anon(128 * PG, RW, MAP_PRIVATE);
    if (p == MAP_FAILED || q == MAP_FAILED) exit(2);
    fill(p, 0, 2 * PG, 131);
    fill(q, 0, 128 * PG, 132);
    put1(ready[1]);
    get1(hold[0]);
    char x[8], y[8];
    snprintf(x, sizeof x, "%d", ready[1]);
    snprintf(y, sizeof y, "%d", hold[0]);
    char *argv[] = {"maptest", "--hold", x, y, 0};
    exec("/maptest", argv);
    exit(5);
  }
  close(ready[1]);
  close(hold[0]);
  CHECK(get1(ready[0]) == 1, "child failed (status %d)", waitst(pid));
  ms(&a);
  put1(hold[1]);
  CHECK(get1(ready[0]) == 1, "helper failed (status %d)", waitst(pid)); // the old image is gone
  ms(&b);
  put1(hold[1]);
  CHECK(waitst(pid) == 0, "child or helper failed");
  ms(&c);
  CHECK(b.free_frames >= a.free_frames + 120, "exec gave back %ld frames, the old image had 128 anonymous ones",
        (long)(b.free_frames - a.free_frames));
  CHECK(b.cache_writebacks > a.cache_writebacks, "exec wrote back no dirty shared page");
  CHECK(check_file(F17, 0, 2 * PG, 131) == -1, "the file does not hold the old image's stores");
  CHECK(unlink(F17) == 0, "unlink failed");
  return 0;
}

static int case_exec(void) { return with_helpers(exec_body); }
static int case_exec_copy(void) { return with_helpers(exec_copy_body); }
static int case_exec_release(void) { return with_helpers(exec_release_body); }

static int hold_helper(int argc, char **argv) {
  if (argc != 4) return 1;
  put1(atoi(argv[2]));
  get1(atoi(argv[3]));
  return 0;
}

// ------------------------------------------------------------------ run-twice

// A program run a second time is read entirely from the page cache.
static int case_run_twice(void) {
  struct memstat m[3];
  for (int i = 0; i < 2; i++) {
    ms(&m[i]);
    int pid = xfork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
      char *argv[] = {"true", 0};
      exec("/true", argv);
      exit(5);
    }
    CHECK(waitst(pid) == 0, "run %d of /true failed", i + 1);
  }
  ms(&m[2]);
  CHECK(m[2].cache_misses == m[1].cache_misses, "the second run missed the cache %lu times",
        m[2].cache_misses - m[1].cache_misses);
  CHECK(m[2].cache_hits > m[1].cache_hits, "the second run did not use the cache");
  snprintf(msg, sizeof msg, "first run: %lu misses, %lu hits; second: 0 misses, %lu hits",
           m[1].cache_misses - m[0].cache_misses, m[1].cache_hits - m[0].cache_hits,
           m[2].cache_hits - m[1].cache_hits);
  return 0;
}

// ------------------------------------------------------------------ harness

struct tcase {
  const char *name;
  int (*fn)(void);
  int caches; // may leave program pages in the page cache
};

static struct tcase cases[] = {
    {"anon-lazy", case_anon_lazy, 0},
    {"zero-frame", case_zero_frame, 0},
    {"anon-shared", case_anon_shared, 0},
    {"file-read", case_file_read, 0},
    {"shared-store", case_shared_store, 0},
    {"write-coherent", case_write_coherent, 0},
    {"private-cow", case_private_cow, 0},
    {"close-unlink", case_close_unlink, 0},
    {"past-eof", case_past_eof, 0},
    {"errors", case_errors, 0},
    {"munmap-split", case_munmap_split, 0},
    {"mprotect-split", case_mprotect_split, 0},
    {"fixed", case_fixed, 0},
    {"fork", case_fork, 0},
    {"child-maps", case_child_maps, 0},
    {"copy-in-out", case_copy_in_out, 0},
    {"many", case_many, 0},
    {"big-file", case_big_file, 0},
    {"concurrent", case_concurrent, 0},
    {"heap", case_heap, 0},
    {"kills", case_kills, 0},
    {"exec", case_exec, 0},
    {"exec-copy", case_exec_copy, 0},
    {"exec-release", case_exec_release, 0},
    {"run-twice", case_run_twice, 1},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

// Every file a case may make: removed after each case, so that a case that
// fails half-way leaves nothing behind for the next one.
static const char *case_files[] = {F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12, F13,
                                   F14, F15, F16, F17, FPROG};

static int run_case(struct tcase *t) {
  struct memstat before, after;
  static char line[sizeof msg + 8];
  ms(&before);
  uint64 t0 = now_ns();
  int rp[2];
  if (pipe(rp) < 0) {
    printf("FAIL %s: pipe failed\n", t->name);
    return -1;
  }
  int pid = fork();
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
  for (int i = 0; i < (int)(sizeof case_files / sizeof case_files[0]); i++) unlink(case_files[i]);
  int violations = vmaudit();
  ms(&after);
  uint64 dt = now_ns() - t0;
  long dfree = (long)(after.free_frames - before.free_frames);
  long dcache = (long)(after.cache_pages - before.cache_pages);

  int ok = 0;
  if (w != pid) printf("FAIL %s: wait returned %d\n", t->name, w);
  else if (n <= 0) printf("FAIL %s: the case process died (status %d)\n", t->name, st);
  else if (line[0] != '0') printf("FAIL %s: %s\n", t->name, line + 1);
  else if (st != 0) printf("FAIL %s: case process exit status %d\n", t->name, st);
  else if (violations != 0) printf("FAIL %s: vmaudit found %d violations\n", t->name, violations);
  else if (t->caches ? dfree + dcache != 0 : dfree != 0)
    printf("FAIL %s: free frames %lu after, %lu before (cache pages %ld more)\n", t->name,
           after.free_frames, before.free_frames, dcache);
  else ok = 1;
  if (ok) printf("ok %s%s%s (%lu ms)\n", t->name, line[1] ? " " : "", line + 1, dt / 1000000);
  return ok ? 0 : -1;
}

// Read the whole program file once, so that its pages are in the page cache
// before the first case (cases touch code and data for the first time).
static void warm_cache(void) {
  int fd = open("/maptest", O_RDONLY);
  if (fd < 0) return;
  while (read(fd, iobuf, PG) > 0)
    ;
  close(fd);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--data") == 0) return data_helper(argc, argv);
  if (argc > 1 && strcmp(argv[1], "--hold") == 0) return hold_helper(argc, argv);
  warm_cache();
  // Data and bss are demand paged: make every page of ours private now, so
  // that the harness's first use of a buffer cannot count against a case.
  for (char *a = (char *)PGROUNDUP((uint64)etext); a < end; a += PG) *(volatile char *)a = *(volatile char *)a;
  struct memstat m;
  ms(&m);
  printf("maptest: %lu frames, %lu free, %lu cached\n", m.total_frames, m.free_frames, m.cache_pages);
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
  ms(&m);
  printf("maptest: %d cases, %d failed, %lu ms, %lu free frames\n", ran, failed,
         (now_ns() - t0) / 1000000, m.free_frames);
  return failed ? 1 : 0;
}

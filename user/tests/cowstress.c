// cowstress: random stress of copy-on-write fork.
//
//   cowstress [-n STEPS] [-s SEED] [-m cow|eager|cow-ahead] [-p PCT]
//                                      (defaults: -n 5000 -s 1, the boot mode)
//
// -p PCT: under memory pressure. A hog process sweeps PCT% of the machine's
// frames (a store into every page, again and again) while the epochs run,
// so that reclaim keeps sending pages to swap, the stressed processes'
// too. The per-epoch free-frames check is then left out (the hog's paging
// moves the count); the final one runs after the hog is killed, and the
// run must have swapped (else it fails: no pressure was tested).
//
// The coordinator (this process) sets up a heap and then runs the steps in
// epochs of 100. Each epoch is played by a fresh "leader" forked from the
// coordinator: it and the processes it forks (at most 8 alive) take random
// actions — write a page, verify pages, fork, wait, sbrk grow and shrink,
// exec, exit, and mmap/munmap/mprotect (below) — until the epoch's step
// budget is used up. Every process keeps
// its own record of which pattern each heap page should hold (the pattern
// depends on pid, page and a per-process generation), so it can check its
// private view at every step. A fork gives the child part of the parent's
// step budget and of its process slots, so the total number of steps and the
// number of processes are bounded exactly, and the choices of every process
// follow from the seed (only their interleaving depends on scheduling).
//
// Mappings (one step in eight):
//   - a MAP_PRIVATE, read-write mapping of 1-4 pages of the coordinator's
//     file /cs.ro, kept across steps and inherited by fork (copy-on-write
//     like the heap, and checked like it): stores to it, each followed by a
//     read() of the file that must still hold its original pages; mprotect
//     of a page read-only and back (with a child killed by its store to the
//     read-only page, when no other child runs); munmap of one page (a hole)
//     or of all of it;
//   - a MAP_SHARED anonymous region given to a forked child: the child finds
//     the parent's pattern, stores its own and unmaps its copy at once; the
//     parent, after reaping the child, must see the child's stores;
//   - (one mapping step in six: it writes to disk) a MAP_SHARED mapping of
//     a file of the process's own (/cs.PID, 1-3 pages written with write()):
//     stores through it seen by read() at once, a page made read-only and
//     back, munmap in two parts, the file read again through a new
//     descriptor, removed.
//
// After each epoch the coordinator reaps the leader (who reaped its family),
// checks vmaudit() == 0, that free_frames is back to its value before the
// epoch, and that its own heap was never changed by anybody. At the end it
// releases its heap and checks free_frames against the very start.
//
// Prints "ok cowstress steps=N seed=S" or "FAIL cowstress: reason"; exits 0
// iff ok. Exec'd with "--exec-check ..." it only verifies its arguments.

#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "kernel/memstat.h"
#include "kernel/riscv.h"
#include "user/user.h"

#define PG PGSIZE
#define MAXP 32       // heap pages a process may have
#define INITP 16      // the coordinator's heap pages
#define MAXALIVE 8    // processes alive at once (leader included)
#define EPOCH 100     // steps between audits

#define K1 0x9E3779B97F4A7C15ULL
#define K2 0xD6E8FEB86659FD93ULL

// ---------------------------------------------------------------- state of one process
// (globals: after fork each process has its own, copy-on-write)
static uint64 rng;
static char *heap0;          // first heap page (the same in every process)
static int npages;           // heap pages now
static uint64 tags[MAXP];    // pattern tag each page must hold
static uint64 gen;           // writes done by this process
static int mypid;
static long steps;           // my remaining step budget
static int slots;            // processes I may still create
static int kid_pid[MAXALIVE], kid_slots[MAXALIVE], nkids;
static int leader;           // the epoch's leader may neither exec nor exit early
static uint64 seed0;         // the run's seed (the contents of /cs.ro follow from it)
// The private mapping of /cs.ro: pm_n pages at pm (at most PMAP),
// pm_tags[i] the tag page i must hold, 0 where it is unmapped.
#define ROP 8  // pages of /cs.ro
#define PMAP 4 // pages of the private mapping at most
static char *pm;
static int pm_n;
static uint64 pm_tags[PMAP];
// A MAP_SHARED anonymous region per child (0 if none) and the tag it stores.
static char *kid_sa[MAXALIVE];
static int kid_sa_n[MAXALIVE];
static uint64 kid_tag[MAXALIVE];

static uint64 next(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ULL;
}
static uint64 below(uint64 n) { return next() % n; }

static uint64 mix(uint64 a, uint64 b, uint64 c) {
  uint64 x = a * K1 ^ (b + 0x632BE59BD9B4E019ULL) * K2 ^ c * 0x94D049BB133111EBULL;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 29;
  return x ? x : 1;
}

static char *page(int p) { return heap0 + (uint64)p * PG; }

static void fill(char *pg, uint64 tag) {
  uint64 t = tag * K2;
  for (uint64 *w = (uint64 *)pg, *e = (uint64 *)(pg + PG); w < e; w++) *w = (uint64)w * K1 + t;
}
static int holds(char *pg, uint64 tag) {
  uint64 t = tag * K2;
  for (uint64 *w = (uint64 *)pg, *e = (uint64 *)(pg + PG); w < e; w++)
    if (*w != (uint64)w * K1 + t) return 0;
  return 1;
}
static int zero(char *pg) {
  for (uint64 *w = (uint64 *)pg, *e = (uint64 *)(pg + PG); w < e; w++)
    if (*w) return 0;
  return 1;
}

static void fail(const char *what, int p) {
  printf("cowstress: pid %d: %s (page %d of %d)\n", mypid, what, p, npages);
  exit(1);
}

static void verify(int p) {
  if (!holds(page(p), tags[p])) fail("wrong content", p);
}

// File and shared pages hold a pattern that does not depend on the address.
static void fillp(char *pg, uint64 tag) {
  uint64 t = tag * K2, *w = (uint64 *)pg;
  for (int k = 0; k < PG / 8; k++) w[k] = (k + 1) * K1 + t;
}
static int holdsp(char *pg, uint64 tag) {
  uint64 t = tag * K2, *w = (uint64 *)pg;
  for (int k = 0; k < PG / 8; k++)
    if (w[k] != (k + 1) * K1 + t) return 0;
  return 1;
}
static uint64 ro_tag(int j) { return mix(seed0, j, 0xF11E); } // page j of /cs.ro

static void verify_pm(void) {
  for (int i = 0; i < pm_n; i++)
    if (pm_tags[i] && !holdsp(pm + (uint64)i * PG, pm_tags[i]))
      fail("private file mapping: wrong content", i);
}

static void verify_all(void) {
  for (int p = 0; p < npages; p++) verify(p);
  if (pm) verify_pm();
}

static void write_page(int p) {
  gen++;
  tags[p] = mix(mypid, p, gen);
  fill(page(p), tags[p]);
  verify(p);
}

// ---------------------------------------------------------------- children

static void reap_one(void) {
  int st = -2;
  int pid = wait(&st);
  if (pid < 0) fail("wait: no child", -1);
  int i = 0;
  while (i < nkids && kid_pid[i] != pid) i++;
  if (i == nkids) fail("wait: unknown child", -1);
  if (st != 0) {
    printf("cowstress: pid %d: child %d %s (status %d)\n", mypid, pid,
           st == -1 ? "was killed" : "failed", st);
    exit(1);
  }
  if (kid_sa[i]) {
    // The child stored its pattern into the region we share.
    for (int j = 0; j < kid_sa_n[i]; j++)
      if (!holdsp(kid_sa[i] + (uint64)j * PG, mix(kid_tag[i], j, 0x5A)))
        fail("shared anonymous region: the child's store is not seen", j);
    if (munmap(kid_sa[i], (uint64)kid_sa_n[i] * PG) < 0) fail("munmap of a shared region failed", -1);
  }
  slots += kid_slots[i];
  nkids--;
  kid_pid[i] = kid_pid[nkids];
  kid_slots[i] = kid_slots[nkids];
  kid_sa[i] = kid_sa[nkids];
  kid_sa_n[i] = kid_sa_n[nkids];
  kid_tag[i] = kid_tag[nkids];
}

// End of this process's part: everything checked, family reaped.
static void finish(void) {
  verify_all();
  while (nkids > 0) reap_one();
  exit(0);
}

static void do_fork(void) {
  if (slots == 0 || steps < 4 || nkids == MAXALIVE) return;
  long give = steps / 2;
  int give_slots = (slots - 1) / 2;
  uint64 child_seed = next();
  // Sometimes a MAP_SHARED anonymous region for the child to store into.
  char *sa = 0;
  int san = 0;
  if (below(3) == 0) {
    san = 1 + below(4);
    sa = mmap(0, (uint64)san * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sa == (char *)-1) fail("mmap of a shared region failed", -1);
    for (int j = 0; j < san; j++) fillp(sa + (uint64)j * PG, mix(child_seed, j, 0xA5));
  }
  int pid = fork();
  if (pid < 0) fail("fork failed", -1);
  if (pid == 0 && sa) {
    for (int j = 0; j < san; j++) {
      if (!holdsp(sa + (uint64)j * PG, mix(child_seed, j, 0xA5)))
        fail("shared anonymous region: the parent's pattern is missing", j);
      fillp(sa + (uint64)j * PG, mix(child_seed, j, 0x5A));
    }
    if (munmap(sa, (uint64)san * PG) < 0) fail("munmap of a shared region failed", -1);
  }
  if (pid == 0) {
    mypid = getpid();
    rng = child_seed;
    steps = give;
    slots = give_slots;
    nkids = 0;
    leader = 0;
  } else {
    steps -= give;
    slots -= 1 + give_slots;
    kid_pid[nkids] = pid;
    kid_slots[nkids] = 1 + give_slots;
    kid_sa[nkids] = sa;
    kid_sa_n[nkids] = san;
    kid_tag[nkids] = child_seed;
    nkids++;
  }
  // Both sides: what was shared is still right.
  if (npages > 0) verify(below(npages));
}

static void do_grow(void) {
  int k = 1 + below(4);
  if (npages + k > MAXP) return;
  char *old = sbrk(k * PG);
  if (old != page(npages)) fail("sbrk grow returned a wrong break", npages);
  for (int i = 0; i < k; i++) {
    if (!zero(page(npages))) fail("new heap page not zeroed", npages);
    npages++;
    write_page(npages - 1);
  }
}

static void do_shrink(void) {
  int k = 1 + below(4);
  if (k > npages) k = npages;
  if (k == 0) return;
  if (sbrk(-k * PG) == (char *)-1) fail("sbrk shrink failed", npages);
  npages -= k;
  if (sbrk(0) != page(npages)) fail("sbrk shrink left a wrong break", npages);
}

// FNV-1a over the arguments: what the exec'd image must find in argv.
static uint64 argsum(int argc, char **argv) {
  uint64 h = 1469598103934665603ULL;
  for (int i = 0; i < argc; i++) {
    for (char *s = argv[i]; *s; s++) h = (h ^ (uchar)*s) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
  }
  return h;
}

static void do_exec(void) {
  if (leader || nkids > 0) return; // never orphan a child
  verify_all();
  // "cowstress --exec-check SUM a0 a1 ...": SUM covers a0 a1 ...
  char words[6][20];
  char sum[24];
  char *argv[10];
  int n = 1 + below(6);
  for (int i = 0; i < n; i++) {
    snprintf(words[i], sizeof words[i], "%lx", next());
    argv[3 + i] = words[i];
  }
  argv[3 + n] = 0;
  snprintf(sum, sizeof sum, "%lu", argsum(n, argv + 3));
  argv[0] = "cowstress";
  argv[1] = "--exec-check";
  argv[2] = sum;
  exec("/cowstress", argv);
  fail("exec failed", -1);
}

// ---------------------------------------------------------------- mappings

static char fbuf[PG]; // read() buffer

static int readn(int fd, char *p, int n) {
  int got = 0, r;
  while (got < n && (r = read(fd, p + got, n - got)) > 0) got += r;
  return got;
}

// /cs.ro still holds its own pages: private stores never reach the file.
static void verify_ro_file(void) {
  int fd = open("/cs.ro", O_RDONLY);
  if (fd < 0) fail("cannot open /cs.ro", -1);
  for (int j = 0; j < ROP; j++)
    if (readn(fd, fbuf, PG) != PG || !holdsp(fbuf, ro_tag(j))) fail("a private store reached /cs.ro", j);
  close(fd);
}

// A store to the page at va kills a child.
static void store_kills(char *va) {
  int pid = fork();
  if (pid < 0) fail("fork failed", -1);
  if (pid == 0) {
    *(volatile char *)va = 1;
    exit(0);
  }
  int st = 0;
  if (wait(&st) != pid || st != -1) fail("a store to a read-only page did not kill", -1);
}

// One action on the private mapping of /cs.ro (made if there is none).
static void do_private(void) {
  if (!pm) {
    int n = 1 + below(PMAP), off = below(ROP - n + 1);
    int fd = open("/cs.ro", O_RDONLY);
    if (fd < 0) fail("cannot open /cs.ro", -1);
    // Writable although the file is open read-only: the mapping is private.
    pm = mmap(0, (uint64)n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (uint64)off * PG);
    close(fd);
    if (pm == (char *)-1) fail("mmap of /cs.ro failed", -1);
    pm_n = n;
    for (int i = 0; i < n; i++) pm_tags[i] = ro_tag(off + i);
    verify_pm();
    return;
  }
  int i = below(pm_n);
  while (!pm_tags[i]) i = (i + 1) % pm_n;
  char *va = pm + (uint64)i * PG;
  uint64 r = below(10);
  if (r < 5) {
    gen++;
    pm_tags[i] = mix(mypid, 100 + i, gen);
    fillp(va, pm_tags[i]);
    verify_pm();
    verify_ro_file();
  } else if (r < 7) {
    if (mprotect(va, PG, PROT_READ) < 0) fail("mprotect read-only failed", i);
    if (!holdsp(va, pm_tags[i])) fail("private file mapping: wrong content after mprotect", i);
    if (nkids == 0 && slots > 0) store_kills(va);
    if (mprotect(va, PG, PROT_READ | PROT_WRITE) < 0) fail("mprotect read-write failed", i);
    gen++;
    pm_tags[i] = mix(mypid, 100 + i, gen);
    fillp(va, pm_tags[i]);
    verify_pm();
  } else if (r < 9) {
    if (munmap(va, PG) < 0) fail("munmap of one page failed", i);
    pm_tags[i] = 0;
    int left = 0;
    for (int j = 0; j < pm_n; j++) left += pm_tags[j] != 0;
    if (left == 0) pm = 0;
    verify_pm();
  } else {
    // All of it, in runs of mapped pages: a hole may hold another mapping
    // by now (a shared region mmap placed there).
    for (int j = 0; j < pm_n; j++) {
      int e = j;
      while (e < pm_n && pm_tags[e]) e++;
      if (e > j && munmap(pm + (uint64)j * PG, (uint64)(e - j) * PG) < 0)
        fail("munmap of the private mapping failed", j);
      j = e;
    }
    pm = 0;
  }
}

static void verify_file(const char *name, int n, uint64 *t, const char *what) {
  int fd = open(name, O_RDONLY);
  if (fd < 0) fail("cannot open my file", -1);
  for (int j = 0; j < n; j++)
    if (readn(fd, fbuf, PG) != PG || !holdsp(fbuf, t[j])) fail(what, j);
  if (read(fd, fbuf, 1) != 0) fail("my file grew", n);
  close(fd);
}

// A MAP_SHARED mapping of a file of my own: stores reach the file.
static void do_shared_file(void) {
  char name[16];
  uint64 t[3];
  snprintf(name, sizeof name, "/cs.%d", mypid);
  int n = 1 + below(3);
  int fd = open(name, O_CREATE | O_RDWR | O_TRUNC);
  if (fd < 0) fail("cannot create my file", -1);
  for (int j = 0; j < n; j++) {
    t[j] = mix(mypid, 200 + j, ++gen);
    fillp(fbuf, t[j]);
    if (write(fd, fbuf, PG) != PG) fail("cannot write my file", j);
  }
  char *p = mmap(0, (uint64)n * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == (char *)-1) fail("mmap of my file failed", -1);
  for (int j = 0; j < n; j++)
    if (!holdsp(p + (uint64)j * PG, t[j])) fail("shared file mapping: wrong content", j);
  int k = below(n);
  t[k] = mix(mypid, 200 + k, ++gen);
  fillp(p + (uint64)k * PG, t[k]);
  verify_file(name, n, t, "read() does not see a store to a shared mapping");
  if (below(2)) {
    if (mprotect(p + (uint64)k * PG, PG, PROT_READ) < 0) fail("mprotect read-only failed", k);
    if (!holdsp(p + (uint64)k * PG, t[k])) fail("shared file mapping: wrong content after mprotect", k);
    if (mprotect(p + (uint64)k * PG, PG, PROT_READ | PROT_WRITE) < 0) fail("mprotect read-write failed", k);
    k = below(n);
    t[k] = mix(mypid, 200 + k, ++gen);
    fillp(p + (uint64)k * PG, t[k]);
  }
  int cut = below(n + 1);
  if (cut > 0 && munmap(p, (uint64)cut * PG) < 0) fail("munmap failed", 0);
  if (cut < n && munmap(p + (uint64)cut * PG, (uint64)(n - cut) * PG) < 0) fail("munmap failed", cut);
  close(fd);
  verify_file(name, n, t, "a store to a shared mapping is not in the file after munmap");
  if (unlink(name) < 0) fail("cannot remove my file", -1);
}

static void play(void) {
  while (steps > 0) {
    steps--;
    if (npages > 0) verify(below(npages)); // a spot check at every step
    if (below(8) == 0) {
      if (below(6)) do_private();
      else do_shared_file(); // the costly one: disk writes
      continue;
    }
    uint64 r = below(100);
    if (r < 30) {
      if (npages > 0) write_page(below(npages));
    } else if (r < 45) {
      if (npages > 0) verify(below(npages));
    } else if (r < 50) {
      verify_all();
    } else if (r < 60) {
      do_grow();
    } else if (r < 68) {
      do_shrink();
    } else if (r < 82) {
      do_fork();
    } else if (r < 90) {
      if (nkids > 0) reap_one();
    } else if (r < 93) {
      do_exec();
    } else if (r < 96) {
      if (!leader) finish();
    } else {
      // write every page: many COW faults in a row
      for (int p = 0; p < npages; p++) write_page(p);
    }
  }
  finish();
}

// ---------------------------------------------------------------- coordinator

static int exec_check(int argc, char **argv) {
  if (argc < 4) return 2;
  char buf[24];
  snprintf(buf, sizeof buf, "%lu", argsum(argc - 3, argv + 3));
  return strcmp(buf, argv[2]) == 0 ? 0 : 3;
}

static uint64 now_ms(void) {
  uint64 t;
  asm volatile("rdtime %0" : "=r"(t)::"memory");
  return t / 10000; // QEMU virt: 10 MHz timebase
}

// Frames in use are counted against what is free or only cached: the page
// cache takes free frames as this program's own text is paged in, and gives
// them back (reclaims them) when memory is needed, so "free" here means
// free_frames + cache_pages.
static void ms(struct memstat *m) {
  if (memstat(m) < 0) {
    printf("FAIL cowstress: memstat failed\n");
    exit(1);
  }
  // Pages in the page cache count as free (reclaim drops them when
  // needed); pages in swap count as taken (their frames became free).
  m->free_frames += m->cache_pages;
  m->free_frames -= m->swap_slots - m->swap_free;
}

// The pressure: sweep `pages` fresh pages forever (until killed).
static int start_hog(uint64 pages) {
  int pid = fork();
  if (pid != 0) return pid;
  char *p = sbrk((int)(pages * PG));
  if (p == (char *)-1) {
    printf("FAIL cowstress: the hog's sbrk of %lu pages failed\n", pages);
    exit(1);
  }
  for (uint64 round = 1;; round++)
    for (uint64 i = 0; i < pages; i++) *(volatile uint64 *)(p + i * PG) = round + i;
}

int main(int argc, char **argv) {
  prefault_data();
  if (argc > 1 && strcmp(argv[1], "--exec-check") == 0) return exec_check(argc, argv);
  long nsteps = 5000;
  uint64 seed = 1;
  int pressure = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) nsteps = atoi(argv[++i]);
    else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) seed = atoi(argv[++i]);
    else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) pressure = atoi(argv[++i]);
    else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) {
      i++;
      int m = strcmp(argv[i], "cow") == 0         ? FORK_COW
              : strcmp(argv[i], "eager") == 0     ? FORK_EAGER
              : strcmp(argv[i], "cow-ahead") == 0 ? FORK_COW_AHEAD
                                                  : -1;
      if (m < 0 || forkmode(m) < 0) {
        fprintf(2, "cowstress: no fork mode %s\n", argv[i]);
        return 2;
      }
    } else {
      fprintf(2, "usage: cowstress [-n STEPS] [-s SEED] [-m cow|eager|cow-ahead] [-p PCT]\n");
      return 2;
    }
  }
  struct memstat m0, base, m;
  ms(&m0);
  mypid = getpid();
  seed0 = seed;
  int fd = open("/cs.ro", O_CREATE | O_RDWR | O_TRUNC);
  for (int j = 0; j < ROP; j++) {
    fillp(fbuf, ro_tag(j));
    if (fd < 0 || write(fd, fbuf, PG) != PG) {
      printf("FAIL cowstress: cannot write /cs.ro\n");
      return 1;
    }
  }
  close(fd);
  heap0 = sbrk(INITP * PG);
  if (heap0 == (char *)-1) {
    printf("FAIL cowstress: sbrk failed\n");
    return 1;
  }
  npages = INITP;
  for (int p = 0; p < npages; p++) {
    tags[p] = mix(0, p, seed);
    fill(page(p), tags[p]);
  }
  int hog = 0;
  if (pressure > 0) {
    hog = start_hog(m0.total_frames * pressure / 100);
    if (hog < 0) {
      printf("FAIL cowstress: cannot fork the hog\n");
      return 1;
    }
  }
  ms(&base);
  printf("cowstress: steps=%ld seed=%lu free=%lu%s\n", nsteps, seed, m0.free_frames,
         hog ? " (under pressure)" : "");
  uint64 t0 = now_ms();

  long done = 0;
  for (int epoch = 0; done < nsteps; epoch++) {
    long budget = nsteps - done < EPOCH ? nsteps - done : EPOCH;
    int pid = fork();
    if (pid < 0) {
      printf("FAIL cowstress: fork failed\n");
      return 1;
    }
    if (pid == 0) {
      mypid = getpid();
      rng = mix(seed, epoch, 0x5EED);
      steps = budget;
      slots = MAXALIVE - 1;
      nkids = 0;
      leader = 1;
      play();
    }
    int st = -2;
    while (wait(&st) != pid) {
    } // (the hog does not exit: only the leader comes back)
    done += budget;
    if (st != 0) {
      printf("FAIL cowstress: epoch %d (steps %ld-%ld): %s (status %d)\n", epoch, done - budget,
             done, st == -1 ? "the leader was killed" : "a process failed", st);
      return 1;
    }
    int v = vmaudit();
    if (v != 0) {
      printf("FAIL cowstress: epoch %d: vmaudit found %d violations\n", epoch, v);
      return 1;
    }
    ms(&m);
    if (!hog && m.free_frames != base.free_frames) {
      printf("FAIL cowstress: epoch %d: free frames %lu, %lu before the epoch\n", epoch,
             m.free_frames, base.free_frames);
      return 1;
    }
    for (int p = 0; p < npages; p++)
      if (!holds(page(p), tags[p])) {
        printf("FAIL cowstress: epoch %d: the coordinator's page %d changed\n", epoch, p);
        return 1;
      }
    if (done % 1000 == 0 && done < nsteps) printf("cowstress: %ld steps\n", done);
  }
  if (hog) {
    kill(hog);
    wait(0);
  }
  sbrk(-INITP * PG);
  unlink("/cs.ro");
  ms(&m);
  if (hog && m.swap_outs == m0.swap_outs) {
    printf("FAIL cowstress: nothing went to swap: no memory pressure\n");
    return 1;
  }
  if (m.free_frames != m0.free_frames) {
    printf("FAIL cowstress: free frames %lu at the end, %lu at the start\n", m.free_frames,
           m0.free_frames);
    return 1;
  }
  printf("ok cowstress steps=%ld seed=%lu (cow_faults=%lu copies=%lu reuses=%lu, swap out %lu in %lu, %lu ms)\n",
         nsteps, seed, m.cow_faults - m0.cow_faults, m.cow_copies - m0.cow_copies, m.cow_reuses - m0.cow_reuses,
         m.swap_outs - m0.swap_outs, m.swap_ins - m0.swap_ins, now_ms() - t0);
  return 0;
}

// cowstress: random stress of copy-on-write fork.
//
//   cowstress [-n STEPS] [-s SEED] [-m cow|eager|cow-ahead]
//                                      (defaults: -n 5000 -s 1, the boot mode)
//
// The coordinator (this process) sets up a heap and then runs the steps in
// epochs of 100. Each epoch is played by a fresh "leader" forked from the
// coordinator: it and the processes it forks (at most 8 alive) take random
// actions — write a page, verify pages, fork, wait, sbrk grow and shrink,
// exec, exit — until the epoch's step budget is used up. Every process keeps
// its own record of which pattern each heap page should hold (the pattern
// depends on pid, page and a per-process generation), so it can check its
// private view at every step. A fork gives the child part of the parent's
// step budget and of its process slots, so the total number of steps and the
// number of processes are bounded exactly, and the choices of every process
// follow from the seed (only their interleaving depends on scheduling).
//
// After each epoch the coordinator reaps the leader (who reaped its family),
// checks vmaudit() == 0, that free_frames is back to its value before the
// epoch, and that its own heap was never changed by anybody. At the end it
// releases its heap and checks free_frames against the very start.
//
// Prints "ok cowstress steps=N seed=S" or "FAIL cowstress: reason"; exits 0
// iff ok. Exec'd with "--exec-check ..." it only verifies its arguments.

#include "kernel/types.h"
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
static void verify_all(void) {
  for (int p = 0; p < npages; p++) verify(p);
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
  slots += kid_slots[i];
  nkids--;
  kid_pid[i] = kid_pid[nkids];
  kid_slots[i] = kid_slots[nkids];
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
  int pid = fork();
  if (pid < 0) fail("fork failed", -1);
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

static void play(void) {
  while (steps > 0) {
    steps--;
    if (npages > 0) verify(below(npages)); // a spot check at every step
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
  m->free_frames += m->cache_pages;
}

int main(int argc, char **argv) {
  prefault_data();
  if (argc > 1 && strcmp(argv[1], "--exec-check") == 0) return exec_check(argc, argv);
  long nsteps = 5000;
  uint64 seed = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) nsteps = atoi(argv[++i]);
    else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) seed = atoi(argv[++i]);
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
      fprintf(2, "usage: cowstress [-n STEPS] [-s SEED] [-m cow|eager|cow-ahead]\n");
      return 2;
    }
  }
  struct memstat m0, base, m;
  ms(&m0);
  mypid = getpid();
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
  ms(&base);
  printf("cowstress: steps=%ld seed=%lu free=%lu\n", nsteps, seed, m0.free_frames);
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
    wait(&st);
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
    if (m.free_frames != base.free_frames) {
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
  sbrk(-INITP * PG);
  ms(&m);
  if (m.free_frames != m0.free_frames) {
    printf("FAIL cowstress: free frames %lu at the end, %lu at the start\n", m.free_frames,
           m0.free_frames);
    return 1;
  }
  printf("ok cowstress steps=%ld seed=%lu (cow_faults=%lu copies=%lu reuses=%lu, %lu ms)\n", nsteps,
         seed, m.cow_faults - m0.cow_faults, m.cow_copies - m0.cow_copies,
         m.cow_reuses - m0.cow_reuses, now_ms() - t0);
  return 0;
}

// swapbench: paging to the swap disk under memory pressure.
//
//   swapbench [-c thrash|ws|fork] [-s SWEEPS] [-k CHUNKS]
//
// Cases (all by default; -c runs one):
//   thrash  one process writes 1.5x the machine's frames sequentially (the
//           fill), then sweeps them SWEEPS more times (default 3), storing
//           one word into every page: each sweep swaps every page in and out
//           again. Per sweep: time, swap_outs and swap_ins (memstat deltas),
//           pages moved per second.
//   ws      a hot set of half the frames, swept (one store per page) 3 times
//           to warm up; then a cold set as large as the machine, touched once
//           (one store per page) in CHUNKS pieces (default 16), a full hot
//           sweep after each piece. Per hot sweep: hot pages swapped in (the
//           swap_ins delta across the sweep: only hot pages are touched in
//           it) and swap-cache hits.
//   fork    a process with 64 MiB of touched heap forks; with
//           forkmode(FORK_EAGER) (the fork copies every page) and with the
//           boot default (copy-on-write); the child writes every page and
//           exits. Time of fork + child writes + exit + wait, swap traffic.
//           Meant for a 128 MiB machine: the eager fork then fails.
//
// The clock is the time CSR (10 MHz): host wall time without -icount,
// virtual time under it. Page counts are the real figures under -icount
// (disk timing is not deterministic there; see docs/swap.md). bench/run
// boots with testswapdev=N, so that the raw throughput of the same swap
// disk, measured by the kernel in the same boot, sits next to these.
//
// Output: a readable line per figure and one machine-readable line
//   csv,GROUP,CASE,PARAM,VALUE,UNIT
// that bench/run turns into CSV, JSON, a table and a chart.
#include "kernel/types.h"
#include "kernel/memstat.h"
#include "user/user.h"

#define PAGE 4096
#define MIB (1024 * 1024)
#define MAXSWEEPS 16
#define MAXCHUNKS 64

static int sweeps = 3;
static int chunks = 16;

static inline uint64 rd_time(void) {
  uint64 x;
  asm volatile("rdtime %0" : "=r"(x)::"memory");
  return x;
}
static uint64 now_us(void) { return rd_time() / 10; }

static void ms(struct memstat *m) {
  if (memstat(m) < 0) {
    fprintf(2, "swapbench: memstat failed\n");
    exit(1);
  }
}

static void csv(const char *group, const char *name, long param, uint64 value, const char *unit) {
  printf("csv,%s,%s,%ld,%lu,%s\n", group, name, param, value, unit);
}

// One store into each of `pages` pages from p (page i gets tag + i).
static void sweep(char *p, uint64 pages, int tag) {
  for (uint64 i = 0; i < pages; i++) *(volatile uint64 *)(p + i * PAGE) = (uint64)tag + i;
}

// Pages per second, from pages and µs.
static uint64 rate(uint64 pages, uint64 us) { return us ? pages * 1000000 / us : 0; }

struct delta {
  uint64 us, outs, ins, hits;
};
static struct memstat m0;
static uint64 t0;
static void begin(void) {
  ms(&m0);
  t0 = now_us();
}
static struct delta end(void) {
  struct memstat m1;
  uint64 t1 = now_us();
  ms(&m1);
  struct delta d = {t1 - t0, m1.swap_outs - m0.swap_outs, m1.swap_ins - m0.swap_ins,
                    m1.swap_cache_hits - m0.swap_cache_hits};
  return d;
}

static char *grow(uint64 pages) {
  char *p = sbrklazy((int)(pages * PAGE));
  if (p == (char *)-1) {
    fprintf(2, "swapbench: sbrk of %lu pages failed\n", pages);
    exit(1);
  }
  return p;
}

static int thrash(void) {
  struct memstat m;
  ms(&m);
  uint64 pages = m.total_frames * 3 / 2;
  printf("thrash: %lu frames, sweeping %lu pages (%lu MiB)\n", m.total_frames, pages, pages * PAGE / MIB);
  csv("thrash", "frames", 0, m.total_frames, "pages");
  csv("thrash", "pages", 0, pages, "pages");
  char *p = grow(pages);
  begin();
  sweep(p, pages, 1);
  struct delta d = end();
  printf("thrash fill: %lu us, %lu out, %lu in, %lu pages/s\n", d.us, d.outs, d.ins, rate(d.outs + d.ins, d.us));
  csv("thrash", "fill_us", 0, d.us, "us");
  csv("thrash", "fill_outs", 0, d.outs, "pages");
  csv("thrash", "fill_ins", 0, d.ins, "pages");
  uint64 tus = 0, touts = 0, tins = 0;
  for (int s = 1; s <= sweeps; s++) {
    begin();
    sweep(p, pages, 1 + s);
    d = end();
    printf("thrash sweep %d: %lu us, %lu out, %lu in, %lu swap-cache hits, %lu pages/s\n", s, d.us, d.outs, d.ins,
           d.hits, rate(d.outs + d.ins, d.us));
    csv("thrash", "sweep_us", s, d.us, "us");
    csv("thrash", "sweep_outs", s, d.outs, "pages");
    csv("thrash", "sweep_ins", s, d.ins, "pages");
    csv("thrash", "sweep_hits", s, d.hits, "pages");
    tus += d.us;
    touts += d.outs;
    tins += d.ins;
  }
  // Every page must still hold its last tag.
  for (uint64 i = 0; i < pages; i++)
    if (*(volatile uint64 *)(p + i * PAGE) != (uint64)(1 + sweeps) + i) {
      printf("thrash: page %lu lost its contents\n", i);
      return 1;
    }
  printf("thrash: %d sweeps: %lu us, %lu out, %lu in, %lu pages/s\n", sweeps, tus, touts, tins,
         rate(touts + tins, tus));
  csv("thrash", "sweeps_us", sweeps, tus, "us");
  csv("thrash", "sweeps_outs", sweeps, touts, "pages");
  csv("thrash", "sweeps_ins", sweeps, tins, "pages");
  csv("thrash", "sweeps_rate", sweeps, rate(touts + tins, tus), "pages/s");
  sbrk(-(int)(pages * PAGE));
  return 0;
}

static int workingset(void) {
  struct memstat m;
  ms(&m);
  uint64 hot = m.total_frames / 2, cold = m.total_frames;
  if (chunks < 1) chunks = 1;
  if (chunks > MAXCHUNKS) chunks = MAXCHUNKS;
  uint64 piece = (cold + chunks - 1) / chunks;
  printf("ws: %lu frames; hot set %lu pages, cold set %lu pages in %d pieces\n", m.total_frames, hot, cold,
         chunks);
  csv("ws", "frames", 0, m.total_frames, "pages");
  csv("ws", "hot", 0, hot, "pages");
  csv("ws", "cold", 0, cold, "pages");
  char *h = grow(hot);
  char *c = grow(cold);
  for (int w = 1; w <= 3; w++) {
    begin();
    sweep(h, hot, w);
    struct delta d = end();
    printf("ws warm-up %d: %lu us, %lu in, %lu out\n", w, d.us, d.ins, d.outs);
    csv("ws", "warm_ins", w, d.ins, "pages");
  }
  uint64 hot_ins = 0, max_ins = 0, cold_ins = 0, outs = 0, hits = 0, cold_us = 0, hot_us = 0;
  for (int k = 0; k < chunks; k++) {
    uint64 from = k * piece, to = from + piece > cold ? cold : from + piece;
    begin();
    if (from < to) sweep(c + from * PAGE, to - from, 100);
    struct delta dc = end();
    begin();
    sweep(h, hot, 10 + k);
    struct delta dh = end();
    printf("ws piece %d: cold %lu pages: %lu out, %lu in; hot sweep: %lu hot pages in (%lu swap-cache hits), "
           "%lu out, %lu us\n",
           k + 1, to - from, dc.outs, dc.ins, dh.ins, dh.hits, dh.outs, dh.us);
    csv("ws", "sweep_ins", k + 1, dh.ins, "pages");
    csv("ws", "sweep_hits", k + 1, dh.hits, "pages");
    csv("ws", "cold_outs", k + 1, dc.outs, "pages");
    hot_ins += dh.ins;
    hits += dh.hits;
    if (dh.ins > max_ins) max_ins = dh.ins;
    cold_ins += dc.ins;
    outs += dc.outs + dh.outs;
    cold_us += dc.us;
    hot_us += dh.us;
  }
  for (uint64 i = 0; i < hot; i++)
    if (*(volatile uint64 *)(h + i * PAGE) != (uint64)(10 + chunks - 1) + i) {
      printf("ws: hot page %lu lost its contents\n", i);
      return 1;
    }
  // Hundredths of a percent of the hot set, per sweep (mean and worst).
  uint64 mean_x10000 = hot_ins * 10000 / ((uint64)chunks * hot), max_x10000 = max_ins * 10000 / hot;
  printf("ws: %d hot sweeps: %lu hot pages in (mean %lu.%02lu%% of the hot set per sweep, worst %lu.%02lu%%), "
         "%lu swap-cache hits; %lu pages out, %lu in while touching the cold set; %lu us cold, %lu us hot\n",
         chunks, hot_ins, mean_x10000 / 100, mean_x10000 % 100, max_x10000 / 100, max_x10000 % 100, hits, outs,
         cold_ins, cold_us, hot_us);
  csv("ws", "hot_ins", chunks, hot_ins, "pages");
  csv("ws", "hot_pct_x100", chunks, mean_x10000, "pct_x100");
  csv("ws", "hot_pct_max_x100", chunks, max_x10000, "pct_x100");
  csv("ws", "outs", chunks, outs, "pages");
  csv("ws", "cold_ins", chunks, cold_ins, "pages");
  csv("ws", "cold_us", chunks, cold_us, "us");
  csv("ws", "hot_us", chunks, hot_us, "us");
  sbrk(-(int)((hot + cold) * PAGE));
  return 0;
}

// fork + child writes every page + exit + wait, in fork mode `mode`.
static void fork_case(const char *name, int mode, char *p, uint64 pages) {
  int old = forkmode(mode);
  begin();
  int pid = fork();
  if (pid < 0) {
    struct delta d = end();
    forkmode(old);
    printf("fork %s: fork failed (-1) after %lu us\n", name, d.us);
    csv("fork", name, 0, 0, "fail");
    return;
  }
  if (pid == 0) {
    sweep(p, pages, 7);
    for (uint64 i = 0; i < pages; i++)
      if (*(volatile uint64 *)(p + i * PAGE) != 7 + i) exit(1);
    exit(0);
  }
  forkmode(old);
  int st = -1;
  wait(&st);
  struct delta d = end();
  printf("fork %s: child wrote %lu pages, exit %d: %lu us, %lu out, %lu in, %lu swap-cache hits\n", name, pages,
         st, d.us, d.outs, d.ins, d.hits);
  if (st != 0) {
    csv("fork", name, 0, st, "fail");
    return;
  }
  csv("fork", name, 0, d.us, "us");
  csv("fork", name, 1, d.outs, "outs");
  csv("fork", name, 2, d.ins, "ins");
  // The parent's heap is intact and comes back.
  begin();
  for (uint64 i = 0; i < pages; i++)
    if (*(volatile uint64 *)(p + i * PAGE) != 1 + i) {
      printf("fork %s: parent page %lu changed\n", name, i);
      csv("fork", name, 9, 1, "fail");
      return;
    }
  d = end();
  printf("fork %s: parent reads its %lu pages back: %lu us, %lu in\n", name, pages, d.us, d.ins);
  csv("fork", "parent_back", 0, d.us, "us");
  csv("fork", "parent_back", 2, d.ins, "ins");
}

static int forkcase(int mib) {
  struct memstat m;
  ms(&m);
  uint64 pages = (uint64)mib * (MIB / PAGE);
  printf("fork: %lu frames (%lu MiB), process of %d MiB\n", m.total_frames, m.total_frames * PAGE / MIB, mib);
  csv("fork", "frames", 0, m.total_frames, "pages");
  csv("fork", "mib", 0, mib, "MiB");
  char *p = grow(pages);
  begin();
  sweep(p, pages, 1);
  struct delta d = end();
  printf("fork: parent touched %d MiB: %lu us, %lu out\n", mib, d.us, d.outs);
  csv("fork", "touch", 0, d.us, "us");
  csv("fork", "touch", 1, d.outs, "outs");
  fork_case("eager", FORK_EAGER, p, pages);
  int def = forkmode(FORK_COW); // the boot default (copy-on-write with copy-ahead)
  forkmode(def);
  fork_case("default", def, p, pages);
  sbrk(-(int)(pages * PAGE));
  return 0;
}

int main(int argc, char *argv[]) {
  const char *only = 0;
  int mib = 64;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) only = argv[++i];
    else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) sweeps = atoi(argv[++i]);
    else if (strcmp(argv[i], "-k") == 0 && i + 1 < argc) chunks = atoi(argv[++i]);
    else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) mib = atoi(argv[++i]);
    else {
      fprintf(2, "usage: swapbench [-c thrash|ws|fork] [-s SWEEPS] [-k CHUNKS] [-m MIB]\n");
      return 2;
    }
  }
  if (sweeps < 1) sweeps = 1;
  if (sweeps > MAXSWEEPS) sweeps = MAXSWEEPS;
  struct memstat m;
  ms(&m);
  if (m.swap_slots == 0) {
    fprintf(2, "swapbench: no swap disk\n");
    return 1;
  }
  printf("swapbench: %lu frames, %lu swap slots\n", m.total_frames, m.swap_slots);
  sleep(1); // start on a timer tick (as forkbench does)
  int bad = 0;
  if (!only || strcmp(only, "thrash") == 0) bad |= thrash();
  if (!only || strcmp(only, "ws") == 0) bad |= workingset();
  if (!only || strcmp(only, "fork") == 0) bad |= forkcase(mib);
  printf("swapbench: %s\n", bad ? "FAILED" : "done");
  return bad;
}

// mapbench: the cost of exec from the page cache, of the frames a process
// running a program shares with other copies of it, of reading a file
// through a mapping against read(), and of fork with shared and private
// mappings.
//
//   mapbench [-i] [-r ROUNDS] [-k COPIES] [-f MIB] [-m MIB]
//
// -i: the machine runs under QEMU -icount shift=0 (1 instruction = 1 virtual
//     ns): every figure is exact and repeatable. Otherwise the time CSR is
//     the clock and every figure is the median of ROUNDS rounds.
// -k: sleeping copies started for the resident-cost figure (default 4)
// -f: size of the file read (default 8 MiB)
// -m: size of the mappings of the fork figures (default 16 MiB)
//
// Figures:
//   spawn     fork + exec + exit + wait of /true and of /spawnbig (~200 KB),
//             after a warm-up that puts both programs in the page cache
//   resident  free frames taken by each of COPIES more processes running
//             `spawnbig -s` (every page read, one data page written), once
//             one copy already runs
//   file      open + read every 64 bytes of a cached file + close, through
//             read() into a 64 KiB buffer and through mmap (+ munmap); the
//             same reading every word
//   fork      fork + exit + wait of a process with MIB MiB of touched
//             MAP_SHARED and of MAP_PRIVATE anonymous memory, and the frames
//             the fork allocates
//
// Output: a readable line per figure and one machine-readable line
//   csv,GROUP,CASE,PARAM,VALUE,UNIT
// that bench/run turns into CSV, JSON, a table and a chart.
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "kernel/memstat.h"
#include "user/user.h"

#define PAGE 4096
#define MIB (1024 * 1024)
#define MAXROUNDS 32
#define MAXCOPIES 16
#define BUFSIZE (64 * 1024)
#define FILE_NAME "mapbench.dat"

static int icount;
static int rounds = 5;
static int copies = 4;
static int file_mib = 8;
static int map_mib = 16;

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
static uint64 now_ns(void) { return icount ? rd_instret() : rd_time() * 100; }

static uint64 median(uint64 *v, int n) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
      uint64 t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
  return v[n / 2];
}

static void print_us(uint64 ns) { printf("%lu.%lu", ns / 1000, (ns % 1000) / 100); }

static void csv_us(const char *group, const char *name, int param, uint64 ns) {
  printf("csv,%s,%s,%d,", group, name, param);
  print_us(ns);
  printf(",us\n");
}
static void csv(const char *group, const char *name, int param, uint64 v, const char *unit) {
  printf("csv,%s,%s,%d,%lu,%s\n", group, name, param, v, unit);
}

static struct memstat stats(void) {
  struct memstat m;
  memstat(&m);
  return m;
}

// ------------------------------------------------------------------ spawn

// fork + exec + exit + wait; ns, or 0 if the program did not exit 0.
static uint64 spawn(const char *path, char **argv) {
  uint64 t0 = now_ns();
  int pid = fork();
  if (pid < 0) return 0;
  if (pid == 0) {
    exec(path, argv);
    exit(127);
  }
  int st = -1;
  wait(&st);
  uint64 t1 = now_ns();
  return st == 0 ? t1 - t0 : 0;
}

static uint64 spawn_v[2]; // the two figures, for the summary

static void bench_spawn(int which, const char *path, const char *name) {
  char *argv[] = {(char *)name, 0};
  uint64 v[MAXROUNDS];
  for (int r = 0; r < rounds; r++) {
    v[r] = spawn(path, argv);
    if (v[r] == 0) {
      printf("spawn %s: fails\n", name);
      csv("spawn", name, 0, 0, "fail");
      return;
    }
  }
  uint64 m = median(v, rounds);
  spawn_v[which] = m;
  printf("spawn %-9s fork+exec+exit+wait: ", name);
  print_us(m);
  printf(" us\n");
  csv_us("spawn", name, 0, m);
}

// ------------------------------------------------------------------ resident

static void bench_resident(void) {
  int go[2], ready[2];
  int pids[MAXCOPIES + 1];
  if (pipe(go) < 0 || pipe(ready) < 0) return;
  char a[8], b[8];
  snprintf(a, sizeof a, "%d", go[0]);
  snprintf(b, sizeof b, "%d", ready[1]);
  char *argv[] = {"spawnbig", "-s", a, b, 0};
  uint64 f[MAXCOPIES + 2];
  f[0] = stats().free_frames;
  int started = 0, failed = 0;
  for (int i = 0; i <= copies; i++) {
    pids[i] = fork();
    if (pids[i] < 0) {
      failed = 1;
      break;
    }
    if (pids[i] == 0) {
      exec("/spawnbig", argv);
      exit(127);
    }
    started++;
    char c;
    if (read(ready[0], &c, 1) != 1) {
      failed = 1;
      break;
    }
    f[i + 1] = stats().free_frames;
  }
  for (int i = 0; i < started; i++) write(go[1], "g", 1);
  for (int i = 0; i < started; i++) wait(0);
  close(go[0]);
  close(go[1]);
  close(ready[0]);
  close(ready[1]);
  if (failed) {
    printf("resident: fails\n");
    csv("resident", "per_copy", copies, 0, "fail");
    return;
  }
  uint64 first = f[0] - f[1], more = f[1] - f[copies + 1];
  // Per copy, in hundredths of a frame (the copies may differ by one table).
  uint64 per100 = more * 100 / copies;
  printf("resident: first copy of spawnbig %lu frames; %d more copies %lu frames, %lu.%02lu per copy\n",
         first, copies, more, per100 / 100, per100 % 100);
  csv("resident", "first_copy", 1, first, "frames");
  csv("resident", "per_copy_x100", copies, per100, "frames/100");
}

// ------------------------------------------------------------------ file

static char buf[BUFSIZE] __attribute__((aligned(PAGE)));
static uint64 file_bytes;
static volatile uint64 sink;

// Read one word per `step` bytes of [p, p + n).
static uint64 scan(const char *p, uint64 n, int step) {
  uint64 s = 0;
  for (uint64 o = 0; o < n; o += step) s += *(const uint64 *)(p + o);
  return s;
}

static uint64 read_file(int step) {
  uint64 t0 = now_ns();
  int fd = open(FILE_NAME, O_RDONLY);
  uint64 s = 0, total = 0;
  int n;
  while ((n = read(fd, buf, BUFSIZE)) > 0) {
    s += scan(buf, n, step);
    total += n;
  }
  close(fd);
  uint64 t1 = now_ns();
  sink = s;
  return total == file_bytes ? t1 - t0 : 0;
}

static uint64 map_file(int step) {
  uint64 t0 = now_ns();
  int fd = open(FILE_NAME, O_RDONLY);
  char *p = mmap(0, file_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (p == (char *)-1) return 0;
  uint64 s = scan(p, file_bytes, step);
  munmap(p, file_bytes);
  uint64 t1 = now_ns();
  sink = s;
  return t1 - t0;
}

static int make_file(void) {
  file_bytes = (uint64)file_mib * MIB;
  int fd = open(FILE_NAME, O_CREATE | O_RDWR | O_TRUNC);
  if (fd < 0) return -1;
  for (uint64 off = 0; off < file_bytes; off += BUFSIZE) {
    uint64 *w = (uint64 *)buf;
    for (int i = 0; i < BUFSIZE / 8; i++) w[i] = (off + i * 8) * 0x9E3779B97F4A7C15UL;
    if (write(fd, buf, BUFSIZE) != BUFSIZE) {
      close(fd);
      unlink(FILE_NAME);
      return -1;
    }
  }
  close(fd);
  return 0;
}

static uint64 file_v[4];

static void bench_file(int ready) {
  static const struct {
    const char *name;
    uint64 (*fn)(int);
    int step;
  } f[] = {{"read", read_file, 64}, {"map", map_file, 64}, {"read_all", read_file, 8}, {"map_all", map_file, 8}};
  for (int k = 0; k < 4; k++) {
    if (!ready) {
      printf("file %s: fails (cannot create a %d MiB file)\n", f[k].name, file_mib);
      csv("file", f[k].name, file_mib, 0, "fail");
      continue;
    }
    uint64 v[MAXROUNDS];
    int bad = 0;
    for (int r = 0; r < rounds; r++)
      if ((v[r] = f[k].fn(f[k].step)) == 0) bad = 1;
    if (bad) {
      printf("file %s: fails\n", f[k].name);
      csv("file", f[k].name, file_mib, 0, "fail");
      continue;
    }
    file_v[k] = median(v, rounds);
    printf("file %-8s %d MiB, one word per %d bytes: ", f[k].name, file_mib, f[k].step);
    print_us(file_v[k]);
    printf(" us\n");
    csv_us("file", f[k].name, file_mib, file_v[k]);
  }
  if (file_v[0] && file_v[1])
    printf("file: mapping / read() = %lu.%02lu (every word: %lu.%02lu)\n", file_v[1] / file_v[0],
           file_v[1] * 100 / file_v[0] % 100, file_v[2] ? file_v[3] / file_v[2] : 0,
           file_v[2] ? file_v[3] * 100 / file_v[2] % 100 : 0);
}

// ------------------------------------------------------------------ fork

static void bench_fork(int flags, const char *name) {
  uint64 bytes = (uint64)map_mib * MIB;
  char *p = mmap(0, bytes, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
  if (p == (char *)-1) {
    printf("fork %s: fails (mmap)\n", name);
    csv("fork", name, map_mib, 0, "fail");
    return;
  }
  for (uint64 o = 0; o < bytes; o += PAGE) p[o] = 1;
  uint64 v[MAXROUNDS], frames = 0;
  int bad = 0;
  for (int r = 0; r <= rounds; r++) { // round 0: the warm-up, and the frame count
    uint64 a = stats().frames_allocated;
    uint64 t0 = now_ns();
    int pid = fork();
    if (pid < 0) {
      bad = 1;
      break;
    }
    if (pid == 0) exit(0);
    int st = -1;
    wait(&st);
    uint64 t1 = now_ns();
    if (st != 0) bad = 1;
    if (r == 0) frames = stats().frames_allocated - a;
    else v[r - 1] = t1 - t0;
  }
  munmap(p, bytes);
  if (bad) {
    printf("fork %s: fails\n", name);
    csv("fork", name, map_mib, 0, "fail");
    return;
  }
  uint64 m = median(v, rounds);
  printf("fork %-7s %d MiB touched: ", name, map_mib);
  print_us(m);
  printf(" us, %lu frames allocated\n", frames);
  csv_us("fork", name, map_mib, m);
  csv("fork_frames", name, map_mib, frames, "frames");
}

int main(int argc, char *argv[]) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-i") == 0) icount = 1;
    else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (strcmp(argv[i], "-k") == 0 && i + 1 < argc) copies = atoi(argv[++i]);
    else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc) file_mib = atoi(argv[++i]);
    else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) map_mib = atoi(argv[++i]);
    else {
      fprintf(2, "usage: mapbench [-i] [-r ROUNDS] [-k COPIES] [-f MIB] [-m MIB]\n");
      return 2;
    }
  }
  if (rounds < 1) rounds = 1;
  if (rounds > MAXROUNDS) rounds = MAXROUNDS;
  if (copies < 1) copies = 1;
  if (copies > MAXCOPIES) copies = MAXCOPIES;
  printf("mapbench: clock %s, %d rounds per figure\n",
         icount ? "instret (icount: 1 instr = 1 ns)" : "time", rounds);

  // Everything that reads or writes the disk comes first: both programs run
  // once (into the page cache), the file is written and read once. Then a
  // sleep starts the measurements on a timer tick, so that under icount they
  // happen at the same instruction count in every run whatever the host's
  // disk did (see forkbench).
  char *t_argv[] = {"true", 0}, *b_argv[] = {"spawnbig", 0};
  spawn("/true", t_argv);
  spawn("/spawnbig", b_argv);
  int file_ok = make_file() == 0;
  if (file_ok) read_file(64);
  sleep(1);

  bench_spawn(0, "/true", "true");
  bench_spawn(1, "/spawnbig", "spawnbig");
  bench_resident();
  bench_file(file_ok);
  bench_fork(MAP_SHARED, "shared");
  bench_fork(MAP_PRIVATE, "private");
  if (file_ok) unlink(FILE_NAME);
  printf("mapbench: done\n");
  return 0;
}

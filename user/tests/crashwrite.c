// crashwrite: the guest half of the crash test (tools/crash-test).
//
//   crashwrite [-f FILES] [-p PAGES] [-r BOOTS] [-g GENS] [-w]
//                                      (defaults: -f 4 -p 16 -r 1, -g 0: no end)
//
// Files /cw.0 ... /cw.(FILES-1) hold PAGES pages each. Generation g of page i
// of file f is a page whose every 1 KiB block starts with the header word
// hdr(f, i, g) and continues with words derived from it, so a page (or a
// block) of any other file, page or generation is told apart. /cw.state
// holds two words: D, the last generation written into every page of every
// file (and written back), and the number of boots so far.
//
// On each boot (the program is the image's /autorun):
//   - no /cw.state (first boot, or killed while creating the files): create
//     the files with generation 0, then /cw.state = {0, 1};
//   - else check: every file is PAGES pages long and every page holds a
//     whole generation D or D + 1 of its own pattern (D + 1 is the one that
//     was being written when the machine was killed). Prints
//     "crashwrite: check ok (gen D, N pages at D + 1)" or one line per bad
//     page and "FAIL crashwrite: ..." (exit 1). Then counts the boot.
// Then, while BOOTS is not reached, writes generation D + 1, D + 2, ...:
// per file, map it MAP_SHARED, store the new generation into every page,
// munmap (odd generations unmap each half separately): the page cache writes
// the pages back; after the last file, /cw.state = D + 1. With -w it writes
// the pages with write() instead (ordered mode: in place, then commit).
// Each generation also creates and removes a scratch file (/cw.junk) of
// other data, so freed blocks are reused while the files are written, and
// appends a page to /cw.grow with write() (truncated when it has GROW
// pages): its page i holds hdr(GF, i, lap), lap the generation that last
// truncated it. The check wants whole pages (a size that is a multiple of
// the page size) of one lap: an append is all there or not at all, and
// never shows blocks of another file or of a former lap (ordered mode).
// It prints "crashwrite: writing from gen G" first and "crashwrite: gen G"
// after each generation, and runs until killed, or GENS generations.
// On boot BOOTS + 1 it only checks, prints "ok crashwrite" and exits 0.

#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "kernel/riscv.h"
#include "user/user.h"

#define PG PGSIZE
#define BLK 1024
#define MAXF 16
#define MAXPG 256
#define GF 0xf0  // the file number of /cw.grow in its pattern
#define GROW 24  // pages of /cw.grow before it is truncated (past the indirect block)
#define K1 0x9E3779B97F4A7C15ULL
#define K2 0xD6E8FEB86659FD93ULL

static int nf = 4, np = 16, boots_max = 1, use_write;
static long gens_max;
static uint64 lap; // the lap /cw.grow is in
static int grown;  // its pages
static char buf[PG] __attribute__((aligned(PG)));

static uint64 hdr(uint64 f, uint64 i, uint64 g) { return 0xC0DEULL << 48 | f << 40 | i << 24 | g; }
static uint64 word(uint64 h, uint64 k) {
  uint64 x = h * K1 ^ (k + 1) * K2;
  x ^= x >> 29;
  return x;
}

static void fill(char *pg, int f, int i, uint64 g) {
  for (int b = 0; b < PG / BLK; b++) {
    uint64 *w = (uint64 *)(pg + b * BLK), h = hdr(f, i, g);
    w[0] = h;
    for (int k = 1; k < BLK / 8; k++) w[k] = word(h, k);
  }
}

// The header of a block if the block is a whole one, else 0.
static uint64 block_hdr(char *blk) {
  uint64 *w = (uint64 *)blk, h = w[0];
  if ((h >> 48) != 0xC0DE) return 0;
  for (int k = 1; k < BLK / 8; k++)
    if (w[k] != word(h, k)) return 0;
  return h;
}

static void name(char *s, int f) { snprintf(s, 16, "/cw.%d", f); }

static int readn(int fd, void *p, int n) {
  int got = 0, r;
  while (got < n && (r = read(fd, (char *)p + got, n - got)) > 0) got += r;
  return got;
}

static void die(const char *what) {
  printf("FAIL crashwrite: %s\n", what);
  exit(1);
}

static int read_state(uint64 st[2]) {
  int fd = open("/cw.state", O_RDONLY);
  if (fd < 0) return -1;
  int n = readn(fd, st, 16);
  close(fd);
  return n == 16 ? 0 : -1;
}
static void write_state(uint64 d, uint64 boots) {
  uint64 st[2] = {d, boots};
  int fd = open("/cw.state", O_CREATE | O_RDWR);
  if (fd < 0 || write(fd, st, 16) != 16) die("cannot write /cw.state");
  close(fd);
}

static void create_files(void) {
  char s[16];
  for (int f = 0; f < nf; f++) {
    name(s, f);
    int fd = open(s, O_CREATE | O_RDWR | O_TRUNC);
    if (fd < 0) die("cannot create a file");
    for (int i = 0; i < np; i++) {
      fill(buf, f, i, 0);
      if (write(fd, buf, PG) != PG) die("cannot write a new file");
    }
    close(fd);
  }
  write_state(0, 1);
}

// Every page of every file holds generation d or d + 1. Returns the number
// of bad pages (each one described).
static int check(uint64 d, int *newer) {
  char s[16];
  struct stat sb;
  int bad = 0;
  *newer = 0;
  for (int f = 0; f < nf; f++) {
    name(s, f);
    int fd = open(s, O_RDONLY);
    if (fd < 0) {
      printf("crashwrite: %s is missing\n", s);
      bad++;
      continue;
    }
    if (fstat(fd, &sb) < 0 || sb.size != (uint64)np * PG) {
      printf("crashwrite: %s has size %lu, not %lu\n", s, (uint64)sb.size, (uint64)np * PG);
      bad++;
    }
    for (int i = 0; i < np; i++) {
      int n = readn(fd, buf, PG);
      if (n != PG) {
        printf("crashwrite: %s page %d: read %d bytes\n", s, i, n);
        bad++;
        break;
      }
      uint64 h0 = block_hdr(buf);
      int ok = h0 == hdr(f, i, d) || h0 == hdr(f, i, d + 1);
      for (int b = 1; b < PG / BLK; b++)
        if (block_hdr(buf + b * BLK) != h0) ok = 0;
      if (ok) {
        *newer += h0 == hdr(f, i, d + 1);
        continue;
      }
      bad++;
      printf("crashwrite: %s page %d holds neither gen %lu nor %lu:", s, i, d, d + 1);
      for (int b = 0; b < PG / BLK; b++) {
        uint64 h = block_hdr(buf + b * BLK);
        if (h == 0)
          printf(" [block %d: no whole pattern, first word %lx]", b, *(uint64 *)(buf + b * BLK));
        else
          printf(" [block %d: file %lu page %lu gen %lu]", b, (h >> 40) & 0xff, (h >> 24) & 0xffff,
                 h & 0xffffff);
      }
      printf("\n");
    }
    close(fd);
  }
  return bad;
}

// /cw.grow: whole pages of one lap. Sets lap and grown for the writer.
static int check_grow(void) {
  struct stat sb;
  int fd = open("/cw.grow", O_RDONLY);
  if (fd < 0) return 0; // not made yet
  if (fstat(fd, &sb) < 0 || sb.size % PG || sb.size > (uint64)GROW * PG) {
    printf("crashwrite: /cw.grow has size %lu\n", (uint64)sb.size);
    close(fd);
    return 1;
  }
  int bad = 0;
  grown = (int)(sb.size / PG);
  for (int i = 0; i < grown; i++) {
    if (readn(fd, buf, PG) != PG) {
      printf("crashwrite: /cw.grow: cannot read page %d\n", i);
      bad++;
      break;
    }
    if (i == 0) lap = block_hdr(buf) & 0xffffff;
    for (int b = 0; b < PG / BLK; b++) {
      uint64 h = block_hdr(buf + b * BLK);
      if (h == hdr(GF, i, lap)) continue;
      bad++;
      if (h == 0)
        printf("crashwrite: /cw.grow page %d block %d: no whole pattern, first word %lx (lap %lu)\n", i, b,
               *(uint64 *)(buf + b * BLK), lap);
      else
        printf("crashwrite: /cw.grow page %d block %d holds file %lu page %lu gen %lu, not lap %lu\n", i,
               b, (h >> 40) & 0xff, (h >> 24) & 0xffff, h & 0xffffff, lap);
      break;
    }
  }
  close(fd);
  return bad;
}

// One more page of /cw.grow (a new lap when it is full).
static void grow(uint64 g) {
  int fd;
  if (grown == GROW || grown == 0) {
    fd = open("/cw.grow", O_CREATE | O_RDWR | O_TRUNC);
    lap = g;
    grown = 0;
  } else {
    fd = open("/cw.grow", O_RDWR);
    for (int i = 0; fd >= 0 && i < grown; i++)
      if (readn(fd, buf, PG) != PG) die("cannot read /cw.grow");
  }
  if (fd < 0) die("cannot open /cw.grow");
  fill(buf, GF, grown, lap);
  if (write(fd, buf, PG) != PG) die("cannot append to /cw.grow");
  grown++;
  close(fd);
}

// Other data through the allocator: blocks freed here are reused.
static void junk(uint64 g) {
  int fd = open("/cw.junk", O_CREATE | O_RDWR | O_TRUNC);
  if (fd < 0) die("cannot create /cw.junk");
  int n = 1 + g % 5;
  for (int i = 0; i < n; i++) {
    fill(buf, 0xee, i, g);
    if (write(fd, buf, PG) != PG) die("cannot write /cw.junk");
  }
  close(fd);
  if (unlink("/cw.junk") < 0) die("cannot remove /cw.junk");
}

static void write_gen(uint64 g) {
  char s[16];
  for (int f = 0; f < nf; f++) {
    name(s, f);
    int fd = open(s, O_RDWR);
    if (fd < 0) die("cannot open a file");
    if (use_write) {
      for (int i = 0; i < np; i++) {
        fill(buf, f, i, g);
        if (write(fd, buf, PG) != PG) die("write failed");
      }
      close(fd);
    } else {
      char *p = mmap(0, (uint64)np * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      close(fd);
      if (p == (char *)-1) die("mmap failed");
      for (int i = 0; i < np; i++) fill(p + (uint64)i * PG, f, i, g);
      uint64 half = (uint64)(np / 2) * PG;
      if (g % 2 && half > 0) {
        if (munmap(p + half, (uint64)np * PG - half) < 0) die("munmap failed");
        if (munmap(p, half) < 0) die("munmap failed");
      } else if (munmap(p, (uint64)np * PG) < 0) {
        die("munmap failed");
      }
    }
    if (f == nf / 2) junk(g);
  }
  grow(g);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-f") == 0 && i + 1 < argc) nf = atoi(argv[++i]);
    else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) np = atoi(argv[++i]);
    else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) boots_max = atoi(argv[++i]);
    else if (strcmp(argv[i], "-g") == 0 && i + 1 < argc) gens_max = atoi(argv[++i]);
    else if (strcmp(argv[i], "-w") == 0) use_write = 1;
    else {
      fprintf(2, "usage: crashwrite [-f FILES] [-p PAGES] [-r BOOTS] [-g GENS] [-w]\n");
      return 2;
    }
  }
  if (nf < 1 || nf > MAXF || np < 1 || np > MAXPG) die("bad -f or -p");
  uint64 st[2];
  if (read_state(st) < 0) {
    printf("crashwrite: creating %d files of %d pages\n", nf, np);
    create_files();
    st[0] = 0;
    st[1] = 1;
  } else {
    int newer, bad = check(st[0], &newer) + check_grow();
    if (bad) {
      printf("FAIL crashwrite: boot %lu: %d bad pages (gen %lu or %lu expected)\n", st[1] + 1, bad,
             st[0], st[0] + 1);
      return 1;
    }
    printf("crashwrite: check ok (boot %lu, gen %lu, %d pages at gen %lu, /cw.grow %d pages)\n",
           st[1] + 1, st[0], newer, st[0] + 1, grown);
    st[1]++;
    if (st[1] > (uint64)boots_max) {
      printf("ok crashwrite (%lu boots, gen %lu)\n", st[1], st[0]);
      return 0;
    }
    write_state(st[0], st[1]);
  }
  uint64 g = st[0] + 1;
  printf("crashwrite: writing from gen %lu with %s\n", g, use_write ? "write()" : "mmap");
  for (long n = 0; gens_max == 0 || n < gens_max; n++, g++) {
    write_gen(g);
    write_state(g, st[1]);
    printf("crashwrite: gen %lu\n", g);
  }
  return 0;
}

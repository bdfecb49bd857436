// fuzz: random system calls with hostile arguments, to find kernel bugs.
//
//   fuzz [-s SEED] [-n CHILDREN] [-c CALLS] [-t TICKS] [-v] [-k CHILD]
//                         (defaults: -s 1 -n 20 -c 200 -t 300+CALLS)
//
// The parent runs CHILDREN child processes one after the other. Child K
// makes CALLS system calls (numbers 1..29 of kernel/syscall.h), each with
// arguments drawn from values kernels get wrong: 0, -1, small and huge
// numbers, kernel addresses, MAXVA and its neighbours, unaligned buffers,
// buffers that cross into an unmapped page, read-only text, bad and unused
// file descriptors, long and unterminated path names, and valid objects (open
// file descriptors, files and directories it made, its own buffers, the
// processes it forked). Now and then an argument of one kind gets a value of
// another. A watchdog kills a child that runs for more than TICKS ticks
// (a FAIL: no call may block for long).
//
// After every child the parent checks vmaudit() == 0 and that free frames,
// free process slots, free inodes and free disk blocks are back at their
// values before the child; a FAIL line names the child and the command that
// replays it: the calls of child K depend only on SEED and K, so
// `fuzz -s SEED -c CALLS -k K -v` runs it alone and prints every call before
// making it. Ends with "ok fuzz ..." or exits 1 after FAIL lines.
//
// What the fuzzer must not do, so that it tests the kernel and not itself:
//  - exit and shutdown are never called (a child ends after its calls);
//    fork makes a grandchild that makes up to 8 calls (no fork, no chdir)
//    and exits;
//  - every path is relative to the scratch directory /fuzz.dir/w (or invalid):
//    no "..", no absolute names of real files, and chdir only goes down, so
//    no process's cwd is ever removed (creating files in a removed cwd leaks
//    inodes: a known bug, fixed elsewhere);
//  - kill only targets the grandchildren and pids that cannot exist;
//  - fd 1 (the console, for -v) is never an argument, fd 0 and 2 are closed
//    at the start (a read of the console would block), mknod never makes a
//    console (major 1), and of each pipe only one end is kept, so no read or
//    write can block for good;
//  - sleep sleeps at most 2 ticks; munmap, mprotect and MAP_FIXED never
//    touch the program's text, data, bss or stack (below the first break);
//  - the fuzzer keeps its state in bss, never in the heap, which sbrk moves.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "kernel/fs.h"
#include "kernel/memlayout.h"
#include "kernel/memstat.h"
#include "kernel/param.h"
#include "kernel/riscv.h"
#include "kernel/syscall.h"
#include "kernel/vm.h"
#include "user/user.h"

#define PG PGSIZE
#define SCRATCH "/fuzz.dir"
#define WORK "/fuzz.dir/w"
#define KILLED (-1)        // the status wait() reports for a killed process
#define GRANDCHILD_CALLS 8 // calls a grandchild makes before it exits
#define NCALLS 30          // call numbers 1..29

// ---------------------------------------------------------------- state
// (in bss: after fork every process has its own copy)
static uint64 rng;
static int verbose;
static int child_no;     // K
static int call_no;      // i
static int grandchild;   // this process is a grandchild
static uint64 brk0;      // the break when the child started: below it are
                         // text, data, bss, guard page and stack
static int mypid;
static int kids[64], nkids;          // grandchildren's pids
static int fds[NOFILE], nfds;        // fds that calls returned
static uint64 maps[16];              // addresses mmap returned
static int nmaps;
static char ubuf[3 * PG] __attribute__((aligned(PG))); // the "own buffers"
static char pbuf[2 * PG] __attribute__((aligned(PG))); // paths and argv

static uint64 next(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ULL;
}
static uint64 below(uint64 n) { return next() % n; }
static int chance(int n) { return below(n) == 0; } // 1 in n

// splitmix64: a well-mixed start for child K's stream.
static uint64 mix(uint64 x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x ? x : 1;
}

// A system call with six raw 64-bit arguments (no library stub in between).
static uint64 raw_syscall(uint64 num, uint64 *a) {
  register uint64 a0 asm("a0") = a[0];
  register uint64 a1 asm("a1") = a[1];
  register uint64 a2 asm("a2") = a[2];
  register uint64 a3 asm("a3") = a[3];
  register uint64 a4 asm("a4") = a[4];
  register uint64 a5 asm("a5") = a[5];
  register uint64 a7 asm("a7") = num;
  asm volatile("ecall"
               : "+r"(a0)
               : "r"(a1), "r"(a2), "r"(a3), "r"(a4), "r"(a5), "r"(a7)
               : "memory");
  return a0;
}

static uint64 cur_brk(void) { return (uint64)sbrklazy(0); }

// ---------------------------------------------------------------- argument kinds
enum kind {
  NONE,
  FD,       // a file descriptor
  BUF,      // a user buffer the kernel reads or writes
  LEN,      // a byte count
  PATH,     // a path name
  OFLAGS,   // open() flags
  PID,      // kill's target
  VPID,     // vmmap's process: also our own
  TICKS,    // sleep's ticks
  SBRKN,    // sbrk's increment
  SBRKHOW,  // SBRK_EAGER / SBRK_LAZY
  ARGV,     // exec's argument vector
  MAJOR,    // mknod's major device number
  MINOR,    // ... minor
  FMODE,    // forkmode's mode
  MADDR,    // an address for mmap, munmap, mprotect
  MLEN,     // a length for them
  PROT,     // PROT_ bits
  MFLAGS,   // MAP_ bits
  OFF,      // a file offset
  INT,      // any int
};

struct callspec {
  const char *name;
  enum kind args[6];
};

static const struct callspec calls[NCALLS] = {
    [SYS_fork] = {"fork", {NONE}},
    [SYS_exit] = {"exit", {NONE}}, // never called
    [SYS_wait] = {"wait", {BUF}},
    [SYS_pipe] = {"pipe", {BUF}},
    [SYS_read] = {"read", {FD, BUF, LEN}},
    [SYS_kill] = {"kill", {PID}},
    [SYS_exec] = {"exec", {PATH, ARGV}},
    [SYS_fstat] = {"fstat", {FD, BUF}},
    [SYS_chdir] = {"chdir", {PATH}},
    [SYS_dup] = {"dup", {FD}},
    [SYS_getpid] = {"getpid", {NONE}},
    [SYS_sbrk] = {"sbrk", {SBRKN, SBRKHOW}},
    [SYS_sleep] = {"sleep", {TICKS}},
    [SYS_uptime] = {"uptime", {NONE}},
    [SYS_open] = {"open", {PATH, OFLAGS}},
    [SYS_write] = {"write", {FD, BUF, LEN}},
    [SYS_mknod] = {"mknod", {PATH, MAJOR, MINOR}},
    [SYS_unlink] = {"unlink", {PATH}},
    [SYS_link] = {"link", {PATH, PATH}},
    [SYS_mkdir] = {"mkdir", {PATH}},
    [SYS_close] = {"close", {FD}},
    [SYS_memstat] = {"memstat", {BUF}},
    [SYS_vmaudit] = {"vmaudit", {NONE}},
    [SYS_forkmode] = {"forkmode", {FMODE}},
    [SYS_shutdown] = {"shutdown", {NONE}}, // never called
    [SYS_mmap] = {"mmap", {MADDR, MLEN, PROT, MFLAGS, FD, OFF}},
    [SYS_munmap] = {"munmap", {MADDR, MLEN}},
    [SYS_mprotect] = {"mprotect", {MADDR, MLEN, PROT}},
    [SYS_vmmap] = {"vmmap", {VPID, BUF, INT}},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

// Values that are wrong in some interesting way for almost any argument.
static uint64 any_value(void) {
  static const uint64 v[] = {
      0, 1, 2, 3, 7, 15, 16, 17, 63, 64, PG - 1, PG, PG + 1, 0x7fffffff, 0x80000000UL,
      0xffffffffUL, 1UL << 32, -1UL, -2UL, -(uint64)PG, 0x8000000000000000UL,
      KERNEL_DIRECT_MAP, KERNEL_DIRECT_MAP + KERNBASE, KERNEL_DIRECT_MAP + KERNBASE + PG - 3,
      MAXVA, MAXVA - 1, MAXVA - 8, MAXVA - PG, MAXVA + PG, 1UL << 39, 0x3fffffffffUL,
  };
  if (chance(8)) return next();
  return v[below(N(v))];
}

// A pointer to memory that is unmapped, kernel-only or beyond MAXVA.
static uint64 bad_pointer(void) {
  static const uint64 v[] = {
      0, 1, 8, KERNEL_DIRECT_MAP, KERNEL_DIRECT_MAP + KERNBASE, KERNEL_DIRECT_MAP + KERNBASE + 0x1234,
      MAXVA, MAXVA - 1, MAXVA - PG, MAXVA + PG, 1UL << 39, 0x80000000UL, -1UL, -(uint64)PG,
  };
  switch (below(3)) {
  case 0: return cur_brk() + PG * (1 + below(4)) + below(PG); // above the heap
  case 1: return PGROUNDDOWN(r_sp()) - PG + below(PG);        // below the stack
  default: return v[below(N(v))];
  }
}

static uint64 gen_fd(void) {
  static const int v[] = {0, 2, 3, 4, 5, 6, 15, 16, 17, -1, 100, 0x7fffffff, -0x7fffffff - 1};
  uint64 fd;
  if (nfds > 0 && chance(2))
    fd = fds[below(nfds)];
  else if (chance(2))
    fd = below(NOFILE);
  else
    fd = (uint64)(long)v[below(N(v))];
  if (chance(20)) fd = any_value() | 0x100000000UL; // int 0..15 in the low bits?
  return (int)fd == 1 ? (uint64)-1 : fd; // fd 1 is the console we print to
}

static uint64 gen_buf(void) {
  uint64 brk = cur_brk();
  switch (below(9)) {
  case 0: return (uint64)ubuf + below(64);                          // small offset, unaligned
  case 1: return (uint64)ubuf + below(3) * PG;                      // page aligned
  case 2: return (uint64)ubuf + PG - 1 - below(64);                 // crosses a page
  case 3: return brk > brk0 + 64 ? brk - 1 - below(64) : brk;       // crosses into unmapped
  case 4: return (uint64)&next + below(64);                         // read-only text
  case 5: return (uint64)ubuf + 3 * PG - below(16);                 // runs into pbuf
  default: return bad_pointer();
  }
}

static uint64 gen_len(void) {
  static const uint64 v[] = {0, 1, 2, 7, 8, 16, 63, 64, PG - 1, PG, PG + 1, 3 * PG, 1 << 20,
                             0x7fffffff, 0xffffffffUL, -1UL, -(uint64)PG, 1UL << 32};
  if (chance(3)) return below(200);
  return v[below(N(v))];
}

// Path names under the scratch directory (relative, no ".."), or invalid.
static const char *names[] = {
    "f0", "f1", "f2", "d0", "d1", "d0/f0", "d0/f1", "d0/d1", "d0/d1/f0", "d1/f2", "f0/x",
    "d0/", "d0//f1", ".", "", "nonexist/x", "/nonexistent/a/b", "/fuzznot/x/y",
    "abcdefghijklmnopqrstuvwxyz", // longer than DIRSIZ
};

static uint64 gen_path(void) {
  uint64 brk = cur_brk();
  switch (below(12)) {
  case 0: { // longer than MAXPATH
    char *p = pbuf + PG;
    int n = MAXPATH + below(3 * MAXPATH);
    for (int i = 0; i < n; i++) p[i] = (i % 15 == 14) ? '/' : 'a' + i % 26;
    p[n] = 0;
    return (uint64)p;
  }
  case 1: // unterminated: runs into unmapped memory at the break
    if (brk >= brk0 + 64 && brk % PG == 0) {
      char *p = (char *)(brk - 1 - below(48));
      memset(p, 'q', brk - (uint64)p);
      return (uint64)p;
    }
    return bad_pointer();
  case 2: // crosses a page boundary inside pbuf
  {
    const char *s = names[below(N(names))];
    int n = strlen(s);
    char *p = pbuf + PG - 1 - below(n + 1);
    memmove(p, s, n + 1);
    return (uint64)p;
  }
  case 3: return bad_pointer();
  default: {
    const char *s = names[below(N(names))];
    char *p = pbuf + 64 * below(8);
    memmove(p, s, strlen(s) + 1);
    return (uint64)p;
  }
  }
}

static uint64 gen_argv(void) {
  uint64 *v = (uint64 *)(pbuf + 1024);
  char *strs = pbuf + 512;
  strcpy(strs, "fuzzarg");
  switch (below(6)) {
  case 0: return 0;
  case 1: return bad_pointer();
  case 2: { // too many arguments
    int n = MAXARG + below(8);
    for (int i = 0; i < n; i++) v[i] = (uint64)strs;
    v[n] = 0;
    return (uint64)v;
  }
  case 3: // a bad string pointer inside
    v[0] = (uint64)strs;
    v[1] = bad_pointer();
    v[2] = 0;
    return (uint64)v;
  case 4: { // not terminated before the end of pbuf: runs past it into bss/unmapped
    uint64 *end = (uint64 *)(pbuf + 2 * PG);
    uint64 *p = end - 1 - below(4);
    for (uint64 *q = p; q < end; q++) *q = (uint64)strs;
    return (uint64)p;
  }
  default:
    v[0] = (uint64)strs;
    v[1] = (uint64)strs;
    v[2] = 0;
    return (uint64)v;
  }
}

static uint64 gen_maddr(void) {
  uint64 brk = cur_brk();
  switch (below(8)) {
  case 0:
  case 1: return nmaps > 0 ? maps[below(nmaps)] + (chance(4) ? below(3) * PG : 0) : 0;
  case 2: return PGROUNDUP(brk) + PG * below(16);
  case 3: return brk > brk0 + PG ? PGROUNDDOWN(brk) - PG : brk; // the heap's last page
  case 4: return 1UL << (28 + below(10));
  case 5: return PGROUNDUP(brk) + 1 + below(100); // unaligned
  default: return bad_pointer();
  }
}

// An argument of the given kind.
static uint64 gen(enum kind k) {
  // Sometimes a value of the wrong kind, where that cannot harm the fuzzer
  // itself or the machine.
  if (k != FD && k != PATH && k != ARGV && k != PID && k != TICKS && k != MAJOR && k != MADDR &&
      k != BUF && chance(16))
    return any_value();
  switch (k) {
  case NONE: return 0;
  case FD: return gen_fd();
  case BUF: return chance(16) ? any_value() : gen_buf();
  case LEN: return gen_len();
  case PATH: return gen_path();
  case OFLAGS: {
    static const int modes[] = {O_RDONLY, O_WRONLY, O_RDWR, 3};
    uint64 f = modes[below(4)];
    if (chance(2)) f |= O_CREATE;
    if (chance(4)) f |= O_TRUNC;
    return f;
  }
  case PID:
  case VPID: {
    if (k == VPID && chance(3)) return mypid;
    if (nkids > 0 && chance(2)) return kids[below(nkids)];
    static const long v[] = {0, -1, -12345, 1L << 30, 0x7fffffff, -0x7fffffffL - 1};
    return (uint64)v[below(N(v))];
  }
  case TICKS: {
    static const long v[] = {0, 1, 2, -1, -0x7fffffffL - 1};
    return (uint64)v[below(N(v))];
  }
  case SBRKN: {
    static const long v[] = {0, 1, 8, PG, -PG, 2 * PG + 5, -3 * PG, 16 * PG, -16 * PG, 1 << 20,
                             -(1 << 20), 0x7fffffff, -0x7fffffffL - 1, 100 << 20};
    return (uint64)v[below(N(v))];
  }
  case SBRKHOW: {
    static const long v[] = {SBRK_EAGER, SBRK_LAZY, SBRK_EAGER, SBRK_LAZY, 0, 3, -1};
    return (uint64)v[below(N(v))];
  }
  case ARGV: return gen_argv();
  case MAJOR: {
    static const long v[] = {0, 2, 3, 9, 10, NDEV - 1, NDEV, -1, 32767, -32768, 65537};
    return (uint64)v[below(N(v))];
  }
  case MINOR: return chance(2) ? below(4) : any_value();
  case FMODE: return below(5) - 1; // -1..3: FORK_COW, _EAGER, _COW_AHEAD and bad ones
  case MADDR: return gen_maddr();
  case MLEN: {
    static const uint64 v[] = {0, 1, PG, PG + 1, 2 * PG, 16 * PG, 1 << 20, 100 << 20, MAXVA,
                               -1UL, -(uint64)PG, 0x7fffffff};
    return v[below(N(v))];
  }
  case PROT: return chance(4) ? any_value() : below(8);
  case MFLAGS: {
    static const uint64 v[] = {MAP_SHARED, MAP_PRIVATE, MAP_SHARED | MAP_ANONYMOUS,
                               MAP_PRIVATE | MAP_ANONYMOUS, MAP_PRIVATE | MAP_FIXED,
                               MAP_SHARED | MAP_FIXED | MAP_ANONYMOUS, MAP_PRIVATE | MAP_SHARED, 0};
    return v[below(N(v))];
  }
  case OFF: {
    static const uint64 v[] = {0, 0, PG, 1, PG - 1, 1 << 20, -1UL, -(uint64)PG};
    return v[below(N(v))];
  }
  case INT: return chance(2) ? below(20) : any_value();
  }
  return 0;
}

// munmap, mprotect and MAP_FIXED must leave the program's own memory
// (everything below the first break) alone.
static int touches_self(uint64 addr, uint64 len) {
  return addr < brk0 || (addr + len > addr && addr + len <= brk0);
}

static void remember_fd(uint64 r) {
  if ((long)r < 0 || (long)r >= NOFILE) return;
  for (int i = 0; i < nfds; i++)
    if (fds[i] == (int)r) return;
  if (nfds < NOFILE) fds[nfds++] = (int)r;
}

// Which descriptors are open now (a bit each). dup() tells, for every kind
// of file (fstat fails on pipes).
static int open_fds(void) {
  int mask = 0;
  for (int fd = 0; fd < NOFILE; fd++) {
    int d = dup(fd);
    if (d >= 0) {
      mask |= 1 << fd;
      close(d);
    }
  }
  return mask;
}

// pipe() succeeded: keep one end only (a read with a writer of our own, or a
// write with a reader of our own, could block for good). The new ends are the
// two lowest descriptors that were free before the call (the array the
// kernel filled in may be anywhere, even where we cannot read).
static void after_pipe(int before) {
  int ends[2], n = 0;
  for (int fd = 0; fd < NOFILE && n < 2; fd++)
    if (!(before & (1 << fd))) ends[n++] = fd;
  if (n < 2) return;
  int keep = below(2);
  close(ends[1 - keep]);
  remember_fd(ends[keep]);
}

static void print_call(int num, uint64 *a, int nargs) {
  printf("%s%d.%d %s(", grandchild ? "g" : "", child_no, call_no, calls[num].name);
  for (int i = 0; i < nargs; i++) printf("%s%lx", i ? ", " : "", a[i]);
  printf(")");
}

// Make one random call.
static void one_call(void) {
  int num;
  for (;;) {
    num = 1 + below(NCALLS - 1);
    if (num == SYS_exit || num == SYS_shutdown) continue;
    if (grandchild && (num == SYS_fork || num == SYS_chdir)) continue;
    break;
  }
  const struct callspec *c = &calls[num];
  uint64 a[6] = {0, 0, 0, 0, 0, 0};
  int nargs = 0;
  for (int i = 0; i < 6 && c->args[i] != NONE; i++, nargs++) a[i] = gen(c->args[i]);

  // The rules that keep the fuzzer from destroying itself (see the top).
  if (num == SYS_chdir && a[0] >= (uint64)pbuf && a[0] < (uint64)pbuf + sizeof pbuf &&
      ((char *)a[0])[0] == '/')
    a[0] = bad_pointer(); // chdir only goes down
  if ((num == SYS_munmap || num == SYS_mprotect) && touches_self(a[0], a[1])) a[0] = bad_pointer();
  if (num == SYS_mmap && (a[3] & MAP_FIXED) && touches_self(a[0], a[1]))
    a[0] = PGROUNDUP(cur_brk()) + 16 * PG;
  if (num == SYS_mknod && (short)a[1] == 1) a[1] = 2; // no consoles
  if (num == SYS_exec && chance(40)) { // now and then one that works: ends this process
    strcpy(pbuf + 1536, "/true");
    a[0] = (uint64)(pbuf + 1536);
  }
  int fds_before = num == SYS_pipe ? open_fds() : 0;

  if (verbose) print_call(num, a, nargs);
  uint64 r = raw_syscall(num, a);
  if (verbose) printf(" = %lx\n", r);

  switch (num) {
  case SYS_fork:
    if (r == 0) {
      // The grandchild: a few calls of its own, then exit.
      grandchild = 1;
      mypid = getpid();
      nkids = 0;
      rng = mix(rng ^ (uint64)call_no);
      for (call_no = 0; call_no < GRANDCHILD_CALLS; call_no++) one_call();
      exit(0);
    }
    if ((long)r > 0 && nkids < (int)N(kids)) kids[nkids++] = (int)r;
    break;
  case SYS_pipe:
    if (r == 0) after_pipe(fds_before);
    break;
  case SYS_open:
  case SYS_dup: remember_fd(r); break;
  case SYS_mmap:
    if ((long)r != -1 && r < MAXVA) maps[nmaps++ % N(maps)] = r;
    if (nmaps > (int)N(maps)) nmaps = N(maps);
    break;
  }
}

// ---------------------------------------------------------------- child
static void child(int k, uint64 seed, int ncalls) {
  child_no = k;
  rng = mix(seed * 0x100000001B3ULL + (uint64)k);
  mypid = getpid();
  if (chdir(WORK) < 0) {
    printf("FAIL fuzz: child %d: cannot chdir %s\n", k, WORK);
    exit(2);
  }
  close(0); // the console: a read would wait for input
  close(2);
  // A real program's first pages in our buffer: written to files and exec'd,
  // they take exec deeper than random bytes would.
  int fd = open("/true", O_RDONLY);
  if (fd >= 0) {
    read(fd, ubuf, sizeof ubuf);
    close(fd);
  }
  brk0 = cur_brk();
  sbrk(2 * PG);
  for (call_no = 0; call_no < ncalls; call_no++) one_call();
  exit(0);
}

// ---------------------------------------------------------------- parent
static int failures;

// "Free" frames include the page cache's: it takes frames as programs are
// paged in and files read, and gives them back when memory is needed. With
// a swap disk, reclaim may also move pages of sleeping processes (init, the
// shell, this parent) to swap while a child fills memory: a page that goes
// out frees a frame and takes a slot, so slots in use count against free
// frames. (A page in the swap cache holds a frame and a slot, and is in
// cache_pages: it too leaves the sum unchanged.)
static void ms(struct memstat *m) {
  if (memstat(m) < 0) {
    printf("FAIL fuzz: memstat failed\n");
    exit(1);
  }
  m->free_frames += m->cache_pages;
  m->free_frames -= m->swap_slots - m->swap_free;
}

// Remove the directory root and everything below it. Returns 0, or -1
// (after a message). Iterative, with names relative to the current
// directory: the tree may be deeper than the stack (one page) or MAXPATH
// allows. In each directory it unlinks what it can (files, device nodes,
// empty directories) and goes down into the first directory that is not
// empty; when a directory has nothing left it goes back up and starts over.
static int rmtree(const char *root) {
  if (chdir(root) < 0) {
    printf("fuzz: cannot chdir %s\n", root);
    return -1;
  }
  int depth = 0, ok = 1;
  while (ok) {
    int fd = open(".", O_RDONLY);
    if (fd < 0) {
      printf("fuzz: cannot open a directory under %s\n", root);
      ok = 0;
      break;
    }
    struct dirent de;
    char name[DIRSIZ + 1], down[DIRSIZ + 1];
    down[0] = 0;
    while (read(fd, &de, sizeof de) == sizeof de) {
      if (de.inum == 0) continue;
      memmove(name, de.name, DIRSIZ);
      name[DIRSIZ] = 0;
      if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || unlink(name) == 0) continue;
      memmove(down, name, DIRSIZ + 1); // a directory that is not empty
      break;
    }
    close(fd);
    if (down[0]) {
      if (chdir(down) < 0) {
        printf("fuzz: cannot remove %s (depth %d under %s)\n", down, depth, root);
        ok = 0;
      }
      depth++;
    } else if (depth == 0) {
      break;
    } else {
      chdir("..");
      depth--;
    }
  }
  chdir("/");
  if (ok && unlink(root) < 0) {
    printf("fuzz: cannot unlink %s\n", root);
    ok = 0;
  }
  return ok ? 0 : -1;
}

static void fail_child(int k, uint64 seed, int ncalls, const char *what) {
  printf("FAIL fuzz child %d: %s (replay: fuzz -s %lu -c %d -k %d -v)\n", k, what, seed, ncalls, k);
  failures++;
}

// Run child k under a watchdog and check what it left. Returns 1 if the
// child was killed (by a fault; the kernel printed why).
static int run_child(int k, uint64 seed, int ncalls, int ticks, int restore_mode) {
  struct memstat before, after;
  ms(&before);
  if (mkdir(WORK) < 0) {
    printf("FAIL fuzz: cannot make %s\n", WORK);
    exit(1);
  }
  int pid = fork();
  if (pid < 0) {
    printf("FAIL fuzz: fork failed\n");
    exit(1);
  }
  if (pid == 0) child(k, seed, ncalls);
  int dog = fork();
  if (dog == 0) {
    sleep(ticks);
    kill(pid);
    exit(0);
  }
  int hung = 0, status = 0, killed = 0;
  for (int done = 0; !done;) {
    int st;
    int w = wait(&st);
    if (w == pid) {
      status = st;
      done = 1;
    } else if (w == dog) {
      hung = 1;
      dog = -1;
    } else if (w < 0) {
      printf("FAIL fuzz: wait failed\n");
      exit(1);
    }
  }
  if (dog > 0) {
    // The watchdog exits 0 once it has killed the child: if it did, the
    // child's KILLED status was its doing.
    kill(dog);
    int st = KILLED;
    wait(&st);
    if (st == 0 && status == KILLED) hung = 1;
  }
  forkmode(restore_mode);
  char what[128];
  if (hung) {
    snprintf(what, sizeof what, "still running after %d ticks: killed by the watchdog", ticks);
    fail_child(k, seed, ncalls, what);
  } else if (status == KILLED) {
    killed = 1; // by the kernel, which printed why
  } else if (status != 0) {
    snprintf(what, sizeof what, "exit status %d", status);
    fail_child(k, seed, ncalls, what);
  }
  // Orphaned grandchildren finish on their own (init reaps them).
  for (int i = 0; i < 200; i++) {
    ms(&after);
    if (after.free_procs >= before.free_procs) break;
    sleep(1);
  }
  int v = vmaudit();
  if (v != 0) {
    snprintf(what, sizeof what, "vmaudit found %d violations", v);
    fail_child(k, seed, ncalls, what);
  }
  if (rmtree(WORK) < 0) fail_child(k, seed, ncalls, "cannot remove the scratch directory");
  for (int i = 0; i < 20; i++) {
    ms(&after);
    if (after.free_frames >= before.free_frames && after.free_procs >= before.free_procs) break;
    sleep(1);
  }
  if (after.free_procs != before.free_procs) {
    snprintf(what, sizeof what, "free process slots %lu, %lu before", after.free_procs,
             before.free_procs);
    fail_child(k, seed, ncalls, what);
  }
  if (after.free_frames != before.free_frames) {
    snprintf(what, sizeof what, "free frames %lu, %lu before", after.free_frames, before.free_frames);
    fail_child(k, seed, ncalls, what);
  }
  if (after.free_inodes != before.free_inodes) {
    snprintf(what, sizeof what, "free inodes %lu, %lu before", after.free_inodes, before.free_inodes);
    fail_child(k, seed, ncalls, what);
  }
  if (after.free_blocks != before.free_blocks) {
    snprintf(what, sizeof what, "free disk blocks %lu, %lu before", after.free_blocks,
             before.free_blocks);
    fail_child(k, seed, ncalls, what);
  }
  return killed;
}

static void usage(void) {
  fprintf(2, "usage: fuzz [-s SEED] [-n CHILDREN] [-c CALLS] [-t TICKS] [-v] [-k CHILD]\n");
  exit(2);
}

int main(int argc, char *argv[]) {
  prefault_data();
  uint64 seed = 1;
  int nchildren = 20, ncalls = 200, ticks = -1, only = -1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-v") == 0) {
      verbose = 1;
      continue;
    }
    if (i + 1 >= argc) usage();
    int n = atoi(argv[i + 1]);
    if (strcmp(argv[i], "-s") == 0)
      seed = (uint64)n;
    else if (strcmp(argv[i], "-n") == 0)
      nchildren = n;
    else if (strcmp(argv[i], "-c") == 0)
      ncalls = n;
    else if (strcmp(argv[i], "-t") == 0)
      ticks = n;
    else if (strcmp(argv[i], "-k") == 0)
      only = n;
    else
      usage();
    i++;
  }
  if (ticks < 0) ticks = 300 + ncalls; // ample: a call takes a few ms
  if (nchildren < 0 || ncalls < 0 || ticks <= 0) usage();

  int mode = forkmode(FORK_COW_AHEAD); // learn the mode, to restore it
  forkmode(mode);
  struct stat st;
  if (stat(SCRATCH, &st) == 0) { // left over from an interrupted run
    if (st.type != T_DIR) {
      printf("FAIL fuzz: %s exists and is not a directory\n", SCRATCH);
      exit(1);
    }
    rmtree(SCRATCH);
  }
  if (mkdir(SCRATCH) < 0) {
    printf("FAIL fuzz: cannot make %s\n", SCRATCH);
    exit(1);
  }
  struct memstat m0, m1;
  ms(&m0);
  int t0 = uptime(), killed = 0, ran = 0;
  for (int k = 0; k < nchildren || (only >= 0 && k <= only); k++) {
    if (only >= 0 && k != only) continue;
    killed += run_child(k, seed, ncalls, ticks, mode);
    ran++;
    if (verbose) printf("fuzz: child %d done\n", k);
  }
  ms(&m1);
  if (rmtree(SCRATCH) < 0) failures++;
  if (m1.free_frames != m0.free_frames || m1.free_procs != m0.free_procs ||
      m1.free_inodes != m0.free_inodes || m1.free_blocks != m0.free_blocks) {
    printf("FAIL fuzz: at the end free frames %lu (start %lu), process slots %lu (%lu), "
           "inodes %lu (%lu), blocks %lu (%lu)\n",
           m1.free_frames, m0.free_frames, m1.free_procs, m0.free_procs, m1.free_inodes,
           m0.free_inodes, m1.free_blocks, m0.free_blocks);
    failures++;
  }
  if (failures) {
    printf("fuzz: %d failures\n", failures);
    exit(1);
  }
  printf("ok fuzz seed=%lu children=%d calls=%d (%d calls, %d children killed by faults, %d ticks)\n",
         seed, ran, ncalls, ran * ncalls, killed, uptime() - t0);
  return 0;
}

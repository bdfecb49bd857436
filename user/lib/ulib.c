// String, memory and small I/O helpers of the user library.
//
// memset, memcpy and memmove move 8-byte words: byte stores are only used
// to reach an aligned destination and for the tail. When source and
// destination have different alignments, the copy reads aligned source
// words and shifts neighbouring pairs together (RISC-V is little-endian),
// so no load or store is ever misaligned.

#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "kernel/vm.h"
#include "user/user.h"

// A 64-bit word that may alias any other type (keeps -O2 from reordering
// word accesses against byte accesses to the same memory).
typedef uint64 __attribute__((may_alias)) word;

#define WSIZE 8UL
#define WMASK (WSIZE - 1)
#define ALIGNED(p) (((uint64)(p) & WMASK) == 0)

void *memset(void *dst, int c, uint n) {
  uchar *d = dst;
  uchar b = (uchar)c;
  while (n > 0 && !ALIGNED(d)) {
    *d++ = b;
    n--;
  }
  word *w = (word *)d;
  uint64 pattern = b * 0x0101010101010101UL;
  for (; n >= 4 * WSIZE; n -= 4 * WSIZE, w += 4) {
    w[0] = pattern;
    w[1] = pattern;
    w[2] = pattern;
    w[3] = pattern;
  }
  for (; n >= WSIZE; n -= WSIZE)
    *w++ = pattern;
  d = (uchar *)w;
  while (n > 0) {
    *d++ = b;
    n--;
  }
  return dst;
}

// Copy n bytes from s to d in increasing address order. Safe for
// overlapping ranges when d < s.
//
// Reads of whole aligned source words may touch a few bytes just outside
// [s, s+n); an aligned word never crosses a page, so this cannot fault.
static void copy_forward(uchar *d, const uchar *s, uint64 n) {
  while (n > 0 && !ALIGNED(d)) {
    *d++ = *s++;
    n--;
  }
  uint64 words = n / WSIZE;
  if (words > 0) {
    word *wd = (word *)d;
    uint64 k = (uint64)s & WMASK; // source misalignment in bytes
    if (k == 0) {
      const word *ws = (const word *)s;
      for (uint64 i = 0; i < words; i++)
        wd[i] = ws[i];
    } else {
      // Destination word i = bytes k..7 of source word i, then bytes
      // 0..k-1 of source word i+1.
      const word *ws = (const word *)(s - k);
      uint64 rshift = 8 * k, lshift = 64 - rshift;
      uint64 lo = ws[0];
      for (uint64 i = 0; i < words; i++) {
        uint64 hi = ws[i + 1];
        wd[i] = (lo >> rshift) | (hi << lshift);
        lo = hi;
      }
    }
    d += words * WSIZE;
    s += words * WSIZE;
    n -= words * WSIZE;
  }
  while (n > 0) {
    *d++ = *s++;
    n--;
  }
}

// Copy n bytes ending at d_end from the n bytes ending at s_end, in
// decreasing address order. Safe for overlapping ranges when d > s.
static void copy_backward(uchar *d_end, const uchar *s_end, uint64 n) {
  uchar *d = d_end;
  const uchar *s = s_end;
  while (n > 0 && !ALIGNED(d)) {
    *--d = *--s;
    n--;
  }
  uint64 words = n / WSIZE;
  if (words > 0) {
    word *wd = (word *)d; // one past the next destination word
    uint64 k = (uint64)s & WMASK;
    if (k == 0) {
      const word *ws = (const word *)s;
      for (uint64 i = 1; i <= words; i++)
        wd[-i] = ws[-i];
    } else {
      // ws points at the aligned word holding the k bytes just below s.
      // Destination word -i = bytes k..7 of source word -i, then bytes
      // 0..k-1 of source word -i+1.
      const word *ws = (const word *)(s - k);
      uint64 rshift = 8 * k, lshift = 64 - rshift;
      uint64 hi = ws[0];
      for (uint64 i = 1; i <= words; i++) {
        uint64 lo = *(ws - i);
        wd[-i] = (lo >> rshift) | (hi << lshift);
        hi = lo;
      }
    }
    d -= words * WSIZE;
    s -= words * WSIZE;
    n -= words * WSIZE;
  }
  while (n > 0) {
    *--d = *--s;
    n--;
  }
}

void *memcpy(void *dst, const void *src, uint n) {
  copy_forward(dst, src, n);
  return dst;
}

void *memmove(void *dst, const void *src, int n) {
  uchar *d = dst;
  const uchar *s = src;
  if (n <= 0 || d == s)
    return dst;
  if (d < s || d >= s + n)
    copy_forward(d, s, (uint64)n);
  else
    copy_backward(d + n, s + n, (uint64)n);
  return dst;
}

int memcmp(const void *a, const void *b, uint n) {
  const uchar *p = a, *q = b;
  for (; n > 0; n--, p++, q++) {
    if (*p != *q)
      return *p - *q;
  }
  return 0;
}

char *strcpy(char *dst, const char *src) {
  char *d = dst;
  while ((*d++ = *src++) != 0)
    ;
  return dst;
}

// Copy at most n bytes of src and pad the rest of dst[0..n) with zeros;
// like C's strncpy, dst is not terminated when src is n bytes or longer.
char *strncpy(char *dst, const char *src, int n) {
  int i = 0;
  for (; i < n && src[i]; i++)
    dst[i] = src[i];
  for (; i < n; i++)
    dst[i] = 0;
  return dst;
}

int strcmp(const char *p, const char *q) {
  while (*p && *p == *q)
    p++, q++;
  return (uchar)*p - (uchar)*q;
}

int strncmp(const char *p, const char *q, uint n) {
  for (; n > 0; n--, p++, q++) {
    if (*p != *q || *p == 0)
      return (uchar)*p - (uchar)*q;
  }
  return 0;
}

uint strlen(const char *s) {
  uint n = 0;
  while (s[n])
    n++;
  return n;
}

char *strchr(const char *s, char c) {
  for (; *s; s++) {
    if (*s == c)
      return (char *)s;
  }
  return 0;
}

// Read one line from fd 0 into buf, keeping the newline, reading at most
// max-1 characters. Reads a byte at a time so that nothing past the line is
// consumed (the rest of stdin may belong to a child). Empty at end of file.
char *gets(char *buf, int max) {
  int i = 0;
  while (i + 1 < max) {
    char c;
    if (read(0, &c, 1) < 1)
      break;
    buf[i++] = c;
    if (c == '\n' || c == '\r')
      break;
  }
  if (max > 0)
    buf[i] = 0;
  return buf;
}

int stat(const char *path, struct stat *st) {
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return -1;
  int r = fstat(fd, st);
  close(fd);
  return r;
}

// Decimal with an optional leading '-'; stops at the first non-digit.
int atoi(const char *s) {
  int neg = 0, n = 0;
  if (*s == '-') {
    neg = 1;
    s++;
  }
  while (*s >= '0' && *s <= '9')
    n = n * 10 + (*s++ - '0');
  return neg ? -n : n;
}

// The heap. sbrk maps the memory at once (and fails at once when memory is
// short); sbrklazy only moves the break, and each page is made, zeroed, the
// first time it is touched.
char *sbrk(int n) { return sys_sbrk(n, SBRK_EAGER); }

char *sbrklazy(int n) { return sys_sbrk(n, SBRK_LAZY); }

// Bring every page of the program's data and bss into memory now (they are
// paged in on first touch): tests that compare frame counts call it first,
// so that their own first use of a variable does not move the counts.
extern char etext[], end[];
void prefault_data(void) {
  for (volatile char *p = (char *)(((uint64)etext + 4095) & ~4095UL); p < end; p += 4096) *p = *p;
}

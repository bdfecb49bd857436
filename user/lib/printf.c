// Formatted output: printf, fprintf, snprintf.
//
// Conversions: %d %i %u %x %X %p %s %c %%, with the length modifiers l and
// ll (64-bit; z too), the flags '-' (left-justify) and '0' (zero-pad), and a
// field width. A bare %l (older xv6) prints a 64-bit unsigned decimal.
//
// Output to a file descriptor is collected in a buffer on the stack and
// handed to write() when the buffer fills and at the end, so a printf that
// fits in the buffer is a single write: lines from concurrent processes
// then do not interleave character by character.

#include <stdarg.h>

#include "kernel/types.h"
#include "user/user.h"

#define OUTBUF 256

struct out {
  int fd;     // destination descriptor, or -1 for a string (snprintf)
  char *buf;  // buffer being filled
  int cap;    // its size
  int len;    // bytes in it
  int total;  // characters produced so far (snprintf's return value)
};

static void flush(struct out *o) {
  if (o->fd >= 0 && o->len > 0)
    write(o->fd, o->buf, o->len);
  o->len = 0;
}

static void put(struct out *o, char c) {
  o->total++;
  if (o->fd < 0) {
    // String: keep one byte for the terminating NUL, drop the excess.
    if (o->len < o->cap - 1)
      o->buf[o->len++] = c;
    return;
  }
  if (o->len == o->cap)
    flush(o);
  o->buf[o->len++] = c;
}

static void put_n(struct out *o, char c, int n) {
  for (; n > 0; n--)
    put(o, c);
}

// Emit s[0..len) in a field of width columns.
static void put_field(struct out *o, const char *s, int len, int width, int left) {
  if (!left)
    put_n(o, ' ', width - len);
  for (int i = 0; i < len; i++)
    put(o, s[i]);
  if (left)
    put_n(o, ' ', width - len);
}

static const char digits[] = "0123456789abcdef";
static const char udigits[] = "0123456789ABCDEF";

// Emit an integer. neg says whether a '-' goes in front of the magnitude v.
static void put_num(struct out *o, uint64 v, int neg, int base, int upper, int width,
                    int left, int zero) {
  char tmp[24];
  const char *dig = upper ? udigits : digits;
  int n = 0;
  do {
    tmp[n++] = dig[v % base];
    v /= base;
  } while (v != 0);
  int len = n + (neg ? 1 : 0);
  if (zero && !left) {
    // Zeros go between the sign and the digits.
    if (neg)
      put(o, '-');
    put_n(o, '0', width - len);
  } else {
    if (!left)
      put_n(o, ' ', width - len);
    if (neg)
      put(o, '-');
  }
  while (n > 0)
    put(o, tmp[--n]);
  if (left)
    put_n(o, ' ', width - len);
}

static void format(struct out *o, const char *fmt, va_list ap) {
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      put(o, *fmt);
      continue;
    }
    const char *start = fmt++;
    int left = 0, zero = 0, width = 0, longs = 0;
    for (;; fmt++) {
      if (*fmt == '-')
        left = 1;
      else if (*fmt == '0')
        zero = 1;
      else
        break;
    }
    while (*fmt >= '0' && *fmt <= '9')
      width = width * 10 + (*fmt++ - '0');
    while (*fmt == 'l' || *fmt == 'z') {
      longs++;
      fmt++;
    }
    switch (*fmt) {
    case 'd':
    case 'i': {
      long x = longs ? va_arg(ap, long) : va_arg(ap, int);
      uint64 mag = x < 0 ? -(uint64)x : (uint64)x;
      put_num(o, mag, x < 0, 10, 0, width, left, zero);
      break;
    }
    case 'u':
      put_num(o, longs ? va_arg(ap, uint64) : va_arg(ap, uint), 0, 10, 0, width, left, zero);
      break;
    case 'x':
    case 'X':
      put_num(o, longs ? va_arg(ap, uint64) : va_arg(ap, uint), 0, 16, *fmt == 'X', width,
              left, zero);
      break;
    case 'p': {
      // Always 0x and 16 digits, as in xv6.
      uint64 p = (uint64)va_arg(ap, void *);
      put(o, '0');
      put(o, 'x');
      for (int shift = 60; shift >= 0; shift -= 4)
        put(o, digits[(p >> shift) & 0xf]);
      break;
    }
    case 's': {
      const char *s = va_arg(ap, const char *);
      if (s == 0)
        s = "(null)";
      put_field(o, s, strlen(s), width, left);
      break;
    }
    case 'c': {
      char c = (char)va_arg(ap, int);
      put_field(o, &c, 1, width, left);
      break;
    }
    case '%':
      put(o, '%');
      break;
    case 0:
      if (longs > 0) { // "%l" at the very end
        put_num(o, va_arg(ap, uint64), 0, 10, 0, width, left, zero);
        return;
      }
      // Format ends inside a conversion: print what we have and stop.
      for (; *start; start++)
        put(o, *start);
      return;
    default:
      if (longs > 0) {
        // Older xv6 printf took a bare "%l" as a 64-bit decimal.
        put_num(o, va_arg(ap, uint64), 0, 10, 0, width, left, zero);
        fmt--; // the character after the 'l' is ordinary text
        break;
      }
      // Unknown conversion: print it literally so the mistake is visible.
      for (; start <= fmt; start++)
        put(o, *start);
      break;
    }
  }
}

static void vfprintf_fd(int fd, const char *fmt, va_list ap) {
  char buf[OUTBUF];
  struct out o = {fd, buf, sizeof(buf), 0, 0};
  format(&o, fmt, ap);
  flush(&o);
}

void fprintf(int fd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf_fd(fd, fmt, ap);
  va_end(ap);
}

void printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf_fd(1, fmt, ap);
  va_end(ap);
}

// Like C's snprintf: writes at most size-1 characters and a NUL (when
// size > 0), and returns the length the full output would have had.
int snprintf(char *buf, int size, const char *fmt, ...) {
  struct out o = {-1, buf, size, 0, 0};
  va_list ap;
  va_start(ap, fmt);
  format(&o, fmt, ap);
  va_end(ap);
  if (size > 0)
    buf[o.len] = 0;
  return o.total;
}

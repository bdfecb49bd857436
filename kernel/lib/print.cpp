// kprintf: formatted output to the console, one lock so lines from different
// harts do not interleave mid-line.
#include "lib/print.h"

#include <cstdarg>

#include "dev/uart.h"
#include "lib/spinlock.h"

volatile int panicked = 0;

namespace {

Spinlock print_lock{"kprintf"};
const char digits[] = "0123456789abcdef";

void put(char c) { uart_putc_sync(c); }

void print_unsigned(uint64 x, int base, int min_width = 0) {
  char buf[24];
  int i = 0;
  do {
    buf[i++] = digits[x % base];
    x /= base;
  } while (x != 0);
  while (i < min_width) buf[i++] = '0';
  while (--i >= 0) put(buf[i]);
}

void print_signed(long x) {
  if (x < 0) {
    put('-');
    print_unsigned(static_cast<uint64>(-(x + 1)) + 1, 10);
  } else {
    print_unsigned(static_cast<uint64>(x), 10);
  }
}

void vprint(const char *fmt, va_list ap) {
  for (int i = 0; fmt[i]; i++) {
    char c = fmt[i];
    if (c != '%') {
      put(c);
      continue;
    }
    c = fmt[++i];
    bool is_long = false;
    while (c == 'l') {
      is_long = true;
      c = fmt[++i];
    }
    switch (c) {
    case 'd': print_signed(is_long ? va_arg(ap, long) : va_arg(ap, int)); break;
    case 'u': print_unsigned(is_long ? va_arg(ap, uint64) : va_arg(ap, uint32), 10); break;
    case 'x': print_unsigned(is_long ? va_arg(ap, uint64) : va_arg(ap, uint32), 16); break;
    case 'p':
      put('0');
      put('x');
      print_unsigned(va_arg(ap, uint64), 16, 16);
      break;
    case 's': {
      const char *s = va_arg(ap, const char *);
      for (s = s ? s : "(null)"; *s; s++) put(*s);
      break;
    }
    case 'c': put(static_cast<char>(va_arg(ap, int))); break;
    case '%': put('%'); break;
    case 0: return;
    default: put('%'); put(c);
    }
  }
}

} // namespace

void kprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (panicked) {
    vprint(fmt, ap); // the lock may be held by the hart that panicked
  } else {
    SpinGuard g(print_lock);
    vprint(fmt, ap);
  }
  va_end(ap);
}

void panic(const char *fmt, ...) {
  panicked = 1;
  va_list ap;
  va_start(ap, fmt);
  kprintf("\npanic: ");
  vprint(fmt, ap);
  va_end(ap);
  kprintf("\n");
  for (;;) asm volatile("wfi");
}

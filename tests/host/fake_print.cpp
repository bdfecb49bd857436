// Host fake of lib/print.h: the console is stderr, panic aborts (so tests
// catch it with EXPECT_DEATH).
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "lib/print.h"

volatile int panicked = 0;

void kprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
}

void panic(const char *fmt, ...) {
  panicked = 1;
  std::fputs("panic: ", stderr);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputs("\n", stderr);
  std::fflush(stderr);
  std::abort();
}

// Kernel console output: printf-style formatting (%d %u %x %p %s %c %l..).
#pragma once

#include "lib/types.h"

void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Set once the first hart has panicked: other harts stop printing.
extern volatile int panicked;

#define KASSERT(cond)                                                                                        \
  do {                                                                                                       \
    if (!(cond)) panic("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__);                           \
  } while (0)

// Kernel console output: printf-style formatting (%d %u %x %p %s %c %l..).
#pragma once

#include "lib/types.h"

void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Print the return addresses of the current call chain (panic does).
void backtrace();
[[noreturn]] void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Set once the first hart has panicked: other harts stop printing.
extern volatile int panicked;
// After a panic, stop this hart for good unless it is the one reporting it.
void stop_if_not_panicking();

// QEMU's exit status after a kernel panic (tools/qemu-run passes it on).
constexpr unsigned PANIC_EXIT_STATUS = 125;

#define KASSERT(cond)                                                                                        \
  do {                                                                                                       \
    if (!(cond)) panic("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__);                           \
  } while (0)

// kprintf: formatted output to the console, one lock so lines from different
// harts do not interleave mid-line.
#include "lib/print.h"

#include <cstdarg>

#include "arch/riscv/csr.h"
#include "arch/riscv/platform.h"
#include "dev/uart.h"
#include "lib/spinlock.h"

volatile int panicked = 0;
volatile int panic_hart = -1;
static int nested_panics = 0; // of the hart that reports the panic

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
  if (panicked) stop_if_not_panicking();
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

// Park a hart that is not the one reporting a panic: interrupts off, so it
// never runs or prints again; the panicking hart powers the machine off.
void stop_if_not_panicking() {
  riscv::intr_off();
  if (panic_hart == static_cast<int>(riscv::hart_id())) return;
  for (;;) asm volatile("wfi");
}

// The return addresses of the calls that led here, innermost first (the
// kernel keeps frame pointers: s0 points just above the frame, which holds
// the caller's ra at -8 and its s0 at -16). `addr2line -e build/kernel.elf`
// names them. Stops where the chain leaves the stack it started on.
extern "C" char erodata[], kernel_end[];

void backtrace() {
  uint64 fp;
  asm volatile("mv %0, s0" : "=r"(fp));
  // Every kernel stack is in the image's writable part (its bss).
  const uint64 lo = reinterpret_cast<uint64>(erodata), hi = reinterpret_cast<uint64>(kernel_end);
  kprintf("backtrace:");
  for (int depth = 0; depth < 40 && fp % 8 == 0 && fp >= lo + 16 && fp <= hi; depth++) {
    uint64 ra = reinterpret_cast<const uint64 *>(fp)[-1];
    uint64 prev = reinterpret_cast<const uint64 *>(fp)[-2];
    kprintf(" %p", reinterpret_cast<void *>(ra));
    if (prev <= fp || prev > fp + 16384) break; // not a caller's frame on this stack
    fp = prev;
  }
  kprintf("\n");
}

// Report the panic on the console and power off through QEMU's SiFive test
// device with exit status PANIC_EXIT_STATUS (0x3333 | code << 16 = "fail with
// code"), so that whoever runs QEMU learns at once. Only the first hart to
// panic reports; any other hart that panics, prints or takes a timer
// interrupt afterwards stops for good.
void panic(const char *fmt, ...) {
  riscv::intr_off();
  int me = static_cast<int>(riscv::hart_id());
  if (__atomic_exchange_n(&panicked, 1, __ATOMIC_SEQ_CST) != 0) {
    // A panic while reporting one (a fault in the report itself): say
    // what, once, and power off, rather than trap and panic again on an
    // ever deeper stack.
    if (panic_hart == me) {
      if (++nested_panics == 1) {
        va_list ap;
        va_start(ap, fmt);
        kprintf("\npanic while panicking: ");
        vprint(fmt, ap);
        va_end(ap);
        kprintf("\n");
      }
      *platform::mmio<uint32>(platform::TEST_DEVICE) = 0x3333 | (PANIC_EXIT_STATUS << 16);
    }
    stop_if_not_panicking();
  }
  panic_hart = me;
  va_list ap;
  va_start(ap, fmt);
  kprintf("\npanic: ");
  vprint(fmt, ap);
  va_end(ap);
  kprintf("\n");
  backtrace();
  *platform::mmio<uint32>(platform::TEST_DEVICE) = 0x3333 | (PANIC_EXIT_STATUS << 16);
  for (;;) asm volatile("wfi"); // not reached under QEMU
}

// Host fake of lib/cpu.h: every thread is a "hart".
//
// A thread gets the lowest free hart number (< NCPU) the first time it asks,
// and gives it back when it exits. Numbers must be unique among live threads:
// Spinlock::holding() compares the holder's hart number with the caller's, so
// two live threads sharing a number would make one see the other's lock as
// "already held by me" and panic. Hence a pool rather than plain round-robin;
// a test may run at most NCPU threads at once (the main thread counts).
#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "fakes.h"
#include "kernel/param.h"
#include "lib/cpu.h"
#include "lib/print.h"

namespace {

static_assert(NCPU <= 32, "hart pool is one 32-bit mask");
std::atomic<uint32_t> harts_in_use{0};

struct Hart {
  int id = -1;
  int noff = 0; // push_off depth
  ~Hart() {
    if (id >= 0) harts_in_use.fetch_and(~(1u << id), std::memory_order_acq_rel);
  }
};
thread_local Hart hart;

int claim() {
  uint32_t used = harts_in_use.load(std::memory_order_relaxed);
  for (;;) {
    int free = -1;
    for (int i = 0; i < NCPU; i++)
      if (!(used & (1u << i))) {
        free = i;
        break;
      }
    if (free < 0) {
      std::fprintf(stderr, "fake cpu: more than NCPU (%d) live threads\n", NCPU);
      std::abort();
    }
    if (harts_in_use.compare_exchange_weak(used, used | (1u << free), std::memory_order_acq_rel)) return free;
  }
}

} // namespace

namespace cpu {

int id() {
  if (hart.id < 0) hart.id = claim();
  return hart.id;
}

void push_off() { hart.noff++; }

void pop_off() {
  if (hart.noff < 1) panic("pop_off: not pushed");
  hart.noff--;
}

} // namespace cpu

int hostfake::push_off_depth() { return hart.noff; }

void cpu::spin_hint() {}

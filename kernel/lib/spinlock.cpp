// Spinlocks: an atomic swap loop with acquire/release ordering. Interrupts
// stay off on this hart while any lock is held (push_off/pop_off nest).
#include "lib/spinlock.h"

#include "lib/cpu.h"
#include "lib/print.h"

void Spinlock::lock() {
  cpu::push_off();
  if (holding()) panic("acquire %s: already held", name_);
  uint32 spins = 0;
  while (locked_.exchange(1, std::memory_order_acquire) != 0) {
    // Spin on a plain load so the cache line is not bounced by writes.
    while (locked_.load(std::memory_order_relaxed) != 0) {
      if (++spins % 1024 == 0) cpu::spin_hint();
    }
  }
  cpu_.store(cpu::id(), std::memory_order_relaxed);
}

void Spinlock::unlock() {
  if (!holding()) panic("release %s: not held", name_);
  cpu_.store(-1, std::memory_order_relaxed);
  locked_.store(0, std::memory_order_release);
  cpu::pop_off();
}

bool Spinlock::holding() const {
  return locked_.load(std::memory_order_relaxed) != 0 && cpu_.load(std::memory_order_relaxed) == cpu::id();
}

// Host fake of mm/hal.h: there is no TLB, so count the flushes.
#include <thread>

#include "fakes.h"
#include "mm/hal.h"

namespace hostfake {
std::atomic<uint64_t> flush_page_calls{0};
std::atomic<uint64_t> flush_all_calls{0};

void reset_counters() {
  flush_page_calls.store(0);
  flush_all_calls.store(0);
}
} // namespace hostfake

namespace mm::hal {
void flush_page(VirtAddr) { hostfake::flush_page_calls.fetch_add(1, std::memory_order_relaxed); }
void flush_all() { hostfake::flush_all_calls.fetch_add(1, std::memory_order_relaxed); }
} // namespace mm::hal

namespace mm::hal {
// No scheduler on the host: a waiter lets the lock go, yields its thread and
// takes the lock again; its caller re-checks the condition.
void sleep(void *, Spinlock &lk) {
  lk.unlock();
  std::this_thread::yield();
  lk.lock();
}
void wake(void *) {}
} // namespace mm::hal

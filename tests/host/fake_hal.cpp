// Host fake of mm/hal.h: there is no TLB, so count the flushes.
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

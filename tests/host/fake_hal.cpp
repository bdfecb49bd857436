// Host fake of mm/hal.h: there is no TLB, so count the flushes.
#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

#include "fakes.h"
#include "mm/hal.h"

namespace hostfake {
std::atomic<uint64_t> flush_page_calls{0};
std::atomic<uint64_t> flush_all_calls{0};
std::atomic<uint64_t> shootdown_calls{0};

void reset_counters() {
  flush_page_calls.store(0);
  flush_all_calls.store(0);
  shootdown_calls.store(0);
}

namespace {
struct Registered {
  mm::AddressSpace *as;
  std::mutex *lock;
};
std::mutex registry_lock;
std::vector<Registered> registry;
} // namespace

void register_address_space(mm::AddressSpace *as, std::mutex *lock) {
  std::lock_guard g(registry_lock);
  registry.push_back({as, lock});
}

void unregister_address_space(mm::AddressSpace *as) {
  std::lock_guard g(registry_lock);
  registry.erase(std::remove_if(registry.begin(), registry.end(), [&](const Registered &r) { return r.as == as; }),
                 registry.end());
}
} // namespace hostfake

namespace mm::hal {
void flush_page(VirtAddr) { hostfake::flush_page_calls.fetch_add(1, std::memory_order_relaxed); }
void flush_all() { hostfake::flush_all_calls.fetch_add(1, std::memory_order_relaxed); }
void shootdown() { hostfake::shootdown_calls.fetch_add(1, std::memory_order_relaxed); }

// As the kernel does with its process table: try each address space's lock
// under the registry's, so that none can be unregistered (destroyed) while
// it is being visited.
void for_each_address_space(AddressSpaceVisitor fn, void *arg) {
  std::lock_guard g(hostfake::registry_lock);
  for (auto &r : hostfake::registry) {
    if (!r.lock->try_lock()) continue;
    fn(*r.as, arg);
    r.lock->unlock();
  }
}
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

// Host fake of mm/hal.h: there is no TLB, so count the flushes and
// shootdowns; the swap disk is an array in host memory; the address spaces
// the reverse map visits are registered by the tests.
#include <algorithm>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "fakes.h"
#include "mm/hal.h"

namespace {

// The fake swap disk: swap_pages() pages of host memory.
struct FakeSwap {
  std::mutex lock;
  std::vector<uint8_t> data; // size: pages * PAGE_SIZE
  long fail_after = -1;      // as faultinject(FAULT_SWAP, n)
};
FakeSwap fake_swap;

// One request: through the injection, then copy. Under fake_swap.lock.
Result<void> swap_io(uint64 slot, mm::PhysAddr page, bool write) {
  std::lock_guard<std::mutex> g(fake_swap.lock);
  if (slot >= fake_swap.data.size() / mm::PAGE_SIZE) return Error::Invalid;
  if (fake_swap.fail_after == 0) return Error::IO;
  if (fake_swap.fail_after > 0) fake_swap.fail_after--;
  uint8_t *disk = fake_swap.data.data() + slot * mm::PAGE_SIZE;
  if (write)
    std::memcpy(disk, mm::phys_to_ptr(page), mm::PAGE_SIZE);
  else
    std::memcpy(mm::phys_to_ptr(page), disk, mm::PAGE_SIZE);
  (write ? hostfake::swap_writes : hostfake::swap_reads).fetch_add(1, std::memory_order_relaxed);
  return {};
}

} // namespace

namespace hostfake {
std::atomic<uint64_t> flush_page_calls{0};
std::atomic<uint64_t> flush_all_calls{0};
std::atomic<uint64_t> shootdown_calls{0};
std::atomic<uint64_t> swap_reads{0};
std::atomic<uint64_t> swap_writes{0};

void reset_counters() {
  flush_page_calls.store(0);
  flush_all_calls.store(0);
  shootdown_calls.store(0);
  swap_reads.store(0);
  swap_writes.store(0);
  swap_attach(0);
}

void swap_attach(uint64_t pages) {
  std::lock_guard<std::mutex> g(fake_swap.lock);
  fake_swap.data.assign(pages * mm::PAGE_SIZE, 0);
  fake_swap.fail_after = -1;
}

void swap_fail_after(long n) {
  std::lock_guard<std::mutex> g(fake_swap.lock);
  fake_swap.fail_after = n < 0 ? -1 : n;
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
bool page_table_live(PhysAddr) { return false; } // host threads load no satp

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

uint64 swap_pages() {
  std::lock_guard<std::mutex> g(fake_swap.lock);
  return fake_swap.data.size() / PAGE_SIZE;
}
Result<void> swap_read(uint64 slot, PhysAddr page) { return swap_io(slot, page, false); }
Result<void> swap_write(uint64 slot, PhysAddr page) { return swap_io(slot, page, true); }
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

// What the host fakes of the kernel's hardware interface expose to tests.
//
// The memory-management core talks to the machine only through lib/cpu.h
// (hart id, interrupt nesting), mm/hal.h (TLB flushes, the swap disk) and lib/print.h (console, panic). On the host these are
// fake_*.cpp; the counters below let tests check what the core asked the
// "hardware" to do.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace mm {
class AddressSpace;
}

namespace hostfake {

// mm::hal::flush_page / flush_all / shootdown calls since the last
// reset_counters().
extern std::atomic<uint64_t> flush_page_calls;
extern std::atomic<uint64_t> flush_all_calls;
extern std::atomic<uint64_t> shootdown_calls;
// Zero every counter here, and take the swap disk away (MmTest::SetUp).
void reset_counters();

// The swap disk behind mm::hal::swap_pages/swap_read/swap_write: none until
// swap_attach(pages) gives the fake one of that many zeroed pages in host
// memory (0: none again). Out-of-range slots fail with Invalid, as in the
// kernel. swap_fail_after(n): the next n requests go through, every later
// one fails with IO, until swap_fail_after(-1) (faultinject(FAULT_SWAP, n)).
// swap_reads / swap_writes: successful requests since reset_counters().
void swap_attach(uint64_t pages);
void swap_fail_after(long n);
extern std::atomic<uint64_t> swap_reads;
extern std::atomic<uint64_t> swap_writes;

// mm::hal::for_each_address_space visits the address spaces registered
// here, each under its lock (a try-lock: a busy one is skipped). A test
// that faults or forks while reclaim may run takes the same lock.
void register_address_space(mm::AddressSpace *as, std::mutex *lock);
void unregister_address_space(mm::AddressSpace *as);

// This thread's push_off nesting depth (0 when balanced).
int push_off_depth();

// Memory objects (fake_vm_object.cpp): weak fakes of vm_object_ref, _unref
// and _deny_write that count per object address. vm_objects_faked() is false
// once the real kernel/mm/object.cpp is linked instead: a test must then not
// pass made-up VmObject pointers, and the counts below stay 0.
bool vm_objects_faked();
long vm_object_refs(const void *object);   // references held now
long vm_object_denies(const void *object); // deny-writes held now
void vm_object_fake_reset();               // forget every count

} // namespace hostfake

// The hardware interface of the memory-management core: the only things
// kernel/mm needs from the machine beyond plain memory. The kernel implements
// them with sfence.vma (arch/riscv/cpu.cpp), supervisor software interrupts
// (arch/riscv/shootdown.cpp) and the swap disk's driver (dev/virtio_blk.cpp);
// host tests count the flushes and fake the swap disk (tests/host/fake_hal.cpp).
#pragma once

#include "lib/result.h"
#include "lib/spinlock.h"
#include "mm/addr.h"

namespace mm {
class AddressSpace;
}

namespace mm::hal {

// A PTE of the current address space changed: drop this hart's cached
// translation of one page.
void flush_page(VirtAddr va);
// Many PTEs changed (fork write-protects the whole parent): drop them all.
void flush_all();
// Whether some hart's satp names the page table at pa (the kernel checks
// that no page table is freed while in use; the host says no).
bool page_table_live(PhysAddr pa);
// A PTE of an address space that may be loaded on another hart changed:
// make every other online hart execute `sfence.vma zero, zero`, and return
// only when each has done so, after the caller's earlier stores (the PTE
// changes) were visible to it. Does not flush this hart's TLB: call
// flush_page or flush_all for that. Any context: interrupts on or off,
// spinlocks held or not (a hart waiting here, or spinning on a lock, serves
// the requests sent to it meanwhile, so two harts that shoot each other down
// at once do not deadlock). With one hart online it does nothing.
void shootdown();

// The reverse map's way to every address space that may map a page:
// fn(as, arg) for each live user address space whose lock (proc/proc.h's
// vm_lock) could be taken without waiting; it is held while fn runs. Those
// that could not are skipped this time (reclaim just gets less done).
using AddressSpaceVisitor = void (*)(AddressSpace &as, void *arg);
void for_each_address_space(AddressSpaceVisitor fn, void *arg);

// Waiting for a page under I/O: give up `lk` and sleep until wake(chan), then
// take `lk` again (the kernel's sleep/wakeup). Callers loop on their
// condition: a wake-up may be spurious. Host tests yield instead.
void sleep(void *chan, Spinlock &lk);
void wake(void *chan);

// The swap disk: a block device of swap_pages() slots of one page each,
// numbered from 0. Each call is one 4 KiB request (8 sectors) and sleeps until
// the device has finished: call it from process context with no spinlock held;
// any number of processes may call at once (they queue for the device). The
// frame must stay allocated until the call returns.
// Slots on the swap disk; 0 if the machine has none (then every read and write
// fails with Invalid).
uint64 swap_pages();
// Read slot `slot` into the frame `page` / write the frame to the slot.
// Errors: Invalid (slot >= swap_pages()), IO (the device reported a failure,
// or faultinject(FAULT_SWAP, n) injected one). Never panics.
Result<void> swap_read(uint64 slot, PhysAddr page);
Result<void> swap_write(uint64 slot, PhysAddr page);

} // namespace mm::hal

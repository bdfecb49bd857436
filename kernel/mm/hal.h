// The hardware interface of the memory-management core: the only things
// kernel/mm needs from the machine beyond plain memory. The kernel implements
// them with sfence.vma (arch/riscv/cpu.cpp); host tests count the calls.
#pragma once

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
// PTEs of address spaces that may be live on other harts changed (reclaim):
// every other hart drops its cached translations before this returns.
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

} // namespace mm::hal

// The hardware interface of the memory-management core: the only things
// kernel/mm needs from the machine beyond plain memory. The kernel implements
// them with sfence.vma (arch/riscv/cpu.cpp); host tests count the calls.
#pragma once

#include "lib/spinlock.h"
#include "mm/addr.h"

namespace mm::hal {

// A PTE of the current address space changed: drop this hart's cached
// translation of one page.
void flush_page(VirtAddr va);
// Many PTEs changed (fork write-protects the whole parent): drop them all.
void flush_all();

// Waiting for a page under I/O: give up `lk` and sleep until wake(chan), then
// take `lk` again (the kernel's sleep/wakeup). Callers loop on their
// condition: a wake-up may be spurious. Host tests yield instead.
void sleep(void *chan, Spinlock &lk);
void wake(void *chan);

} // namespace mm::hal

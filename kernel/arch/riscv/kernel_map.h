// The kernel image's own protection in the direct map.
//
// The boot page table (mstart.cpp) maps all of physical memory with 1 GiB
// pages, readable, writable and executable: enough to start, but a stray
// store could then overwrite kernel code, and a kernel stack that overflows
// runs silently into whatever lies below it. Once hart 0 runs at its
// virtual addresses, protect_image() replaces the gigapage that holds RAM
// by 2 MiB pages, and the 2 MiB pages that hold the image by 4 KiB pages:
//
//   text            read, execute      (a store there faults)
//   rodata          read
//   data, bss       read, write
//   stack guards    not mapped         (an overflow faults: kerneltrap
//                                       names it "kernel stack overflow")
//   the rest of RAM read, write
//
// Every user page table copies the kernel's root entries when it is made,
// so they all get the same protection.
#pragma once

#include "lib/types.h"

namespace kmap {

// Hart 0, before the other harts leave kmain's wait (they flush their TLB
// when they do). Panics if the image is larger than the 4 KiB-mapped part.
void protect_image();

// Leave the page at `va` (page aligned, inside the image's bss) unmapped:
// the guard below a kernel stack. After protect_image().
void unmap_guard(const void *va);

// Whether `va` is in a page unmap_guard() took away.
bool is_guard(uint64 va);

} // namespace kmap

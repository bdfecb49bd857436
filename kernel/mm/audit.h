// The reference-count audit (the vmaudit system call, and host tests).
#pragma once

#include "mm/address_space.h"

namespace mm {

// Check, frame by frame, that:
//  - every Anon, File and Zero frame's maps equal the number of leaf PTEs
//    that map it in `spaces` (a shared leaf table counting once); an Anon
//    frame has no holds; a cached File frame and the zero frame have at
//    least one (the cache's, the kernel's); every PageTable frame is
//    referenced once per table pointing at it;
//  - every present user page lies inside a mapping of its address space;
//  - no PTE is both writable and marked copy-on-write; the zero frame is
//    never writable; a private writable page is an Anon frame;
//  - no frame mapped writable by a private mapping is mapped anywhere else,
//    and no shared leaf table has a writable entry;
//  - free frames have no references and no mappings, and the free lists
//    hold exactly free_count() frames (Kernel frames are not checked: their
//    holders are kernel objects, not page tables);
//  - no user PTE points outside the frame table;
//  - swap: every swap entry lies in a private mapping and names a slot in
//    use; the slot counts add up to the entries that name slots (a shared
//    leaf table's once) plus the swap cache's pages, and the free slots to
//    those with count 0.
// `spaces` must hold every address space that exists, and none may change
// during the call (nor may reclaim run: reclaim::Pause). Returns the number of violations; `report` (optional) is
// told about each one.
using AuditReport = void (*)(const char *what, PhysAddr pa, VirtAddr va);
uint64 audit(AddressSpace *const *spaces, int n, AuditReport report = nullptr);

} // namespace mm

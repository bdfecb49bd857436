// The reference-count audit (the vmaudit system call, and host tests).
#pragma once

#include "mm/address_space.h"

namespace mm {

// Check, frame by frame, that:
//  - every User frame's reference count equals the number of leaf PTEs that
//    map it in `spaces`, and every PageTable frame is referenced once;
//  - no PTE is both writable and marked copy-on-write;
//  - no frame mapped writable is mapped anywhere else (refs == 1);
//  - free frames have no references and no mappings, and the free lists
//    hold exactly free_count() frames (Kernel frames are not checked: their
//    holders are kernel objects, not page tables);
//  - no user PTE points outside the frame table.
// `spaces` must hold every address space that exists, and none may change
// during the call. Returns the number of violations; `report` (optional) is
// told about each one.
using AuditReport = void (*)(const char *what, PhysAddr pa, VirtAddr va);
uint64 audit(AddressSpace *const *spaces, int n, AuditReport report = nullptr);

} // namespace mm

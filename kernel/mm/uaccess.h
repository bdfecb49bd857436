// Copying between kernel memory and a user address space. The translation is
// done in software through the page table (no reliance on the MMU faulting),
// and every write goes through AddressSpace::resolve, so the kernel writing
// into user memory obeys copy-on-write exactly like a user store.
#pragma once

#include "lib/result.h"
#include "mm/address_space.h"

namespace mm {

Result<void> copy_to_user(AddressSpace &as, VirtAddr dst, const void *src, uint64 len);
Result<void> copy_from_user(AddressSpace &as, void *dst, VirtAddr src, uint64 len);
// Copy a NUL-terminated string of at most max bytes (including the NUL).
// Returns its length without the NUL. TooBig if no NUL within max.
Result<uint64> copy_string_from_user(AddressSpace &as, char *dst, VirtAddr src, uint64 max);

} // namespace mm

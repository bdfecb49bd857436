// Kernel access to user memory, page by page through the page table.
#include "mm/uaccess.h"

#include "lib/string.h"

namespace mm {

namespace {

// Check [va, va + len) lies in the user half without wrapping around.
bool user_range_ok(VirtAddr va, uint64 len) { return va.value < USER_TOP && len <= USER_TOP - va.value; }

} // namespace

Result<void> copy_to_user(AddressSpace &as, VirtAddr dst, const void *src, uint64 len) {
  if (!user_range_ok(dst, len)) return Error::BadAddress;
  auto *s = static_cast<const uint8 *>(src);
  while (len > 0) {
    // Writes obey copy-on-write: resolve() goes through handle_fault.
    PhysAddr pa = TRY(as.resolve(dst, Access::Write));
    uint64 n = PAGE_SIZE - dst.page_offset();
    if (n > len) n = len;
    memcpy(phys_to_ptr(pa), s, n);
    len -= n;
    s += n;
    dst = dst + n;
  }
  return {};
}

Result<void> copy_from_user(AddressSpace &as, void *dst, VirtAddr src, uint64 len) {
  if (!user_range_ok(src, len)) return Error::BadAddress;
  auto *d = static_cast<uint8 *>(dst);
  while (len > 0) {
    PhysAddr pa = TRY(as.resolve(src, Access::Read));
    uint64 n = PAGE_SIZE - src.page_offset();
    if (n > len) n = len;
    memcpy(d, phys_to_ptr(pa), n);
    len -= n;
    d += n;
    src = src + n;
  }
  return {};
}

Result<uint64> copy_string_from_user(AddressSpace &as, char *dst, VirtAddr src, uint64 max) {
  uint64 copied = 0;
  while (copied < max) {
    if (!src.is_user()) return Error::BadAddress;
    PhysAddr pa = TRY(as.resolve(src, Access::Read));
    const char *p = phys_to_ptr<const char>(pa);
    uint64 n = PAGE_SIZE - src.page_offset();
    for (uint64 i = 0; i < n && copied < max; i++, copied++) {
      dst[copied] = p[i];
      if (p[i] == 0) return copied;
    }
    src = VirtAddr(page_round_down(src.value) + PAGE_SIZE);
  }
  return Error::TooBig;
}

} // namespace mm

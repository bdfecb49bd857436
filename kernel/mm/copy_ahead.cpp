// Copy-ahead (copy_ahead.h): decides how many pages a write fault resolves,
// and leaves the resolving to the core.
#include "mm/copy_ahead.h"

#include "mm/address_space.h"
#include "mm/frame.h"
#include "mm/page_table.h"

namespace mm {

// The longest run (8 MiB), and the share of memory a run never takes.
constexpr uint64 COW_AHEAD_MAX = 4 * PT_ENTRIES;
constexpr uint64 COW_AHEAD_RESERVE_DIVISOR = 8;

Result<void> CopyAhead::handle_fault(AddressSpace &as, VirtAddr va, Access access) {
  VirtAddr page = va.page_base();
  // A store on the page right after the last run continues the streak: the
  // run doubles, but never reaches into the reserve. Any other fault is
  // resolved alone; if it is a store to a Cow page, a new streak starts.
  uint64 window = 1, ahead = 0;
  if (access == Access::Write && page.value == streak_next_) {
    window = window_ * 2 > COW_AHEAD_MAX ? COW_AHEAD_MAX : window_ * 2;
    uint64 free = frames.free_count(), reserve = frames.total() / COW_AHEAD_RESERVE_DIVISOR;
    uint64 spare = free > reserve ? free - reserve : 0;
    ahead = window < spare ? window : spare;
  }
  // The core clips the run to the mapping and ends it at the first page
  // that is not Cow; it returns 0 unless this was a store to a Cow page.
  uint64 done = TRY(as.resolve_fault(va, access, 1 + ahead));
  if (done > 0) {
    window_ = window;
    streak_next_ = page.value + done * PAGE_SIZE;
  }
  return {};
}

} // namespace mm

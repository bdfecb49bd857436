// Copy-ahead: the fault policy of ForkMode::CowAhead (the default fork mode).
//
// A process that writes page after page of shared memory (a child filling
// its whole heap) pays one trap per page, and in QEMU a trap and its TLB
// flush cost several times the 4 KiB copy. This policy watches the write
// faults of one address space: after two write faults on consecutive pages
// (a streak), the pages that follow are resolved too, and the run doubles
// at each fault of the streak, up to COW_AHEAD_MAX pages (8 MiB;
// copy_ahead.cpp). The core (AddressSpace::resolve_fault) does the work: it
// clips the run to the mapping, ends it at the first page that is not Cow,
// copies a shared leaf table together with the run's pages in it, and
// flushes the TLB once per leaf table of the run.
//
// The price: pages the process never writes may be copied, at most one run,
// which is never longer than the streak that earned it. So copies are
// speculative only while memory is plentiful: a run never takes the last
// COW_AHEAD_RESERVE_DIVISOR-th of memory, and stops quietly if memory runs
// out (the fault itself is resolved regardless). ForkMode::Cow has no
// policy, so its copy counts stay exact.
//
// Each AddressSpace keeps one (address_space.h); clone_into enables it in
// parent and child when it forks in ForkMode::CowAhead and disables it
// otherwise (the latest fork decides).
#pragma once

#include "lib/result.h"
#include "mm/addr.h"

namespace mm {

class AddressSpace;
enum class Access;

class CopyAhead {
public:
  bool enabled() const { return enabled_; }
  void set_enabled(bool on) { enabled_ = on; }

  // A fault of `as` at va, resolved through the core with the run this
  // policy decides (AddressSpace::handle_fault comes here when enabled).
  Result<void> handle_fault(AddressSpace &as, VirtAddr va, Access access);

private:
  bool enabled_ = false;
  // Where the next fault of the streak would be, and how many pages after
  // the faulting one the streak's last fault asked for.
  uint64 streak_next_ = 0;
  uint64 window_ = 1;
};

} // namespace mm

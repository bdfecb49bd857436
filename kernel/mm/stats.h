// Memory counters reported by the memstat system call.
#pragma once

#include <atomic>

#include "lib/types.h"

namespace mm {

struct Counters {
  std::atomic<uint64> cow_faults{0};
  std::atomic<uint64> cow_copies{0};
  std::atomic<uint64> cow_reuses{0};
  std::atomic<uint64> cow_ahead{0}; // of the copies + reuses, those made ahead of a fault (CowAhead)
  std::atomic<uint64> fork_shared{0};
  std::atomic<uint64> fork_copied{0};
  std::atomic<uint64> frames_allocated{0};
  std::atomic<uint64> table_shares{0}; // leaf tables fork shared instead of copying their entries
  std::atomic<uint64> table_copies{0}; // shared leaf tables copied for a change (find_or_create)
  // The page cache (object.cpp); the first two are gauges, not totals.
  std::atomic<uint64> cache_pages{0};
  std::atomic<uint64> cache_dirty{0};
  std::atomic<uint64> cache_hits{0};
  std::atomic<uint64> cache_misses{0};
  std::atomic<uint64> cache_writebacks{0};
  std::atomic<uint64> cache_dropped{0};
  std::atomic<uint64> zero_maps{0}; // loads served by mapping the zero frame
  // Swap and reclaim (swap.cpp, reclaim.cpp).
  std::atomic<uint64> swap_outs{0};       // pages written to the swap disk
  std::atomic<uint64> swap_ins{0};        // pages read from it
  std::atomic<uint64> swap_cache_hits{0}; // swap faults served by the swap cache
  std::atomic<uint64> reclaim_scans{0};   // frames the reclaim clock looked at
  std::atomic<uint64> reclaim_unmapped{0}; // leaf entries reclaim took away
  std::atomic<uint64> reclaim_freed{0};   // frames reclaim gave back (besides cache_dropped)
  std::atomic<uint64> reclaim_writebacks{0}; // dirty file pages reclaim wrote back

  static void bump(std::atomic<uint64> &c, uint64 n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
};

extern Counters counters;

} // namespace mm

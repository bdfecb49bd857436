// vmstat: print the kernel's memory statistics, one "name value" per line.
#include "kernel/types.h"
#include "kernel/memstat.h"
#include "user/user.h"

int main(void) {
  struct memstat ms;
  if (memstat(&ms) < 0) {
    fprintf(2, "vmstat: memstat failed\n");
    return 1;
  }
  printf("total_frames %lu\n"
         "free_frames %lu\n"
         "cow_faults %lu\n"
         "cow_copies %lu\n"
         "cow_reuses %lu\n"
         "fork_shared %lu\n"
         "fork_copied %lu\n"
         "frames_allocated %lu\n"
         "cow_ahead %lu\n"
         "table_shares %lu\n"
         "table_copies %lu\n"
         "cache_pages %lu\n"
         "cache_dirty %lu\n"
         "cache_hits %lu\n"
         "cache_misses %lu\n"
         "cache_writebacks %lu\n"
         "cache_dropped %lu\n"
         "zero_maps %lu\n",
         ms.total_frames, ms.free_frames, ms.cow_faults, ms.cow_copies, ms.cow_reuses,
         ms.fork_shared, ms.fork_copied, ms.frames_allocated, ms.cow_ahead, ms.table_shares,
         ms.table_copies, ms.cache_pages, ms.cache_dirty, ms.cache_hits, ms.cache_misses,
         ms.cache_writebacks, ms.cache_dropped, ms.zero_maps);
  printf("free_procs %lu\n"
         "free_inodes %lu\n"
         "free_blocks %lu\n",
         ms.free_procs, ms.free_inodes, ms.free_blocks);
  printf("swap_slots %lu\n"
         "swap_free %lu\n"
         "swap_outs %lu\n"
         "swap_ins %lu\n"
         "swap_cache_hits %lu\n"
         "reclaim_scans %lu\n"
         "reclaim_unmapped %lu\n"
         "reclaim_freed %lu\n"
         "reclaim_writebacks %lu\n",
         ms.swap_slots, ms.swap_free, ms.swap_outs, ms.swap_ins, ms.swap_cache_hits,
         ms.reclaim_scans, ms.reclaim_unmapped, ms.reclaim_freed, ms.reclaim_writebacks);
  return 0;
}

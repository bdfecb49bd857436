// cowix memory statistics (SYS_memstat) and fork strategies (SYS_forkmode).
#pragma once

struct memstat {
  uint64 total_frames;  // physical frames managed by the frame table
  uint64 free_frames;   // frames on the free lists now
  uint64 cow_faults;    // store faults (or kernel writes) that hit a COW page
  uint64 cow_copies;    // ... resolved by copying the page
  uint64 cow_reuses;    // ... resolved by reusing the frame (last sharer)
  uint64 fork_shared;   // pages shared (not copied) by fork, cumulative
  uint64 fork_copied;   // pages copied by fork (eager mode), cumulative
  uint64 frames_allocated; // successful frame allocations, cumulative
  uint64 cow_ahead;     // of the copies + reuses, those resolved ahead of a
                        // fault (FORK_COW_AHEAD), not by one
  uint64 table_shares;  // leaf page tables (2 MiB each) fork shared with
                        // the child instead of copying, cumulative
  uint64 table_copies;  // shared leaf tables copied because one side
                        // changed an entry (its first write there)
};

#define FORK_COW 0   // copy-on-write, one page per write fault, exactly
#define FORK_EAGER 1 // copy every page at fork time (for comparison)
#define FORK_COW_AHEAD 2 // the default: COW, and a run of write faults on
                         // consecutive pages also copies the pages that
                         // follow (up to 2 MiB), while memory is plentiful

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
  // The page cache (file pages and MAP_SHARED anonymous pages).
  uint64 cache_pages;      // pages in the cache now
  uint64 cache_dirty;      // ... of which dirty (not yet on disk)
  uint64 cache_hits;       // lookups that found the page, cumulative
  uint64 cache_misses;     // lookups that had to read it (or make it)
  uint64 cache_writebacks; // pages written back to their file, cumulative
  uint64 cache_dropped;    // clean pages given back under memory pressure
  uint64 zero_maps;        // loads served by the shared zero frame
  // Other kernel resources, for leak checks in the tests.
  uint64 free_procs;  // process table slots not in use
  uint64 free_inodes; // free inodes on the root disk
  uint64 free_blocks; // free blocks on the root disk (bitmap)
  // Swap and reclaim (0 when there is no swap disk).
  uint64 swap_slots;      // 4 KiB slots on the swap disk
  uint64 swap_free;       // ... free now
  uint64 swap_outs;       // pages written to swap, cumulative
  uint64 swap_ins;        // pages read back from swap, cumulative
  uint64 swap_cache_hits; // swap faults served from memory (no read)
  uint64 reclaim_scans;   // frames the reclaim clock looked at
  uint64 reclaim_unmapped; // page-table entries reclaim took away
  uint64 reclaim_freed;   // frames reclaim gave back (besides cache_dropped)
  uint64 reclaim_writebacks; // dirty file pages reclaim wrote back
};

// One mapping of a process, as vmmap() reports it (pmap prints these).
#define VMMAP_ANON 1  // anonymous memory (mmap MAP_ANONYMOUS)
#define VMMAP_FILE 2  // a file mapped with mmap
#define VMMAP_TEXT 3  // program text (exec)
#define VMMAP_DATA 4  // program data and bss (exec)
#define VMMAP_STACK 5 // the user stack
#define VMMAP_HEAP 6  // the heap (sbrk)
struct vmmap {
  uint64 start, end; // [start, end), page aligned
  int prot;          // PROT_READ | PROT_WRITE | PROT_EXEC
  int flags;         // MAP_SHARED or MAP_PRIVATE
  int kind;          // VMMAP_*
  int inum;          // the file's inode number (VMMAP_FILE/TEXT/DATA), else 0
  uint64 offset;     // file offset of start (file mappings)
  char name[16];     // the file's last path element, if known, else ""
  uint64 resident;   // pages present in the page table
  uint64 shared;     // ... of which mapped by another mapping too (or cached)
  uint64 private_;   // ... of which this mapping's alone
  uint64 swapped;    // pages of the mapping now in swap
};

#define FORK_COW 0   // copy-on-write, one page per write fault, exactly
#define FORK_EAGER 1 // copy every page at fork time (for comparison)
#define FORK_COW_AHEAD 2 // the default: COW, and a run of write faults on
                         // consecutive pages also copies the pages that
                         // follow (up to 2 MiB), while memory is plentiful

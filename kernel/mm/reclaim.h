// Reclaim: giving frames back when memory runs short (Linux's vmscan).
//
// Policy (this file's callers decide when; reclaim.cpp decides what):
//  1. Clean page-cache pages that nothing maps go first: they cost nothing
//     to drop (page_cache::reclaim, which the frame allocator also calls by
//     itself when its lists run dry).
//  2. Then a two-handed clock over the frame table (second chance). The
//     front hand clears the referenced (A) bit of every entry that maps a
//     frame (through the reverse map); the back hand follows at least half
//     of memory behind and looks at the bits again: a frame whose bit was
//     set in any entry since is spared. The others lose every entry: an
//     anonymous page goes to the swap cache under one slot, which all its
//     entries now name; a file page's entries just go. While free frames
//     fall from a quarter of memory to the low watermark, the front hand
//     runs a whole turn ahead (balance), so that the first judgement
//     already has a history.
//  3. Every other hart drops its stale translations (hal::shootdown), and
//     only then are pages written: dirty file pages back to their file,
//     swap-cache pages to their slot. Then the frames are free.
// Shared anonymous memory is an object whose pager is the swap disk
// (shmem.h): its pages go like a file's.
// Never evicted: page tables, kernel memory (pipe buffers, slabs), the zero
// frame, pages under I/O.
//
// run() may sleep (the disk) and walks every address space with a
// try-lock: call it with no address-space lock and no spinlock held. One
// reclaim runs at a time; others wait for it.
#pragma once

#include "lib/result.h"
#include "lib/types.h"
#include "mm/swap.h"

namespace mm::reclaim {

// Watermarks from the frame table's size (after frames.init).
void init();
uint64 low_watermark();
uint64 high_watermark();

// Try to free `want` frames; returns how many it freed (0: nothing left to
// evict, or swap is full: the caller is out of memory).
uint64 run(uint64 want);

// Move the clock's front hand up to `frames_ahead` frames ahead of the back
// hand (never more than a turn), clearing referenced bits; evicts nothing.
// balance() does it by itself as memory fills; for tests.
void age(uint64 frames_ahead);

// Keeps reclaim from running while it lives (the audit: reclaim holds
// pages and swap slots between its steps). Take it before any vm_lock.
class Pause {
public:
  Pause();
  ~Pause();
  Pause(const Pause &) = delete;
  Pause &operator=(const Pause &) = delete;
};

// At a point where the caller holds no lock: if free frames are below the
// low watermark, reclaim up to the high one; between a quarter of memory
// and the low watermark, age pages ahead of need. Cheap when memory is plenty.
// Returns false when memory is exhausted (see below) even after reclaim.
bool balance();

// Swap has no free slot (or there is none) and free frames are below the
// high watermark: what reclaim can still free is file pages, which their
// users fault straight back in. A process that keeps faulting in this state
// is thrashing on its last pages: the caller's cue for the OOM killer.
bool exhausted();

// Free frames are few (below the high watermark plus a sixteenth of
// memory): an allocation that failed may succeed after reclaim. (With more
// free, the failure had another cause, such as faultinject, and reclaiming
// would only evict pages for nothing.)
bool short_of_frames();

// Swap is down to its reserve: no more than the low watermark's worth of
// free slots (see retrying).
bool swap_reserved();

// Run op() (which returns a Result, holds no lock between calls and leaves
// nothing behind when it fails) until it succeeds, fails for another reason
// than memory, or reclaim can free nothing more: then its NoMemory stands.
// For what may fail without killing anyone: sbrk, fork, exec, mmap.
// At most RETRIES rounds: what reclaim frees may be taken again by others
// (their text pages, faulted straight back in) before op gets it.
// Once swap is down to its reserve (the low watermark's worth of slots), op
// fails instead: what is left is for the faults of processes already
// running, which cannot fail without a kill. (Taking it, xv6's usertests,
// which grows its heap a page at a time until sbrk fails, took every slot
// and then every text page, and the OOM killer killed it at its next fault.)
constexpr int RETRIES = 8;
template <typename Op> auto retrying(Op &&op) -> decltype(op()) {
  for (int round = 0;; round++) {
    auto r = op();
    if (r.ok() || r.error() != Error::NoMemory || round == RETRIES) return r;
    if (!swap::enabled() || swap_reserved() || !short_of_frames() || run(high_watermark()) == 0) return r;
  }
}

} // namespace mm::reclaim

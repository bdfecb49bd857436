// Swap: where anonymous pages go when memory runs short.
//
// The swap disk is an array of 4 KiB slots. A leaf entry whose page went to
// swap names its slot instead of a frame (a swap entry, pte.h). A slot's
// count is
//     the leaf entries that name it (a leaf table shared by fork counting
//     once, as it does for a frame's maps)
//   + 1 while the swap cache has a page for it.
// A slot with count 0 is free.
//
// The swap cache is the page cache of one memory object, swap::object(),
// whose page index is the slot number. A page on its way out, or back in,
// is a File frame of that object (Frame::index = slot; Frame::vpage = the
// address every entry that maps it has, as for an Anon frame). So:
//  - eviction writes a page shared by a whole fork family once: the first
//    entry that goes puts the frame in the cache under a new slot, every
//    other entry that maps it is made to name the same slot (reclaim.cpp),
//    and the page is written when no entry maps it any more;
//  - the way back in is object().get_page(slot): concurrent faults on the
//    slot wait for one read (Busy), and each process that faults finds the
//    same frame there, so the family shares one frame again;
//  - when the last entry that named the slot has mapped the frame again,
//    the frame leaves the cache and is plain anonymous memory (the slot is
//    free); a page in the cache that no entry maps or names is dropped.
// A swap-cache page is never written while cached: every entry that maps
// it is read-only (Cow where the mapping is writable), and a store copies
// it (once no entry names the slot the page is anonymous again, and the
// usual reuse rule applies).
//
// Locking: slot counts are atomics; allocation takes the slot lock (after
// any page-cache bucket lock: page_removed runs under one).
#pragma once

#include "lib/result.h"
#include "mm/addr.h"
#include "mm/object.h"

namespace mm::swap {

// Use the swap disk (hal::swap_pages(); none: no swap) from now on, with
// every slot free. The slot counts take frames (4 bytes a slot). Call after
// page_cache::init, with no page in swap (host tests call it per test).
Result<void> init();
bool enabled();
uint64 total_slots();
uint64 free_slots();

// The swap cache's object, and whether a frame is one of its pages.
VmObject &object();
bool is_cache_page(PhysAddr page);
// The slot of a swap-cache page.
uint64 slot_of(PhysAddr page);
uint32 count(uint64 slot);

// Reclaim's first step for `page`, an Anon frame mapped at its vpage: it
// becomes a dirty swap-cache page of a new slot. NoSpace when swap is full
// or absent. The caller keeps `page` from changing (holds an address-space
// lock under which an entry maps it).
Result<uint64> add_to_cache(PhysAddr page);

// A new slot, its count 1: the caller's (shmem's table). NoSpace when swap
// is full or absent.
Result<uint64> alloc();

// A leaf entry starts / stops naming `slot`. free() may drop the slot's
// cache page when nothing uses it any more. Neither sleeps.
void dup(uint64 slot);
void free(uint64 slot);

// A fault on a swap entry: the frame of `slot`, held (the cache's copy, or
// read from the disk). May sleep.
Result<PhysAddr> get_page(uint64 slot);
// The entry that named `slot` now maps `page`, the slot's cache page (the
// caller turned its hold into this mapping): the slot loses the entry, and
// when no entry names it any more the page leaves the cache as plain
// anonymous memory.
void mapped(uint64 slot, PhysAddr page);
// Reclaim's last step for a swap-cache page the caller holds (one hold)
// and that no entry maps any more: write it to its slot if it is dirty and
// still named, then free it. Returns whether the frame went back to the
// free lists (false: mapped again meanwhile, or the write failed: it stays
// in the cache). The caller's hold is released either way. May sleep.
bool write_out(PhysAddr page);

} // namespace mm::swap

// The fault path: every page fault and every kernel access to user memory
// comes to handle_fault. One path: find the mapping, get the object's page
// (or the zero frame), copy it on a private write, map it. A store to a Cow
// page is resolved by resolve_cow (cow.cpp), or, in a leaf table that fork
// still shares, by a copy of the table (copy_shared_run). Fault policies
// (copy_ahead.h) sit in front of this path: they call resolve_fault and may
// ask it to resolve a run of Cow pages from the faulting one on; nothing
// here knows why a run is asked for.
#include "mm/address_space.h"

#include "lib/string.h"
#include "mm/copy_ahead.h"
#include "mm/cow.h"
#include "mm/frame.h"
#include "mm/hal.h"
#include "mm/object.h"
#include "mm/stats.h"
#include "mm/swap.h"

namespace mm {

namespace {

// The flags for page `pa` of mapping m mapped read-only first: a private
// writable mapping marks it Cow (its first store copies it, or reuses it if
// it is anonymous and this is its only mapping); a shared writable one
// leaves Write off so that the first store is seen (the page becomes dirty).
uint64 readonly_flags(const Mapping &m) {
  uint64 f = pte_flags_for(m.prot) & ~pte::Write;
  if (!m.shared && (m.prot & prot::Write)) f |= pte::Cow;
  return f;
}

} // namespace

// The one entry: the policy the latest fork chose, if any, or the core alone.
Result<void> AddressSpace::handle_fault(VirtAddr va, Access access) {
  if (copy_ahead_.enabled()) return copy_ahead_.handle_fault(*this, va, access);
  TRY(fault_path(va, access, 1));
  return {};
}

Result<uint64> AddressSpace::resolve_fault(VirtAddr va, Access access, uint64 run) {
  return fault_path(va, access, run);
}

// The core fault path (resolve_fault). Inlined into handle_fault, where
// run = 1 folds the run handling away: a fault with no policy costs no call
// and no test more than the page alone needs.
[[gnu::always_inline]] inline Result<uint64> AddressSpace::fault_path(VirtAddr va, Access access,
                                                                      uint64 run) {
  if (!va.is_user()) return Error::BadAddress;
  Mapping *m = maps_.find(va);
  if (!m) return Error::BadAddress; // unmapped, the guard page, beyond the break
  uint32 need = access == Access::Write ? prot::Write : access == Access::Exec ? prot::Exec : prot::Read;
  if (!(m->prot & need)) return Error::Protection;

  VirtAddr page = va.page_base();
  Pte *pte = pt_.find(page);
  if (pte && pte->is_swap()) {
    TRY(swap_in(*m, page, pte->swap_slot(), access));
    return 0;
  }
  if (!pte || !pte->valid()) {
    TRY(fault_in(*m, page, access));
    return 0;
  }
  if (access == Access::Write && !pte->has(pte::Write)) {
    if (m->shared) {
      // The first store into a shared page since it was mapped: it may now
      // differ from the file. (Fork never shares a table with shared
      // mappings, and mapping one unshares its table: this one is ours.)
      KASSERT(!PageTable::in_shared_leaf_table(pte));
      if (frames.kind(pte->phys()) == FrameKind::File) set_page_dirty(pte->phys());
      *pte = Pte::make(pte->phys(), pte->flags() | pte::Write);
      return 0;
    }
    if (!pte->has(pte::Cow)) return Error::Protection;
    // A run never leaves the mapping.
    uint64 room = (m->end.value - page.value) / PAGE_SIZE;
    if (run > room) run = room;
    if (run <= 1 && !PageTable::in_shared_leaf_table(pte)) {
      TRY(resolve_cow(page, *pte)); // the common case: one page, in a table of our own
      return 1;
    }
    return resolve_cow_fault(page, pte, run);
  }
  // The PTE already allows it: a stale translation on this hart, or (on a
  // machine whose page walker faults instead of setting A and D) a clear
  // referenced bit, which reclaim clears (reclaim.h): set it, atomically.
  uint64 ad = pte::Accessed | (access == Access::Write ? pte::Dirty : 0);
  if (!pte->has(ad)) __atomic_fetch_or(&pte->raw, ad, __ATOMIC_RELAXED);
  hal::flush_page(page);
  return 0;
}

// A fault on a page not present: get the page from the mapping's object (or
// make it), copy it if this is a private write, and map it.
Result<void> AddressSpace::fault_in(Mapping &m, VirtAddr page, Access access) {
  uint64 index = m.page_index(page);
  bool write = access == Access::Write;
  PhysAddr frame;
  uint64 flags;
  // Private anonymous memory, and exec's bss past the file's data: demand
  // zero. (Shared anonymous memory has an object: its pages are shared.)
  bool zero_fill = !m.object || (m.data_end != NO_DATA_END && index * PAGE_SIZE >= m.data_end);
  if (zero_fill) {
    if (write) {
      frame = TRY(frames.alloc_zeroed(FrameKind::Anon));
      frames.set_vpage(frame, page);
      flags = pte_flags_for(m.prot);
    } else {
      // Never written: the shared zero frame, read-only.
      frame = page_cache::zero_frame();
      frames.ref(frame);
      flags = readonly_flags(m);
      Counters::bump(counters.zero_maps);
    }
  } else {
    if (m.data_end == NO_DATA_END && index * PAGE_SIZE >= m.object->size()) return Error::BeyondEnd;
    PhysAddr cached = TRY(m.object->get_page(index)); // held; may sleep
    bool straddles = m.data_end != NO_DATA_END && (index + 1) * PAGE_SIZE > m.data_end;
    if (straddles) {
      // exec's last data page: the file's bytes past the segment must read
      // as zeros, so this page is a private copy with its tail cleared
      // (unless the tail already is zero: then the cached page will do).
      uint64 keep = m.data_end - index * PAGE_SIZE;
      const uint8 *tail = phys_to_ptr<uint8>(cached) + keep;
      bool zero_tail = true;
      for (uint64 i = 0; i < PAGE_SIZE - keep && zero_tail; i++) zero_tail = tail[i] == 0;
      straddles = !zero_tail;
    }
    if (m.shared) {
      frame = cached;
      frames.hold_to_map(frame);
      flags = pte_flags_for(m.prot);
      if (write)
        set_page_dirty(frame);
      else
        flags &= ~pte::Write; // the first store will say it dirtied the page
    } else if (write || straddles) {
      auto fresh = frames.alloc(FrameKind::Anon);
      if (fresh.is_error()) {
        frames.release(cached);
        return fresh.error();
      }
      frame = fresh.value();
      Pte copy = cow_copy(Pte::make(cached, pte_flags_for(m.prot)), frame, page); // the one page copy
      frames.release(cached);
      if (straddles) memset(phys_to_ptr<uint8>(frame) + (m.data_end - index * PAGE_SIZE), 0,
                            PAGE_SIZE - (m.data_end - index * PAGE_SIZE));
      flags = (m.prot & prot::Write) ? copy.flags() : pte_flags_for(m.prot);
    } else {
      frame = cached;
      frames.hold_to_map(frame);
      flags = readonly_flags(m);
    }
  }
  auto slot = pt_.find_or_create(page);
  if (slot.is_error()) {
    frames.unref(frame);
    return slot.error();
  }
  KASSERT(!slot.value()->valid());
  *slot.value() = Pte::make(frame, flags);
  return {};
}

// A fault on a page that went to swap (its entry names `slot`): the page
// comes back from the swap cache, or from the disk into it, so every
// address space whose entry names the slot finds the same frame: a fork
// family that shared a page before it went out shares it again. It is
// mapped read-only (Cow in a writable mapping), and a store then follows
// the copy-on-write rules: once no entry names the slot any more the page
// is anonymous again, and its last user may reuse it.
Result<void> AddressSpace::swap_in(Mapping &m, VirtAddr page, uint64 slot, Access access) {
  PhysAddr frame = TRY(swap::get_page(slot)); // held; may sleep
  // The entry, in a table of our own (a shared one is copied first: the
  // copy names the slot too).
  auto entry = pt_.find_or_create(page);
  if (entry.is_error()) {
    frames.release(frame);
    return entry.error();
  }
  Pte *pte = entry.value();
  KASSERT(pte->is_swap() && pte->swap_slot() == slot); // only we change our own table
  frames.set_vpage(frame, page);
  frames.hold_to_map(frame);
  *pte = Pte::make(frame, readonly_flags(m));
  swap::mapped(slot, frame);
  if (access == Access::Write) TRY(resolve_cow(page, *pte));
  return {};
}

// ---------------------------------------------------------------- Cow runs

// A store to the Cow page `page` (its entry *pte), resolved together with
// the Cow pages after it, `run` pages in all (run >= 1). The fault's own
// page must be resolved: its error is the fault's. In its leaf table, a
// shared table is copied with the run's pages in it in one pass
// (copy_shared_run); in a private one the page goes through resolve_cow and
// the rest through resolve_ahead. What the run needs beyond that table,
// resolve_cow_run resolves, best effort. Returns how many pages were
// resolved.
Result<uint64> AddressSpace::resolve_cow_fault(VirtAddr page, Pte *pte, uint64 run) {
  uint64 room = PT_ENTRIES - vpn(page, 0); // entries left in this leaf table
  uint64 n = run < room ? run : room;
  uint64 got;
  if (PageTable::in_shared_leaf_table(pte)) {
    got = TRY(copy_shared_run(page, n, CowCause::Fault));
  } else {
    TRY(resolve_cow(page, *pte));
    got = n > 1 ? 1 + resolve_ahead(VirtAddr(page.value + PAGE_SIZE), n - 1) : 1;
  }
  if (got < n || n == run) return got;
  return got + resolve_cow_run(VirtAddr(page.value + n * PAGE_SIZE), run - n);
}

// Resolve up to `pages` Cow pages from `start` on, ahead of any fault, one
// leaf table at a time: best effort, the run stops at the first page that
// is not Cow, or when memory runs short. A run that would end partway into
// a shared table stops before it: the next fault there copies the table and
// the pages in one pass, where entering now would leave the rest of the
// table to the slower path. Returns how many pages were resolved.
uint64 AddressSpace::resolve_cow_run(VirtAddr start, uint64 pages) {
  uint64 done = 0;
  VirtAddr at = start;
  while (done < pages) {
    uint64 room = PT_ENTRIES - vpn(at, 0); // entries left in this leaf table
    uint64 n = pages - done < room ? pages - done : room;
    Pte *p = pt_.find(at);
    if (!p || !p->has(pte::Valid | pte::Cow)) break;
    bool shared = PageTable::in_shared_leaf_table(p);
    if (shared && n < room) break;
    uint64 got;
    if (shared) {
      auto copied = copy_shared_run(at, n, CowCause::Ahead);
      if (copied.is_error()) break;
      got = copied.value();
    } else {
      got = resolve_ahead(at, n);
    }
    done += got;
    if (got < n) break;
    at = VirtAddr(at.value + n * PAGE_SIZE);
  }
  return done;
}

// The run [page, page + n) starts in a leaf table that fork shared: this
// address space gets its own copy of the table (see page_table.h), in which
// the run's pages, as far as they are Cow and memory allows, are fresh
// copies, and every other entry maps the same frame as before. Copying is
// the only choice here: the table's other holders still map those frames.
// One pass over the table does both, so a copied page's frame never gains a
// reference only to lose it again. Returns how many pages were copied: at
// least the first, as the caller saw to it that the first page is Cow.
Result<uint64> AddressSpace::copy_shared_run(VirtAddr page, uint64 n, CowCause cause) {
  // The first page's frame, then (inside unshare) the table's: if either
  // is missing, nothing changes. The rest of the run comes lazily from the
  // supply, so it never costs the fault its memory.
  PhysAddr head = TRY(frames.alloc(FrameKind::Anon));
  FrameTable::Supply supply(frames, FrameKind::Anon, n - 1);
  const uint64 first = vpn(page, 0), end = first + n;
  uint64 copied = 0;
  FrameTable::Batch batch(frames);
  auto unshared = pt_.unshare_leaf_table(page, [&](int k, Pte e) {
    uint64 i = static_cast<uint64>(k);
    if (i == first + copied && i < end && e.has(pte::Valid | pte::Cow)) {
      PhysAddr fresh = copied == 0 ? head : supply.next();
      if (fresh.value) {
        copied++;
        return cow_copy(e, fresh, VirtAddr(page.value + (i - first) * PAGE_SIZE));
      }
    }
    if (e.valid())
      batch.ref(e.phys());
    else if (e.is_swap())
      swap::dup(e.swap_slot());
    return e;
  });
  if (unshared.is_error() || copied == 0)
    frames.unref(head); // (copied == 0: the caller checked the page is Cow)
  if (unshared.is_error()) return unshared.error();
  bool fault = cause == CowCause::Fault;
  if (fault) Counters::bump(counters.cow_faults);
  Counters::bump(counters.cow_copies, copied);
  Counters::bump(counters.cow_ahead, fault ? copied - 1 : copied);
  return copied;
}

// Resolve up to `pages` Cow pages from `start` on, all in one leaf table of
// this address space's own, ahead of any fault: the frames come from one
// supply, and one TLB flush covers them all. Returns how many were resolved.
uint64 AddressSpace::resolve_ahead(VirtAddr start, uint64 pages) {
  FrameTable::Supply supply(frames, FrameKind::Anon, pages);
  Pte *p = pt_.find(start); // the run's entries are p[0..pages): one leaf table
  uint64 i = 0, copies = 0;
  for (; p && i < pages && p[i].has(pte::Valid | pte::Cow); i++) {
    PhysAddr spare = supply.peek();
    if (!spare.value) break; // the run's share of memory is used up
    auto done = resolve_cow(VirtAddr(start.value + i * PAGE_SIZE), p[i], CowCause::Ahead, spare);
    if (done.is_error()) break;
    if (done.value() == CowOutcome::Copied) {
      supply.take();
      copies++;
    }
  }
  // Translations of the pages resolved ahead may be cached (the process may
  // have read them): one flush for all, before the process runs again.
  if (i > 0) hal::flush_all();
  Counters::bump(counters.cow_ahead, i);
  Counters::bump(counters.cow_copies, copies);
  Counters::bump(counters.cow_reuses, i - copies);
  return i;
}

// ---------------------------------------------------------------- copy-out

Result<PhysAddr> AddressSpace::resolve(VirtAddr va, Access access) {
  uint64 need = pte::Valid | pte::User |
                (access == Access::Write  ? pte::Write
                 : access == Access::Exec ? pte::Exec
                                          : pte::Read);
  Pte *pte = pt_.find(va.page_base());
  if (!pte || !pte->has(need)) {
    TRY(handle_fault(va, access));
    pte = pt_.find(va.page_base());
    if (!pte || !pte->has(need)) return Error::Protection;
  }
  return pte->phys() + va.page_offset();
}

} // namespace mm

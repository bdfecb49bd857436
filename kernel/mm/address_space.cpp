// User address spaces: set-up and tear-down, mappings, sbrk, mmap, munmap,
// mprotect. The fault path is in fault.cpp, fork in fork.cpp, and the
// copy-ahead fault policy in copy_ahead.cpp.
#include "mm/address_space.h"

#include <utility>

#include "lib/print.h"
#include "mm/frame.h"
#include "mm/hal.h"
#include "mm/object.h"
#include "mm/shmem.h"
#include "mm/stats.h"
#include "mm/swap.h"

namespace mm {

uint64 pte_flags_for(uint32 p) {
  // A and D preset: the hardware need not set them on first use. W without R
  // is a reserved encoding in Sv39, so writable implies readable. PROT_NONE
  // keeps the frame mapped for the kernel's bookkeeping but without U, so
  // every user access faults (and the mapping's protection refuses it).
  uint64 f = pte::Valid | pte::User | pte::Accessed | pte::Dirty;
  if (p == 0) return pte::Valid | pte::Read | pte::Accessed | pte::Dirty;
  if (p & (prot::Read | prot::Write)) f |= pte::Read;
  if (p & prot::Write) f |= pte::Write;
  if (p & prot::Exec) f |= pte::Exec;
  return f;
}

Result<void> AddressSpace::init() {
  pt_ = TRY(PageTable::create());
  maps_.clear();
  heap_start_ = size_ = 0;
  has_heap_ = false;
  copy_ahead_ = CopyAhead{};
  return {};
}

void AddressSpace::destroy() {
  if (is_null()) return;
  // Each leaf table drops the frames it maps when this was its last holder
  // (a table still shared with another address space keeps them).
  pt_.destroy();
  // With this address space's entries gone, what its MAP_SHARED mappings
  // dirtied goes back to the files (and becomes clean if nobody else maps
  // it). Then the mappings let go of their objects.
  maps_.for_each([](Mapping &m) {
    if (m.shared && m.object && !m.object->anonymous())
      (void)m.object->writeback(m.pgoff, m.pgoff + m.pages());
  });
  maps_.clear();
  heap_start_ = size_ = 0;
  has_heap_ = false;
}

Result<Mapping *> AddressSpace::map(const Mapping &fields) { return maps_.insert(fields); }

Result<void> AddressSpace::add_region(uint64 start, uint64 end, uint32 p, MapKind kind) {
  if (start % PAGE_SIZE || end % PAGE_SIZE || start > end || end > USER_TOP) return Error::Invalid;
  if (kind == MapKind::Heap && start == end) {
    set_heap_start(start);
    return {};
  }
  Mapping fields;
  fields.start = VirtAddr(start);
  fields.end = VirtAddr(end);
  fields.prot = p;
  fields.kind = kind;
  Mapping *m = TRY(maps_.insert(fields));
  auto r = map_zeroed(start, end, p);
  if (r.is_error()) maps_.remove(m);
  return r;
}

Result<void> AddressSpace::map_zeroed(uint64 start, uint64 end, uint32 p) {
  uint64 flags = pte_flags_for(p);
  for (uint64 va = start; va < end; va += PAGE_SIZE) {
    auto pa = frames.alloc_zeroed(FrameKind::Anon);
    Result<Pte *> pte = pa.ok() ? pt_.find_or_create(VirtAddr(va)) : Result<Pte *>(pa.error());
    if (pte.is_error()) {
      if (pa.ok()) frames.unref(pa.value());
      unmap_range(start, va); // leave no half-built range behind
      return pte.error();
    }
    KASSERT(!pte.value()->in_use());
    frames.set_vpage(pa.value(), VirtAddr(va));
    *pte.value() = Pte::make(pa.value(), flags);
  }
  return {};
}

// Past this many pages one full flush is cheaper than one flush per page.
constexpr uint64 FLUSH_ALL_THRESHOLD = 32;

void AddressSpace::unmap_range(uint64 start, uint64 end) {
  bool per_page = (end - start) / PAGE_SIZE <= FLUSH_ALL_THRESHOLD;
  pt_.for_each_entry(VirtAddr(start), VirtAddr(end), [&](VirtAddr va, Pte &pte) {
    Pte old = pte;
    pte = Pte{};
    if (old.is_swap()) {
      swap::free(old.swap_slot());
      return;
    }
    if (per_page) hal::flush_page(va);
    frames.unref(old.phys());
  });
  if (!per_page) hal::flush_all();
}

// Before unmap_range changes the entries of [start, end): each leaf table
// there that fork shared must stop being shared. One whose valid entries
// all lie in the range is simply let go of (that needs no memory); one that
// also maps pages outside it gets a private copy (that may allocate, so it
// can fail). The copies come first, so that on failure nothing has been
// unmapped yet.
Result<void> AddressSpace::own_leaf_tables(uint64 start, uint64 end) {
  constexpr uint64 SPAN = PT_ENTRIES * PAGE_SIZE;
  auto only_in_range = [&](uint64 base) {
    const Pte *t = pt_.find(VirtAddr(base));
    for (uint64 k = 0; k < PT_ENTRIES; k++) {
      uint64 va = base + k * PAGE_SIZE;
      if (t[k].in_use() && (va < start || va >= end)) return false;
    }
    return true;
  };
  for (int pass = 0; pass < 2; pass++) {
    for (uint64 base = start & ~(SPAN - 1); base < end; base += SPAN) {
      if (!pt_.shares_leaf_table(VirtAddr(base))) continue;
      bool drop = only_in_range(base);
      if (pass == 0 && !drop) TRY(pt_.find_or_create(VirtAddr(base)));
      if (pass == 1 && drop) pt_.drop_leaf_table(VirtAddr(base));
    }
  }
  return {};
}

// Give this address space its own copy of every shared leaf table that
// covers part of [start, end), keeping every entry (mprotect).
Result<void> AddressSpace::unshare_tables(uint64 start, uint64 end) {
  constexpr uint64 SPAN = PT_ENTRIES * PAGE_SIZE;
  for (uint64 base = start & ~(SPAN - 1); base < end; base += SPAN)
    if (pt_.shares_leaf_table(VirtAddr(base))) TRY(pt_.find_or_create(VirtAddr(base)));
  return {};
}

Result<void> AddressSpace::unmap_pages(uint64 start, uint64 end) {
  TRY(own_leaf_tables(start, end));
  unmap_range(start, end);
  if (pt_.prune(VirtAddr(start), VirtAddr(end))) hal::flush_all();
  return {};
}

void AddressSpace::remove_mappings(uint64 start, uint64 end) {
  Mapping *m = maps_.first_ending_after(VirtAddr(start));
  while (m && m->start.value < end) {
    Mapping *next = m->next;
    KASSERT(m->start.value >= start && m->end.value <= end);
    if (m->shared && m->object && !m->object->anonymous())
      (void)m->object->writeback(m->pgoff, m->pgoff + m->pages());
    maps_.remove(m);
    m = next;
  }
}

Mapping *AddressSpace::heap_mapping() {
  if (size_ <= heap_start_) return nullptr;
  Mapping *m = maps_.find(VirtAddr(heap_start_));
  return m && m->kind == MapKind::Heap ? m : nullptr;
}

Result<uint64> AddressSpace::resize_heap(long n, Growth growth) {
  if (!has_heap_) return Error::Invalid;
  uint64 old = size_;
  uint64 grown = old + static_cast<uint64>(n);
  uint64 old_end = page_round_up(old);
  if (n >= 0) {
    // Out of address space (not of memory: reclaim cannot help): TooBig.
    if (grown < old || grown > USER_TOP) return Error::TooBig;
    uint64 new_end = page_round_up(grown);
    if (new_end > old_end) {
      // The break may not run into another mapping: sbrk fails instead.
      Mapping *above = maps_.first_ending_after(VirtAddr(old_end));
      if (above && above->start.value < new_end) return Error::TooBig;
      Mapping *heap = heap_mapping();
      if (heap && heap->end.value == old_end) {
        heap->end = VirtAddr(new_end);
      } else {
        Mapping fields;
        fields.start = VirtAddr(old_end);
        fields.end = VirtAddr(new_end);
        fields.prot = prot::Read | prot::Write;
        fields.kind = MapKind::Heap;
        heap = TRY(maps_.insert(fields));
      }
      if (growth == Growth::Eager) {
        auto r = map_zeroed(old_end, new_end, prot::Read | prot::Write);
        if (r.is_error()) {
          if (heap->start.value == old_end)
            maps_.remove(heap);
          else
            heap->end = VirtAddr(old_end);
          return r.error();
        }
      }
    }
  } else {
    // A shrink past address 0 wraps the break around: like xv6 (whose
    // uvmdealloc ignores a new size above the old one), change nothing and
    // report the old break. Newer xv6 usertests (lazy_copy) rely on it.
    if (grown > old) return old;
    if (grown < heap_start_) return Error::Invalid;
    uint64 new_end = page_round_up(grown);
    if (new_end < old_end) {
      // (A MAP_FIXED mapping may have replaced part of the heap, even across
      // its end: cut there too, so only what lies below the break goes.)
      TRY(maps_.split_at(VirtAddr(new_end)));
      TRY(maps_.split_at(VirtAddr(old_end)));
      TRY(unmap_pages(new_end, old_end));
      remove_mappings(new_end, old_end);
    }
  }
  size_ = grown;
  return old;
}

// ---------------------------------------------------------------- mmap

Result<VirtAddr> AddressSpace::mmap(const MapRequest &req) {
  uint64 len = req.len;
  if (len == 0 || len % PAGE_SIZE || len >= USER_TOP) return Error::Invalid;
  VirtAddr at;
  if (req.fixed) {
    at = req.addr;
    if (!at.is_page_aligned() || at.value >= USER_TOP || len > USER_TOP - at.value) return Error::Invalid;
    TRY(munmap(at, len)); // MAP_FIXED replaces whatever was there
  } else {
    // Above the break, top-down from the top of the user half.
    VirtAddr lo(page_round_up(size_)), hi(USER_TOP);
    at = TRY(maps_.find_free(len, lo, hi, req.addr.page_base()));
  }
  Mapping fields;
  fields.start = at;
  fields.end = at + len;
  fields.prot = req.prot;
  fields.max_prot = req.max_prot;
  fields.shared = req.shared;
  fields.kind = req.kind;
  fields.object = req.object;
  fields.pgoff = req.pgoff;
  TRY(maps_.insert(fields));
  return at;
}

Result<void> AddressSpace::munmap(VirtAddr addr, uint64 len) {
  if (!addr.is_page_aligned() || len == 0 || addr.value >= USER_TOP || len > USER_TOP - addr.value)
    return Error::Invalid;
  uint64 start = addr.value, end = page_round_up(start + len);
  TRY(maps_.split_at(VirtAddr(start)));
  TRY(maps_.split_at(VirtAddr(end)));
  TRY(unmap_pages(start, end));
  remove_mappings(start, end);
  return {};
}

Result<void> AddressSpace::mprotect(VirtAddr addr, uint64 len, uint32 p) {
  if (!addr.is_page_aligned() || len == 0 || addr.value >= USER_TOP || len > USER_TOP - addr.value)
    return Error::Invalid;
  if (p & ~(prot::Read | prot::Write | prot::Exec)) return Error::Invalid;
  uint64 start = addr.value, end = page_round_up(start + len);
  // The whole range must be mapped, and may not gain what a mapping forbids
  // (Write on a MAP_SHARED mapping of a file opened read-only).
  uint64 at = start;
  for (Mapping *m = maps_.first_ending_after(VirtAddr(start)); at < end; m = m->next) {
    if (!m || m->start.value > at) return Error::NoMemory; // a hole (Linux: ENOMEM)
    if (p & ~m->max_prot) return Error::Protection;
    at = m->end.value;
  }
  TRY(maps_.split_at(VirtAddr(start)));
  TRY(maps_.split_at(VirtAddr(end)));
  TRY(unshare_tables(start, end));
  for (Mapping *m = maps_.first_ending_after(VirtAddr(start)); m && m->start.value < end; m = m->next)
    m->prot = p;
  // Present pages follow the new protection. A page that keeps or gains
  // Write is writable only if it was: a private one is marked Cow (its
  // next store copies it or, if it is anonymous and this is its only
  // mapping, reuses it), a shared one faults once to be made writable.
  pt_.for_each_leaf(VirtAddr(start), VirtAddr(end), [&](VirtAddr va, Pte &pte) {
    Mapping *m = maps_.find(va);
    bool was_writable = pte.has(pte::Write);
    uint64 f = pte_flags_for(p);
    if (p & prot::Write) {
      if (!was_writable) f = (f & ~pte::Write) | (m->shared ? 0 : pte::Cow);
    }
    pte = Pte::make(pte.phys(), f);
  });
  hal::flush_all();
  // Pieces that now continue each other (mprotect back) join again.
  for (uint64 a = start; a < end;) {
    Mapping *m = maps_.find(VirtAddr(a));
    if (!m) break;
    maps_.merge_around(m);
    a = maps_.find(VirtAddr(a))->end.value;
  }
  return {};
}

// ---------------------------------------------------------------- pmap, exec

AddressSpace::Residency AddressSpace::residency(const Mapping &m) const {
  Residency r;
  pt_.for_each_entry(m.start, m.end, [&](VirtAddr, Pte &pte) {
    if (pte.is_swap()) {
      r.swapped++;
      return;
    }
    if (!frames.contains(pte.phys())) return;
    r.resident++;
    bool shared = frames.refcount(pte.phys()) > 1 || PageTable::in_shared_leaf_table(&pte) ||
                  frames.kind(pte.phys()) == FrameKind::Zero;
    if (shared)
      r.shared++;
    else
      r.private_++;
  });
  // Shared anonymous memory's swapped pages are its object's, not entries.
  if (m.shared && m.object && m.object->anonymous()) r.swapped += shmem::swapped(m.object, m.pgoff, m.pgoff + m.pages());
  return r;
}

void AddressSpace::swap(AddressSpace &other) {
  std::swap(pt_, other.pt_);
  maps_.swap(other.maps_);
  std::swap(heap_start_, other.heap_start_);
  std::swap(size_, other.size_);
  std::swap(has_heap_, other.has_heap_);
  std::swap(copy_ahead_, other.copy_ahead_);
}

} // namespace mm

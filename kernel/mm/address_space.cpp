// User address spaces: regions, page faults, sbrk, fork.
#include "mm/address_space.h"

#include <utility>

#include "lib/print.h"
#include "lib/string.h"
#include "mm/cow.h"
#include "mm/frame.h"
#include "mm/hal.h"
#include "mm/stats.h"

namespace mm {

uint64 pte_flags_for(uint32 p) {
  // A and D preset: the hardware need not set them on first use. W without R
  // is a reserved encoding in Sv39, so writable implies readable.
  uint64 f = pte::Valid | pte::User | pte::Accessed | pte::Dirty;
  if (p & (prot::Read | prot::Write)) f |= pte::Read;
  if (p & prot::Write) f |= pte::Write;
  if (p & prot::Exec) f |= pte::Exec;
  return f;
}

Result<void> AddressSpace::init() {
  pt_ = TRY(PageTable::create());
  for (auto &r : regions_) r = Region{};
  heap_start_ = size_ = 0;
  cow_ahead_ = false;
  streak_next_ = 0;
  window_ = 1;
  return {};
}

void AddressSpace::destroy() {
  if (is_null()) return;
  // Drop every mapped frame, one leaf table at a time. The PTEs need not be
  // cleared: the tables themselves are freed next.
  FrameTable::Batch batch(frames);
  pt_.for_each_leaf_table([&](VirtAddr, Pte *table) {
    for (int k = 0; k < PT_ENTRIES; k++)
      if (table[k].valid()) batch.unref(table[k].phys());
  });
  pt_.destroy();
  for (auto &r : regions_) r = Region{};
  heap_start_ = size_ = 0;
}

Region *AddressSpace::find_region(uint64 va) {
  for (auto &r : regions_)
    if (r.in_use() && r.contains(va)) return &r;
  return nullptr;
}

Result<void> AddressSpace::add_region(uint64 start, uint64 end, uint32 p, RegionKind kind) {
  if (start % PAGE_SIZE || end % PAGE_SIZE || start > end || end > USER_TOP) return Error::Invalid;
  Region *slot = nullptr;
  for (auto &r : regions_) {
    if (r.in_use() && start < r.end && r.start < end) return Error::Invalid; // overlap
    if (!r.in_use() && !slot) slot = &r;
  }
  if (!slot) return Error::TooBig;
  TRY(map_zeroed(start, end, p));
  *slot = Region{start, end, p, kind};
  return {};
}

Result<void> AddressSpace::map_zeroed(uint64 start, uint64 end, uint32 p) {
  uint64 flags = pte_flags_for(p);
  for (uint64 va = start; va < end; va += PAGE_SIZE) {
    auto pa = frames.alloc_zeroed(FrameKind::User);
    Result<Pte *> pte = pa.ok() ? pt_.find_or_create(VirtAddr(va)) : Result<Pte *>(pa.error());
    if (pte.is_error()) {
      if (pa.ok()) frames.unref(pa.value());
      unmap_range(start, va); // leave no half-built range behind
      return pte.error();
    }
    KASSERT(!pte.value()->valid());
    *pte.value() = Pte::make(pa.value(), flags);
  }
  return {};
}

// Past this many pages one full flush is cheaper than one flush per page.
constexpr uint64 FLUSH_ALL_THRESHOLD = 32;

void AddressSpace::unmap_range(uint64 start, uint64 end) {
  bool per_page = (end - start) / PAGE_SIZE <= FLUSH_ALL_THRESHOLD;
  pt_.for_each_leaf(VirtAddr(start), VirtAddr(end), [&](VirtAddr va, Pte &pte) {
    PhysAddr pa = pte.phys();
    pte = Pte{};
    if (per_page) hal::flush_page(va);
    frames.unref(pa);
  });
  if (!per_page) hal::flush_all();
}

Result<uint64> AddressSpace::resize_heap(long n, Growth growth) {
  uint64 old = size_;
  uint64 grown = old + static_cast<uint64>(n);
  Region *heap = nullptr;
  for (auto &r : regions_)
    if (r.kind == RegionKind::Heap) heap = &r;
  if (!heap) return Error::Invalid;
  if (n >= 0) {
    if (grown < old || grown > USER_TOP) return Error::NoMemory;
    // Regions never overlap: the break may not run into another region
    // (map_zeroed would find its pages mapped and panic). sbrk fails instead.
    for (auto &r : regions_)
      if (&r != heap && r.in_use() && page_round_up(old) < r.end && r.start < page_round_up(grown))
        return Error::NoMemory;
    if (growth == Growth::Eager) TRY(map_zeroed(page_round_up(old), page_round_up(grown), heap->prot));
  } else {
    // A shrink past address 0 wraps the break around: like xv6 (whose
    // uvmdealloc ignores a new size above the old one), change nothing and
    // report the old break. Newer xv6 usertests (lazy_copy) rely on it.
    if (grown > old) return old;
    if (grown < heap_start_) return Error::Invalid;
    unmap_range(page_round_up(grown), page_round_up(old));
    if (pt_.prune(VirtAddr(page_round_up(grown)), VirtAddr(page_round_up(old)))) hal::flush_all();
  }
  size_ = grown;
  heap->end = page_round_up(grown);
  return old;
}

namespace {

bool any_valid(const Pte *table) {
  for (int k = 0; k < PT_ENTRIES; k++)
    if (table[k].valid()) return true;
  return false;
}

// COW fork of one leaf table: the child maps the same frames. Writable pages
// lose W on both sides and carry the Cow mark; pages already marked stay so;
// read-only pages (text) are shared as they are. This loop runs once per
// page of every fork, so it is kept to a few instructions: one load, a flag
// flip, two stores and one atomic add.
struct ShareResult {
  uint64 pages = 0;
  bool parent_changed = false;
};
ShareResult share_table(Pte *src, Pte *dst, FrameTable::Batch batch) {
  ShareResult r;
  for (int k = 0; k < PT_ENTRIES; k++) {
    uint64 e = src[k].raw;
    if (!(e & pte::Valid)) continue;
    if (e & pte::Write) {
      // W set means Cow clear (never both), so one xor does W -> Cow.
      e ^= pte::Write | pte::Cow;
      src[k].raw = e;
      r.parent_changed = true;
    }
    batch.ref(Pte{e}.phys());
    dst[k].raw = e;
    r.pages++;
  }
  return r;
}

// Eager fork of one leaf table: every page copied into a new frame, private
// and (if it was writable or COW) writable in the child.
Result<uint64> copy_table(const Pte *src, Pte *dst) {
  uint64 want = 0;
  for (int k = 0; k < PT_ENTRIES; k++) want += src[k].valid();
  FrameTable::Supply supply(frames, FrameKind::User, want);
  uint64 copied = 0;
  for (int k = 0; k < PT_ENTRIES; k++) {
    Pte e = src[k];
    if (!e.valid()) continue;
    PhysAddr pa = supply.peek();
    if (!pa.value) return Error::NoMemory; // what was copied is mapped: destroy() frees it
    supply.take();
    copy_page(phys_to_ptr(pa), phys_to_ptr(e.phys()));
    uint64 flags = e.flags();
    if (flags & pte::Cow) flags = (flags & ~pte::Cow) | pte::Write;
    dst[k] = Pte::make(pa, flags);
    copied++;
  }
  return copied;
}

} // namespace

// fork. Walks the parent's tables one leaf table at a time (not one address
// at a time), so the cost per page is the short loop of share_table.
Result<void> AddressSpace::clone_into(AddressSpace &child, ForkMode mode) {
  for (int i = 0; i < MAX_REGIONS; i++) child.regions_[i] = regions_[i];
  child.heap_start_ = heap_start_;
  child.size_ = size_;

  bool parent_changed = false;
  Result<void> result;
  FrameTable::Batch batch(frames);
  pt_.for_each_leaf_table([&](VirtAddr base, Pte *src) {
    if (result.is_error() || !any_valid(src)) return;
    auto dst = child.pt_.find_or_create(base);
    if (dst.is_error()) {
      result = dst.error();
      return;
    }
    if (mode == ForkMode::Cow || mode == ForkMode::CowAhead) {
      ShareResult r = share_table(src, dst.value(), batch);
      parent_changed |= r.parent_changed;
      Counters::bump(counters.fork_shared, r.pages);
    } else {
      auto copied = copy_table(src, dst.value());
      if (copied.is_error())
        result = copied.error();
      else
        Counters::bump(counters.fork_copied, copied.value());
    }
  });
  // One full flush instead of one per page: fork changed the whole parent.
  if (parent_changed) hal::flush_all();
  cow_ahead_ = child.cow_ahead_ = mode == ForkMode::CowAhead; // the latest fork decides
  return result;
}

Result<void> AddressSpace::handle_fault(VirtAddr va, Access access) {
  if (!va.is_user()) return Error::BadAddress;
  Region *r = find_region(va.value);
  if (!r) return Error::BadAddress; // unmapped, the guard page, beyond the break
  uint32 need = access == Access::Write ? prot::Write : access == Access::Exec ? prot::Exec : prot::Read;
  if (!(r->prot & need)) return Error::Protection;

  VirtAddr page = va.page_base();
  Pte *pte = pt_.find(page);
  if (!pte || !pte->valid()) {
    // Demand zero: a page of an anonymous region not populated yet.
    TRY(map_zeroed(page.value, page.value + PAGE_SIZE, r->prot));
    return {};
  }
  if (access == Access::Write && !pte->has(pte::Write)) {
    if (!pte->has(pte::Cow)) return Error::Protection;
    TRY(resolve_cow(page, *pte));
    if (cow_ahead_) copy_ahead(page, *r);
    return {};
  }
  // The PTE already allows it: a stale translation on this hart.
  hal::flush_page(page);
  return {};
}

// ForkMode::CowAhead. A process that writes page after page of shared
// memory (a child filling its whole heap) pays one trap per page, and in
// QEMU a trap and its TLB flush cost several times the 4 KiB copy. After two
// write faults on consecutive pages, the pages that follow are resolved too:
// the run doubles at each fault of the streak, up to one leaf table (512
// pages, 2 MiB), never past the region or the leaf table of the fault, and
// ends at the first page that is not COW. One TLB flush covers the run.
//
// The price: pages the process never writes may be copied, at most one run
// (fewer pages than the streak already wrote). So copies are speculative
// only while memory is plentiful: a run never takes the last
// COW_AHEAD_RESERVE_DIVISOR-th of memory, and stops quietly if memory runs
// out (the fault itself is already resolved). Plain Cow never does this, so
// its copy counts stay exact.
constexpr uint64 COW_AHEAD_MAX = PT_ENTRIES;
constexpr uint64 COW_AHEAD_RESERVE_DIVISOR = 8;

void AddressSpace::copy_ahead(VirtAddr page, const Region &r) {
  if (page.value != streak_next_) { // not a continuation: start a new streak
    window_ = 1;
    streak_next_ = page.value + PAGE_SIZE;
    return;
  }
  window_ = window_ * 2 > COW_AHEAD_MAX ? COW_AHEAD_MAX : window_ * 2;
  uint64 start = page.value + PAGE_SIZE;
  uint64 end = page.value + window_ * PAGE_SIZE;
  uint64 table_end = (page.value | (PT_ENTRIES * PAGE_SIZE - 1)) + 1;
  if (end > table_end) end = table_end;
  if (end > r.end) end = r.end;
  streak_next_ = start;
  if (start >= end) return; // the fault was the last page of its table or region

  uint64 free = frames.free_count(), reserve = frames.total() / COW_AHEAD_RESERVE_DIVISOR;
  if (free <= reserve) return;
  uint64 pages = (end - start) / PAGE_SIZE;
  FrameTable::Supply supply(frames, FrameKind::User, pages < free - reserve ? pages : free - reserve);
  Pte *p = pt_.find(VirtAddr(start)); // the leaf table of `page`: the run's PTEs are p[0..pages)
  uint64 i = 0, copies = 0;
  for (; p && i < pages && p[i].has(pte::Valid | pte::Cow); i++) {
    PhysAddr spare = supply.peek();
    if (!spare.value) break; // the run's share of memory is used up
    auto done = resolve_cow(VirtAddr(start + i * PAGE_SIZE), p[i], CowCause::Ahead, spare);
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
  streak_next_ = start + i * PAGE_SIZE;
}

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

void AddressSpace::swap(AddressSpace &other) {
  std::swap(pt_, other.pt_);
  std::swap(regions_, other.regions_);
  std::swap(heap_start_, other.heap_start_);
  std::swap(size_, other.size_);
  std::swap(cow_ahead_, other.cow_ahead_);
  std::swap(streak_next_, other.streak_next_);
  std::swap(window_, other.window_);
}

} // namespace mm

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
  // Each leaf table drops the frames it maps when this was its last holder
  // (a table still shared with another address space keeps them).
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
      if (t[k].valid() && (va < start || va >= end)) return false;
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
    TRY(own_leaf_tables(page_round_up(grown), page_round_up(old)));
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

// A leaf table that fork is about to share: its writable pages lose W and
// carry the Cow mark (W set means Cow clear, so one xor flips both); pages
// already marked stay so; read-only pages (text) stay as they are. A table
// that is already shared has no writable entry, so nothing changes there.
// Counts the pages the table maps.
struct ShareResult {
  uint64 pages = 0;
  bool parent_changed = false;
};
ShareResult make_shareable(Pte *table) {
  // Steady state (a process that forks again and again) finds nothing to
  // change: one branch-free pass counts, a second flips only if needed.
  uint64 pages = 0, any = 0;
#pragma GCC unroll 8
  for (int k = 0; k < PT_ENTRIES; k++) {
    uint64 e = table[k].raw;
    pages += e & pte::Valid;
    any |= e;
  }
  if (any & pte::Write) {
    for (int k = 0; k < PT_ENTRIES; k++)
      if (table[k].raw & pte::Write) table[k].raw ^= pte::Write | pte::Cow;
  }
  return {pages, (any & pte::Write) != 0};
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
    PhysAddr pa = supply.next();
    if (!pa.value) return Error::NoMemory; // what was copied is mapped: destroy() frees it
    copy_page(phys_to_ptr(pa), phys_to_ptr(e.phys()));
    uint64 flags = e.flags();
    if (flags & pte::Cow) flags = (flags & ~pte::Cow) | pte::Write;
    dst[k] = Pte::make(pa, flags);
    copied++;
  }
  return copied;
}

} // namespace

// fork. Walks the parent's tables one leaf table at a time. Cow modes link
// the child to the parent's leaf tables (see page_table.h): the per-page
// work is one scan that write-protects the table, no reference per page.
// Eager copies every page into tables of the child's own.
Result<void> AddressSpace::clone_into(AddressSpace &child, ForkMode mode) {
  for (int i = 0; i < MAX_REGIONS; i++) child.regions_[i] = regions_[i];
  child.heap_start_ = heap_start_;
  child.size_ = size_;

  bool parent_changed = false;
  Result<void> result;
  pt_.for_each_leaf_table([&](VirtAddr base, Pte *src) {
    if (result.is_error()) return;
    if (mode == ForkMode::Cow || mode == ForkMode::CowAhead) {
      ShareResult r = make_shareable(src);
      parent_changed |= r.parent_changed;
      if (r.pages == 0) return;
      result = child.pt_.link_leaf_table(base, ptr_to_phys(src));
      if (result.is_error()) return;
      Counters::bump(counters.fork_shared, r.pages);
      Counters::bump(counters.table_shares);
    } else {
      if (!any_valid(src)) return;
      auto dst = child.pt_.find_or_create(base);
      if (dst.is_error()) {
        result = dst.error();
        return;
      }
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
    uint64 want = 1 + (cow_ahead_ ? plan_ahead(page, *r) : 0);
    uint64 done = 1;
    if (want == 1 && !PageTable::in_shared_leaf_table(pte))
      TRY(resolve_cow(page, *pte)); // the common case: one page, in a table of our own
    else
      done = TRY(resolve_run(page, pte, want));
    streak_next_ = page.value + done * PAGE_SIZE;
    return {};
  }
  // The PTE already allows it: a stale translation on this hart.
  hal::flush_page(page);
  return {};
}

// Resolve the Cow pages [page, page + want) for a write fault at `page`,
// one leaf table at a time. The fault's own page must be resolved (its
// error is the fault's); the pages after it are a copy-ahead run, best
// effort: the run stops at the first page that is not Cow, or when memory
// runs short. Returns how many pages were resolved.
Result<uint64> AddressSpace::resolve_run(VirtAddr page, Pte *pte, uint64 want) {
  uint64 done = 0;
  VirtAddr at = page;
  while (done < want) {
    uint64 room = PT_ENTRIES - vpn(at, 0); // entries left in this leaf table
    uint64 n = want - done < room ? want - done : room;
    CowCause cause = done == 0 ? CowCause::Fault : CowCause::Ahead;
    Pte *p = cause == CowCause::Fault ? pte : pt_.find(at);
    if (!p || !p->has(pte::Valid | pte::Cow)) break;
    uint64 got;
    bool shared = PageTable::in_shared_leaf_table(p);
    // A run that would end partway into a shared table stops before it: the
    // next fault there copies the table and the pages in one pass, where
    // entering now would leave the rest of the table to the slower path.
    if (shared && cause == CowCause::Ahead && n < room) break;
    if (shared) {
      auto copied = copy_shared_run(at, n, cause);
      if (copied.is_error()) {
        if (cause == CowCause::Fault) return copied.error();
        break;
      }
      got = copied.value();
    } else if (cause == CowCause::Fault) {
      TRY(resolve_cow(at, *p));
      got = n > 1 ? 1 + resolve_ahead(VirtAddr(at.value + PAGE_SIZE), n - 1) : 1;
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
  PhysAddr head = TRY(frames.alloc(FrameKind::User));
  FrameTable::Supply supply(frames, FrameKind::User, n - 1);
  const uint64 first = vpn(page, 0), end = first + n;
  uint64 copied = 0;
  FrameTable::Batch batch(frames);
  auto unshared = pt_.unshare_leaf_table(page, [&](int k, Pte e) {
    uint64 i = static_cast<uint64>(k);
    if (i == first + copied && i < end && e.has(pte::Valid | pte::Cow)) {
      PhysAddr fresh = copied == 0 ? head : supply.next();
      if (fresh.value) {
        copied++;
        return cow_copy(e, fresh);
      }
    }
    if (e.valid()) batch.ref(e.phys());
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

// ForkMode::CowAhead (the default). A process that writes page after page
// of shared memory (a child filling its whole heap) pays one trap per page,
// and in QEMU a trap and its TLB flush cost several times the 4 KiB copy.
// After two write faults on consecutive pages, the pages that follow are
// resolved too: the run doubles at each fault of the streak, up to
// COW_AHEAD_MAX pages (8 MiB), never past the region, and ends at the first
// page that is not Cow. One TLB flush covers each leaf table of the run.
//
// The price: pages the process never writes may be copied, at most one run,
// which is never longer than the streak that earned it. So copies are
// speculative only while memory is plentiful: a run never takes the last
// COW_AHEAD_RESERVE_DIVISOR-th of memory, and stops quietly if memory runs
// out (the fault itself is resolved regardless). Plain Cow never does this,
// so its copy counts stay exact.
constexpr uint64 COW_AHEAD_MAX = 4 * PT_ENTRIES;
constexpr uint64 COW_AHEAD_RESERVE_DIVISOR = 8;

// How many pages after `page` this fault should resolve too.
uint64 AddressSpace::plan_ahead(VirtAddr page, const Region &r) {
  if (page.value != streak_next_) { // not a continuation: start a new streak
    window_ = 1;
    return 0;
  }
  window_ = window_ * 2 > COW_AHEAD_MAX ? COW_AHEAD_MAX : window_ * 2;
  uint64 end = page.value + (1 + window_) * PAGE_SIZE;
  if (end > r.end) end = r.end;
  uint64 ahead = (end - page.value) / PAGE_SIZE - 1;
  uint64 free = frames.free_count(), reserve = frames.total() / COW_AHEAD_RESERVE_DIVISOR;
  uint64 spare = free > reserve ? free - reserve : 0;
  return ahead < spare ? ahead : spare;
}

// Resolve up to `pages` Cow pages from `start` on, all in one leaf table of
// this address space's own. Returns how many were resolved.
uint64 AddressSpace::resolve_ahead(VirtAddr start, uint64 pages) {
  FrameTable::Supply supply(frames, FrameKind::User, pages);
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

// User address spaces: mappings, the fault path, sbrk, mmap, fork.
#include "mm/address_space.h"

#include <utility>

#include "lib/print.h"
#include "lib/string.h"
#include "mm/cow.h"
#include "mm/frame.h"
#include "mm/hal.h"
#include "mm/object.h"
#include "mm/stats.h"

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

Result<void> AddressSpace::init() {
  pt_ = TRY(PageTable::create());
  maps_.clear();
  heap_start_ = size_ = 0;
  has_heap_ = false;
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
    if (grown < old || grown > USER_TOP) return Error::NoMemory;
    uint64 new_end = page_round_up(grown);
    if (new_end > old_end) {
      // The break may not run into another mapping: sbrk fails instead.
      Mapping *above = maps_.first_ending_after(VirtAddr(old_end));
      if (above && above->start.value < new_end) return Error::NoMemory;
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

// ---------------------------------------------------------------- fork

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

} // namespace

bool AddressSpace::shared_mapping_in(uint64 start, uint64 end) {
  for (Mapping *m = maps_.first_ending_after(VirtAddr(start)); m && m->start.value < end; m = m->next)
    if (m->shared) return true;
  return false;
}

bool AddressSpace::private_mapping_in(uint64 start, uint64 end) {
  for (Mapping *m = maps_.first_ending_after(VirtAddr(start)); m && m->start.value < end; m = m->next)
    if (!m->shared) return true;
  return false;
}

// fork. Walks the parent's tables one leaf table at a time. Cow modes link
// the child to the parent's leaf tables where every mapping in their 2 MiB
// is private (see page_table.h): the per-page work is one scan that
// write-protects the table, no reference per page. In a table that also
// maps MAP_SHARED pages only the private entries are copied: the child
// faults shared pages in from their object when it first touches them.
// Eager copies every private page into tables of the child's own.
Result<void> AddressSpace::clone_into(AddressSpace &child, ForkMode mode) {
  for (Mapping *m = maps_.first(); m; m = m->next) TRY(child.maps_.insert(*m));
  child.heap_start_ = heap_start_;
  child.size_ = size_;
  child.has_heap_ = has_heap_;

  bool cow = mode == ForkMode::Cow || mode == ForkMode::CowAhead;
  bool parent_changed = false;
  Result<void> result;
  pt_.for_each_leaf_table([&](VirtAddr base, Pte *src) {
    if (result.is_error()) return;
    uint64 span_end = base.value + PT_ENTRIES * PAGE_SIZE;
    bool has_shared = shared_mapping_in(base.value, span_end);
    if (cow && !has_shared) {
      ShareResult r = make_shareable(src);
      parent_changed |= r.parent_changed;
      if (r.pages == 0) return;
      result = child.pt_.link_leaf_table(base, ptr_to_phys(src));
      if (result.is_error()) return;
      Counters::bump(counters.fork_shared, r.pages);
      Counters::bump(counters.table_shares);
      return;
    }
    // Nothing private in this 2 MiB: the child faults every page in.
    if (!any_valid(src) || !private_mapping_in(base.value, span_end)) return;
    Pte *dst = nullptr; // the child's table, made at its first entry
    uint64 want = 0; // eager: at most one frame per page the table maps
    if (!cow)
      for (int k = 0; k < PT_ENTRIES; k++) want += src[k].valid();
    FrameTable::Supply supply(frames, FrameKind::Anon, want);
    Mapping *m = maps_.first_ending_after(base);
    for (int k = 0; k < PT_ENTRIES; k++) {
      Pte e = src[k];
      if (!e.valid()) continue;
      VirtAddr va(base.value + k * PAGE_SIZE);
      while (m && m->end <= va) m = m->next;
      KASSERT(m && m->contains(va));
      // A MAP_SHARED page is not copied at all: the child's first touch
      // finds it in the object (as Linux does), so fork costs nothing per
      // shared page.
      if (m->shared) continue;
      if (!dst) {
        auto t = child.pt_.find_or_create(base);
        if (t.is_error()) {
          result = t.error();
          return;
        }
        dst = t.value();
      }
      if (cow) {
        // Private: copy-on-write.
        if (e.has(pte::Write)) {
          src[k].raw ^= pte::Write | pte::Cow;
          e = src[k];
          parent_changed = true;
        }
        frames.ref(e.phys());
        dst[k] = e;
        Counters::bump(counters.fork_shared);
        continue;
      }
      // Eager: a copy of the page, private and (if it was writable or
      // Cow) writable in the child.
      PhysAddr pa = supply.next();
      if (!pa.value) {
        result = Error::NoMemory; // what was copied is mapped: destroy() frees it
        return;
      }
      dst[k] = cow_copy(e, pa);
      if (!e.has(pte::Write) && !e.has(pte::Cow)) dst[k] = Pte::make(pa, e.flags());
      Counters::bump(counters.fork_copied);
    }
  });
  // One full flush instead of one per page: fork changed the whole parent.
  if (parent_changed) hal::flush_all();
  cow_ahead_ = child.cow_ahead_ = mode == ForkMode::CowAhead; // the latest fork decides
  return result;
}

// ---------------------------------------------------------------- faults

Result<void> AddressSpace::handle_fault(VirtAddr va, Access access) {
  if (!va.is_user()) return Error::BadAddress;
  Mapping *m = maps_.find(va);
  if (!m) return Error::BadAddress; // unmapped, the guard page, beyond the break
  uint32 need = access == Access::Write ? prot::Write : access == Access::Exec ? prot::Exec : prot::Read;
  if (!(m->prot & need)) return Error::Protection;

  VirtAddr page = va.page_base();
  Pte *pte = pt_.find(page);
  if (!pte || !pte->valid()) return fault_in(*m, page, access);
  if (access == Access::Write && !pte->has(pte::Write)) {
    if (m->shared) {
      // The first store into a shared page since it was mapped: it may now
      // differ from the file. (Fork never shares a table with shared
      // mappings, and mapping one unshares its table: this one is ours.)
      KASSERT(!PageTable::in_shared_leaf_table(pte));
      if (frames.kind(pte->phys()) == FrameKind::File) set_page_dirty(pte->phys());
      *pte = Pte::make(pte->phys(), pte->flags() | pte::Write);
      return {};
    }
    if (!pte->has(pte::Cow)) return Error::Protection;
    uint64 want = 1 + (cow_ahead_ ? plan_ahead(page, *m) : 0);
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
      Pte copy = cow_copy(Pte::make(cached, pte_flags_for(m.prot)), frame); // the one page copy
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
uint64 AddressSpace::plan_ahead(VirtAddr page, const Mapping &m) {
  if (page.value != streak_next_) { // not a continuation: start a new streak
    window_ = 1;
    return 0;
  }
  window_ = window_ * 2 > COW_AHEAD_MAX ? COW_AHEAD_MAX : window_ * 2;
  uint64 end = page.value + (1 + window_) * PAGE_SIZE;
  if (end > m.end.value) end = m.end.value;
  uint64 ahead = (end - page.value) / PAGE_SIZE - 1;
  uint64 free = frames.free_count(), reserve = frames.total() / COW_AHEAD_RESERVE_DIVISOR;
  uint64 spare = free > reserve ? free - reserve : 0;
  return ahead < spare ? ahead : spare;
}

// Resolve up to `pages` Cow pages from `start` on, all in one leaf table of
// this address space's own. Returns how many were resolved.
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

AddressSpace::Residency AddressSpace::residency(const Mapping &m) const {
  Residency r;
  pt_.for_each_leaf(m.start, m.end, [&](VirtAddr, Pte &pte) {
    if (!frames.contains(pte.phys())) return;
    r.resident++;
    bool shared = frames.refcount(pte.phys()) > 1 || PageTable::in_shared_leaf_table(&pte) ||
                  frames.kind(pte.phys()) == FrameKind::Zero;
    if (shared)
      r.shared++;
    else
      r.private_++;
  });
  return r;
}

void AddressSpace::swap(AddressSpace &other) {
  std::swap(pt_, other.pt_);
  maps_.swap(other.maps_);
  std::swap(heap_start_, other.heap_start_);
  std::swap(size_, other.size_);
  std::swap(has_heap_, other.has_heap_);
  std::swap(cow_ahead_, other.cow_ahead_);
  std::swap(streak_next_, other.streak_next_);
  std::swap(window_, other.window_);
}

} // namespace mm

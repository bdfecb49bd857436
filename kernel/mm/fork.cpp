// fork: AddressSpace::clone_into and its helpers. The fork mode decides how
// private pages reach the child (shared copy-on-write, or copied now) and
// which fault policy both sides use afterwards (copy_ahead.h).
#include "mm/address_space.h"

#include "mm/cow.h"
#include "mm/frame.h"
#include "mm/hal.h"
#include "mm/stats.h"
#include "mm/swap.h"

namespace mm {

namespace {

bool any_valid(const Pte *table) {
  for (int k = 0; k < PT_ENTRIES; k++)
    if (table[k].in_use()) return true;
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
    pages += (e & (pte::Valid | pte::Swap)) != 0; // present, or in swap
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
      if (!e.in_use()) continue;
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
      if (e.is_swap()) {
        // In swap: the child's entry names the same slot (in either mode:
        // the page comes back shared, and copy-on-write from there).
        swap::dup(e.swap_slot());
        dst[k] = e;
        Counters::bump(counters.fork_shared);
        continue;
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
      dst[k] = cow_copy(e, pa, va);
      if (!e.has(pte::Write) && !e.has(pte::Cow)) dst[k] = Pte::make(pa, e.flags());
      Counters::bump(counters.fork_copied);
    }
  });
  // One full flush instead of one per page: fork changed the whole parent.
  if (parent_changed) hal::flush_all();
  // The fork mode selects the fault policy of both sides; the latest fork
  // decides.
  copy_ahead_.set_enabled(mode == ForkMode::CowAhead);
  child.copy_ahead_.set_enabled(mode == ForkMode::CowAhead);
  return result;
}

} // namespace mm

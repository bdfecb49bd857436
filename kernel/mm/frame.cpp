// The frame table. See frame.h for the invariants.
#include "mm/frame.h"

#include "mm/hal.h"

#include <memory>

#include "lib/cpu.h"
#include "lib/print.h"
#include "lib/string.h"
#include "mm/stats.h"

namespace mm {

FrameTable frames;
Counters counters;
uint64 direct_map_base = 0;

void FrameTable::init(PhysAddr start, PhysAddr end) {
  start = PhysAddr(page_round_up(start.value));
  end = PhysAddr(page_round_down(end.value));
  uint64 n = (end.value - start.value) / PAGE_SIZE;
  // The records for all frames sit at the start of the range; the frames
  // they describe follow.
  uint64 meta_pages = page_round_up(n * sizeof(Frame)) / PAGE_SIZE;
  KASSERT(n > meta_pages);
  frames_ = phys_to_ptr<Frame>(start);
  first_ = start + meta_pages * PAGE_SIZE;
  end_ = end;
  nframes_ = n - meta_pages;
  for (uint64 i = 0; i < nframes_; i++) std::construct_at(&frames_[i]);
  for (auto &l : lists_) {
    l.head = kNone;
    l.count = 0;
  }
  nfree_.store(0);
  fail_after_.store(-1);
  // Hand each hart's list one contiguous stretch. Push from the top down so
  // allocation starts at low addresses.
  for (uint64 i = nframes_; i-- > 0;) {
    FreeList &l = lists_[i * NCPU / nframes_];
    frames_[i].next_free = l.head;
    l.head = static_cast<uint32>(i);
    l.count++;
  }
  nfree_.store(nframes_);
}

Frame &FrameTable::frame(PhysAddr pa) const {
  KASSERT(contains(pa));
  return frames_[index_of(pa)];
}

Result<PhysAddr> FrameTable::alloc(FrameKind kind) {
  PhysAddr pa;
  if (alloc_many(kind, &pa, 1) == 0) return Error::NoMemory;
  return pa;
}

uint64 FrameTable::alloc_many(FrameKind kind, PhysAddr *out, uint64 n) {
  // Deterministic out-of-memory for tests: at most `left` more frames.
  long left = fail_after_.load(std::memory_order_relaxed);
  while (left >= 0) {
    long grant = static_cast<long>(n) < left ? static_cast<long>(n) : left;
    if (fail_after_.compare_exchange_weak(left, left - grant)) {
      n = static_cast<uint64>(grant);
      break;
    }
  }
  uint64 got = take_free(kind, out, n);
  // Out of free frames: let the page cache give back clean pages it alone
  // holds, then take again.
  if (got < n && reclaimer_ && reclaimer_(n - got) > 0) got += take_free(kind, out + got, n - got);
  Counters::bump(counters.frames_allocated, got);
  return got;
}

uint64 FrameTable::take_free(FrameKind kind, PhysAddr *out, uint64 n) {
  uint64 got = 0;
  cpu::push_off();
  int me = cpu::id();
  // Our own list first; when it runs dry, take from the next one that is not.
  for (int k = 0; k < NCPU && got < n; k++) {
    FreeList &l = lists_[(me + k) % NCPU];
    SpinGuard guard(l.lock);
    uint64 taken = 0;
    while (got < n && l.head != kNone) {
      uint32 index = l.head;
      Frame &f = frames_[index];
      l.head = f.next_free;
      // Still under the list lock, so that an audit holding every list
      // lock sees each frame either free and listed or allocated and owned.
      KASSERT(f.count.load(std::memory_order_relaxed) == 0);
      f.kind.store(kind, std::memory_order_relaxed);
      f.flags.store(0, std::memory_order_relaxed);
      f.object.store(nullptr, std::memory_order_relaxed);
      f.count.store(1, std::memory_order_relaxed);
      out[got++] = frame_at(index);
      taken++;
    }
    l.count -= static_cast<uint32>(taken);
    nfree_.fetch_sub(taken, std::memory_order_relaxed);
  }
  cpu::pop_off();
  return got;
}

Result<PhysAddr> FrameTable::alloc_zeroed(FrameKind kind) {
  PhysAddr pa = TRY(alloc(kind));
  zero_page(phys_to_ptr(pa));
  return pa;
}

// The slow half of unref(): the last reference went (or there was none).
void FrameTable::last_unref(PhysAddr pa, uint64 before) {
  KASSERT(contains(pa));
  if (before == 0) panic("unref: frame %p is already free", reinterpret_cast<void *>(pa.value));
  if (kind(pa) == FrameKind::PageTable && hal::page_table_live(pa))
    panic("unref: page table %p is freed while a hart translates through it", reinterpret_cast<void *>(pa.value));
  push_free(static_cast<uint32>(index_of(pa)));
}

void FrameTable::push_free(uint32 index) {
  cpu::push_off();
  FreeList &l = lists_[cpu::id() % NCPU];
  {
    SpinGuard guard(l.lock);
    frames_[index].kind.store(FrameKind::Free, std::memory_order_relaxed);
    frames_[index].next_free = l.head;
    l.head = index;
    l.count++;
    nfree_.fetch_add(1, std::memory_order_relaxed);
  }
  cpu::pop_off();
}

FrameKind FrameTable::kind(PhysAddr pa) const { return frame(pa).kind.load(std::memory_order_relaxed); }

void FrameTable::lock_all() {
  for (auto &l : lists_) l.lock.lock();
}

void FrameTable::unlock_all() {
  for (int i = NCPU - 1; i >= 0; i--) lists_[i].lock.unlock();
}

uint64 FrameTable::count_free_lists() const {
  uint64 n = 0;
  for (auto &l : lists_)
    for (uint32 i = l.head; i != kNone; i = frames_[i].next_free) n++;
  return n;
}

} // namespace mm

// Memory objects and the page cache (see object.h).
//
// The cache is one hash table of chains threaded through the frame records
// (Frame::next_free, unused while a frame is allocated), keyed by (object,
// page index). Chains are short: BUCKETS is a quarter of the frames of a
// 128 MiB machine. A striped set of spinlocks protects the chains and the
// Cached/Busy flags; a page's count is atomic and needs no lock, except that
// "only the cache holds it" can only be relied on under its bucket's lock
// (new holds are only ever taken there, by a lookup).
#include "mm/object.h"

#include "lib/print.h"
#include "lib/string.h"
#include "mm/hal.h"
#include "mm/mapping.h"
#include "mm/shmem.h"
#include "mm/slab.h"
#include "mm/stats.h"

namespace mm {

namespace {

constexpr uint64 BUCKETS = 8192;
constexpr uint64 LOCKS = 64;
constexpr uint32 NONE = 0xffffffff;

uint32 heads[BUCKETS]; // first frame index of each chain, or NONE
Spinlock locks[LOCKS];
PhysAddr zero;
std::atomic<uint64> clock_hand{0};

uint64 bucket_of(const VmObject *o, uint64 index) {
  uint64 h = (reinterpret_cast<uint64>(o) >> 4) ^ (index * 0x9E3779B97F4A7C15UL);
  return (h ^ (h >> 31)) % BUCKETS;
}
Spinlock &lock_of(uint64 bucket) { return locks[bucket % LOCKS]; }

Frame &rec(uint32 i) { return frames.record(frames.frame_at(i)); }

// The chain entry for (o, index), or NONE. Bucket lock held.
uint32 chain_find(uint64 b, const VmObject *o, uint64 index) {
  for (uint32 i = heads[b]; i != NONE; i = rec(i).next_free) {
    Frame &f = rec(i);
    if (f.object.load(std::memory_order_relaxed) == o && f.index.load(std::memory_order_relaxed) == index)
      return i;
  }
  return NONE;
}

// Unlink frame i from bucket b's chain. Bucket lock held.
void chain_unlink(uint64 b, uint32 i) {
  uint32 *link = &heads[b];
  while (*link != i) {
    KASSERT(*link != NONE);
    link = &rec(*link).next_free;
  }
  *link = rec(i).next_free;
}

} // namespace

// Access to VmObject's private counters for the cache's free functions.
struct PageCacheAccess {
  static void added(VmObject *o, uint64 index) {
    o->pages_.fetch_add(1, std::memory_order_relaxed);
    uint64 lim = o->index_limit_.load(std::memory_order_relaxed);
    while (index + 1 > lim && !o->index_limit_.compare_exchange_weak(lim, index + 1)) {
    }
    Counters::bump(counters.cache_pages);
  }
  static void removed(VmObject *o, uint64 index) {
    o->pages_.fetch_sub(1, std::memory_order_relaxed);
    counters.cache_pages.fetch_sub(1, std::memory_order_relaxed);
    if (o->pager_) o->pager_->page_removed(index);
  }
};

namespace {

// Take page i (bucket b, lock held) out of the cache. Returns with the
// cache's hold still to be released by the caller (outside the lock).
void remove_locked(uint64 b, uint32 i) {
  Frame &f = rec(i);
  chain_unlink(b, i);
  uint32 old = f.flags.fetch_and(~(page_flag::Cached | page_flag::Dirty), std::memory_order_acq_rel);
  if (old & page_flag::Dirty) counters.cache_dirty.fetch_sub(1, std::memory_order_relaxed);
  PageCacheAccess::removed(f.object.load(std::memory_order_relaxed), f.index.load(std::memory_order_relaxed));
}

} // namespace

// ---------------------------------------------------------------- objects

void VmObject::init(Pager *pager, bool anonymous) {
  pager_ = pager;
  anonymous_ = anonymous;
  refs_.store(0);
  index_limit_.store(0);
  pages_.store(0);
  deny_write.store(0);
}

Result<VmObject *> VmObject::create_anonymous() { return shmem::create(); }

void VmObject::ref() {
  refs_.fetch_add(1, std::memory_order_relaxed);
  if (pager_) pager_->hold();
}

void VmObject::unref() {
  uint32 before = refs_.fetch_sub(1, std::memory_order_acq_rel);
  KASSERT(before >= 1);
  if (!anonymous_) {
    if (pager_) pager_->release(); // an inode's object lives as long as the inode entry
  } else if (before == 1) {
    shmem::destroy(this); // nobody maps it any more: pages and slots go
  }
}

uint64 VmObject::size() const { return pager_ ? pager_->data_size() : ~0UL; }

PhysAddr VmObject::find_page(uint64 index) {
  uint64 b = bucket_of(this, index);
  SpinGuard g(lock_of(b));
  for (;;) {
    uint32 i = chain_find(b, this, index);
    if (i == NONE) return PhysAddr();
    PhysAddr pa = frames.frame_at(i);
    Frame &f = rec(i);
    if (!(f.flags.load(std::memory_order_acquire) & page_flag::Busy)) {
      frames.hold(pa);
      return pa;
    }
    // Being read in by another fault: wait for it, then look again (the
    // read may have failed and taken the page out).
    hal::sleep(&f, lock_of(b));
  }
}

Result<PhysAddr> VmObject::get_page(uint64 index) {
  PhysAddr pa = find_page(index);
  if (pa.value) {
    Counters::bump(counters.cache_hits);
    return pa;
  }
  // A miss. Read it in under the pager's lock (see Pager::lock_io), looking
  // again once we have it: another fault may have read it meanwhile.
  bool took = pager_ && pager_->lock_io();
  Result<PhysAddr> r = fill_page(index);
  if (took) pager_->unlock_io();
  return r;
}

Result<PhysAddr> VmObject::fill_page(uint64 index) {
  for (;;) {
    PhysAddr pa = find_page(index);
    if (pa.value) {
      Counters::bump(counters.cache_hits);
      return pa;
    }
    // A new frame goes into the cache Busy, so that concurrent faults on
    // the page wait for this read instead of reading it again.
    PhysAddr fresh = TRY(frames.alloc(FrameKind::File));
    Frame &f = frames.record(fresh);
    f.object.store(this, std::memory_order_relaxed);
    f.index.store(static_cast<uint32>(index), std::memory_order_relaxed);
    f.flags.store(page_flag::Cached | page_flag::Busy, std::memory_order_relaxed);
    f.count.store(2 * HOLD, std::memory_order_relaxed); // the cache's hold and ours
    uint64 b = bucket_of(this, index);
    {
      SpinGuard g(lock_of(b));
      if (chain_find(b, this, index) != NONE) { // anonymous memory: another fault got there first
        f.flags.store(0);
        f.object.store(nullptr);
        f.count.store(HOLD);
        frames.release(fresh);
        continue;
      }
      f.next_free = heads[b];
      heads[b] = static_cast<uint32>(frames.index_of(fresh));
      PageCacheAccess::added(this, index);
      if (pager_) pager_->page_added(index);
    }
    Counters::bump(counters.cache_misses);

    Result<void> r;
    if (pager_)
      r = pager_->read_page(index, phys_to_ptr(fresh));
    else
      zero_page(phys_to_ptr(fresh));

    bool remove = r.is_error();
    {
      SpinGuard g(lock_of(b));
      if (remove) {
        remove_locked(b, static_cast<uint32>(frames.index_of(fresh)));
        f.flags.fetch_or(page_flag::Error);
      }
      f.flags.fetch_and(~page_flag::Busy, std::memory_order_release);
      hal::wake(&f);
    }
    if (remove) {
      frames.release(fresh); // the cache's hold
      frames.release(fresh); // ours
      return r.error();
    }
    return fresh;
  }
}

Result<void> VmObject::writeback(uint64 first, uint64 end) {
  uint64 limit = index_limit_.load(std::memory_order_acquire);
  if (end > limit) end = limit;
  if (!pager_) return {};
  for (uint64 index = first; index < end; index++) {
    PhysAddr pa = find_page(index);
    if (!pa.value) continue;
    Frame &f = frames.record(pa);
    Result<void> r;
    if (f.flags.load(std::memory_order_acquire) & page_flag::Dirty) {
      // Clean it first, so that a store racing with the write re-dirties
      // it; but a page still mapped stays dirty: its mappings may store
      // into it again without a fault. Clean, then look at the mappings,
      // in that order: a fault maps the page (hold_to_map) before it marks
      // it dirty, so either we see its mapping here and keep the page
      // dirty, or its mark comes after our clear and stays. (Looking first
      // would let a fault map the page writable between the look and the
      // clear: a clean page, mapped writable, whose later stores never
      // reach the file.) seq_cst on both sides for that.
      if (f.flags.fetch_and(~page_flag::Dirty, std::memory_order_seq_cst) & page_flag::Dirty)
        counters.cache_dirty.fetch_sub(1, std::memory_order_relaxed);
      if (frames.mapcount(pa, std::memory_order_seq_cst) != 0) set_page_dirty(pa);
      r = pager_->write_page(index, phys_to_ptr(pa));
      if (r.is_error()) set_page_dirty(pa);
      if (r.ok()) Counters::bump(counters.cache_writebacks);
    }
    frames.release(pa);
    if (r.is_error()) return r.error();
  }
  return {};
}

void VmObject::drop_pages(uint64 first) {
  uint64 limit = index_limit_.load(std::memory_order_acquire);
  for (uint64 index = first; index < limit && pages_.load(std::memory_order_relaxed) > 0; index++) {
    uint64 b = bucket_of(this, index);
    PhysAddr pa;
    {
      SpinGuard g(lock_of(b));
      uint32 i;
      // A page being read in is waited for: its reader holds it.
      while ((i = chain_find(b, this, index)) != NONE && (rec(i).flags.load() & page_flag::Busy))
        hal::sleep(&rec(i), lock_of(b));
      if (i == NONE) continue;
      remove_locked(b, i);
      rec(i).object.store(nullptr);
      pa = frames.frame_at(i);
    }
    frames.release(pa);
  }
  if (first == 0) index_limit_.store(0);
}

bool VmObject::drop_if_idle(uint64 index, PhysAddr page, uint64 holds) {
  uint64 b = bucket_of(this, index);
  {
    SpinGuard g(lock_of(b));
    uint32 i = chain_find(b, this, index);
    if (i == NONE || frames.frame_at(i) != page) return false;
    Frame &f = rec(i);
    if (f.flags.load() != page_flag::Cached || f.count.load() != (1 + holds) * HOLD) return false;
    remove_locked(b, i);
    f.object.store(nullptr);
  }
  frames.release(page);
  return true;
}

bool VmObject::remove_page(uint64 index, PhysAddr page, uint64 max_holds) {
  uint64 b = bucket_of(this, index);
  {
    SpinGuard g(lock_of(b));
    uint32 i = chain_find(b, this, index);
    if (i == NONE || (page.value && frames.frame_at(i) != page)) return false;
    page = frames.frame_at(i);
    Frame &f = rec(i);
    if ((f.flags.load() & page_flag::Busy) || (f.count.load() >> 32) > max_holds) return false;
    remove_locked(b, i);
    f.object.store(nullptr);
    // Mapped: it lives on as the anonymous memory of its mappings (it keeps
    // its vpage). Under the lock, so that nobody sees it Anon and cached.
    if (f.count.load() & MAPS_MASK) f.kind.store(FrameKind::Anon, std::memory_order_release);
  }
  frames.release(page);
  return true;
}

Result<void> VmObject::insert_page(uint64 index, PhysAddr page, uint32 flags) {
  Frame &f = frames.record(page);
  uint64 b = bucket_of(this, index);
  SpinGuard g(lock_of(b));
  if (chain_find(b, this, index) != NONE) return Error::Busy;
  f.object.store(this, std::memory_order_relaxed);
  f.index.store(static_cast<uint32>(index), std::memory_order_relaxed);
  f.flags.store(flags | page_flag::Cached, std::memory_order_relaxed);
  f.count.fetch_add(HOLD, std::memory_order_relaxed);
  f.kind.store(FrameKind::File, std::memory_order_release);
  f.next_free = heads[b];
  heads[b] = static_cast<uint32>(frames.index_of(page));
  PageCacheAccess::added(this, index);
  if (flags & page_flag::Dirty) Counters::bump(counters.cache_dirty);
  return {};
}

void set_page_dirty(PhysAddr page) {
  // Only a cached page can be written back: one truncated out of the cache
  // while still mapped has nowhere to go.
  Frame &f = frames.record(page);
  if (!(f.flags.load(std::memory_order_acquire) & page_flag::Cached)) return;
  uint32 old = f.flags.fetch_or(page_flag::Dirty, std::memory_order_seq_cst); // (see writeback)
  if (!(old & page_flag::Dirty)) Counters::bump(counters.cache_dirty);
}

// ---------------------------------------------------------------- the cache

namespace page_cache {

void init() {
  for (auto &h : heads) h = NONE;
  clock_hand.store(0);
  counters.cache_pages.store(0);
  counters.cache_dirty.store(0);
  auto z = frames.alloc_zeroed(FrameKind::Zero);
  if (z.is_error()) panic("page cache: no zero frame");
  zero = z.value();
  // alloc gave it one mapping's worth of count; it is held, not mapped.
  frames.record(zero).count.store(HOLD);
  frames.set_reclaimer(reclaim);
}

PhysAddr zero_frame() { return zero; }

bool is_cached(PhysAddr page) {
  return frames.kind(page) == FrameKind::File &&
         (frames.record(page).flags.load(std::memory_order_acquire) & page_flag::Cached);
}

// A clock over the frame table: each call goes on where the last stopped,
// so pages are given back in turn, not always the same low ones first.
uint64 reclaim(uint64 want) {
  uint64 freed = 0, total = frames.total();
  for (uint64 scanned = 0; scanned < total && freed < want; scanned++) {
    uint64 i = clock_hand.fetch_add(1, std::memory_order_relaxed) % total;
    PhysAddr pa = frames.frame_at(i);
    Frame &f = frames.record(pa);
    // A quick look without the lock, then again under it: only the cache
    // holds the page (count == one hold), it is clean and not being read.
    if (f.kind.load(std::memory_order_relaxed) != FrameKind::File) continue;
    if (f.count.load(std::memory_order_relaxed) != HOLD) continue;
    if (f.flags.load(std::memory_order_relaxed) != page_flag::Cached) continue;
    VmObject *o = f.object.load(std::memory_order_relaxed);
    uint32 index = f.index.load(std::memory_order_relaxed);
    if (!o) continue;
    uint64 b = bucket_of(o, index);
    {
      SpinGuard g(lock_of(b));
      if (f.object.load() != o || f.index.load() != index || f.count.load() != HOLD ||
          f.flags.load() != page_flag::Cached)
        continue;
      remove_locked(b, static_cast<uint32>(i));
      f.object.store(nullptr);
    }
    frames.release(pa);
    freed++;
  }
  Counters::bump(counters.cache_dropped, freed);
  return freed;
}

} // namespace page_cache

// ---------------------------------------------------------------- mapping.h

void vm_object_ref(VmObject *o) {
  if (o) o->ref();
}
void vm_object_unref(VmObject *o) {
  if (o) o->unref();
}
void vm_object_deny_write(VmObject *o, int delta) {
  if (o) o->deny_write.fetch_add(delta, std::memory_order_relaxed);
}

} // namespace mm

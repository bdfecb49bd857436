// Shared anonymous memory (see shmem.h).
#include "mm/shmem.h"

#include <atomic>

#include "lib/print.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "mm/frame.h"
#include "mm/hal.h"
#include "mm/slab.h"
#include "mm/stats.h"
#include "mm/swap.h"

namespace mm::shmem {

namespace {

// The table from page index to slot: a root frame of pointers to leaf
// frames of 32-bit entries (slot + 1; 0: no slot), made as needed.
// 512 leaves of 1024 entries: the first 2 GiB of an object can go to swap
// (a page past that stays in memory).
constexpr uint64 LEAF_ENTRIES = PAGE_SIZE / sizeof(uint32);
constexpr uint64 ROOT_ENTRIES = PAGE_SIZE / sizeof(uint32 *);
constexpr uint64 MAX_INDEX = ROOT_ENTRIES * LEAF_ENTRIES;

std::atomic<uint64> held{0}; // slots named by every object's table

class Shmem final : public Pager {
public:
  VmObject object;

  Shmem() { object.init(this, true); }

  // No lock is needed to keep a page's contents still while it is read:
  // only reclaim writes slots, and only for a page that is in the cache
  // (so nobody is reading it in). Concurrent faults on one page wait for
  // one read (Busy).
  bool lock_io() override { return false; }
  void unlock_io() override {}
  Result<void> read_page(uint64 index, void *page) override;
  Result<void> write_page(uint64 index, const void *page) override;
  uint64 data_size() override { return ~0UL; }
  // (A mapping's reference is the object's own count: see destroy.)
  void hold() override {}
  void release() override {}

  // The slot of page `index`, or NO_SLOT.
  static constexpr uint64 NO_SLOT = ~0UL;
  uint64 slot(uint64 index);
  // Every slot and table frame goes. No other user is left.
  void discard();

private:
  // lock_ guards root_ and the entries; the frames are allocated outside
  // it (the frame table may take the page cache's locks to make room).
  Spinlock lock_{"shmem"};
  uint32 **root_ = nullptr; // lock_: a frame of ROOT_ENTRIES leaves, or null

  // The entry of `index` (lock_ held), or null if its leaf does not exist.
  uint32 *entry(uint64 index) {
    if (!root_ || index >= MAX_INDEX) return nullptr;
    uint32 *leaf = root_[index / LEAF_ENTRIES];
    return leaf ? &leaf[index % LEAF_ENTRIES] : nullptr;
  }
  // Make the root and the leaf of `index` exist (may allocate: no lock held).
  Result<void> make_path(uint64 index);
};

Slab<Shmem> objects("shmem");

Shmem &of(VmObject *o) { return *static_cast<Shmem *>(o->pager()); }

Result<void> Shmem::make_path(uint64 index) {
  if (index >= MAX_INDEX) return Error::NoSpace;
  for (;;) {
    {
      SpinGuard g(lock_);
      if (root_ && root_[index / LEAF_ENTRIES]) return {};
    }
    PhysAddr fresh = TRY(frames.alloc_zeroed(FrameKind::Kernel));
    bool used = false;
    {
      SpinGuard g(lock_);
      if (!root_) {
        root_ = phys_to_ptr<uint32 *>(fresh);
        used = true;
      } else if (!root_[index / LEAF_ENTRIES]) {
        root_[index / LEAF_ENTRIES] = phys_to_ptr<uint32>(fresh);
        used = true;
      }
    }
    if (!used) frames.unref(fresh);
  }
}

uint64 Shmem::slot(uint64 index) {
  SpinGuard g(lock_);
  uint32 *e = entry(index);
  return e && *e ? *e - 1 : NO_SLOT;
}

Result<void> Shmem::read_page(uint64 index, void *page) {
  uint64 s = slot(index);
  if (s == NO_SLOT) {
    zero_page(page); // never written out: still zeros, or never touched
    return {};
  }
  TRY(hal::swap_read(s, ptr_to_phys(page)));
  Counters::bump(counters.swap_ins);
  return {};
}

Result<void> Shmem::write_page(uint64 index, const void *page) {
  TRY(make_path(index));
  uint64 s = slot(index);
  bool fresh = s == NO_SLOT;
  if (fresh) s = TRY(swap::alloc());
  auto r = hal::swap_write(s, ptr_to_phys(page));
  if (r.is_error()) {
    if (fresh) swap::free(s);
    return r.error(); // the page stays dirty in memory (VmObject::writeback)
  }
  Counters::bump(counters.swap_outs);
  if (fresh) {
    bool lost;
    {
      SpinGuard g(lock_);
      uint32 *e = entry(index);
      lost = *e != 0; // (only reclaim writes pages, one at a time: cannot happen)
      if (!lost) *e = static_cast<uint32>(s + 1);
    }
    if (lost)
      swap::free(s);
    else
      held.fetch_add(1, std::memory_order_relaxed);
  }
  return {};
}

void Shmem::discard() {
  if (!root_) return;
  for (uint64 l = 0; l < ROOT_ENTRIES; l++) {
    uint32 *leaf = root_[l];
    if (!leaf) continue;
    for (uint64 k = 0; k < LEAF_ENTRIES; k++) {
      if (!leaf[k]) continue;
      swap::free(leaf[k] - 1);
      held.fetch_sub(1, std::memory_order_relaxed);
    }
    frames.unref(ptr_to_phys(leaf));
  }
  frames.unref(ptr_to_phys(root_));
  root_ = nullptr;
}

} // namespace

Result<VmObject *> create() {
  Shmem *s = TRY(objects.make());
  return &s->object;
}

void destroy(VmObject *o) {
  Shmem &s = of(o);
  o->drop_pages(0);
  s.discard();
  objects.destroy(&s);
}

uint64 slots_held() { return held.load(std::memory_order_relaxed); }

uint64 swapped(VmObject *o, uint64 first, uint64 end) {
  if (!o || !o->anonymous()) return 0;
  Shmem &s = of(o);
  uint64 n = 0;
  if (end > MAX_INDEX) end = MAX_INDEX;
  for (uint64 i = first; i < end; i++) {
    if (s.slot(i) == Shmem::NO_SLOT) continue;
    PhysAddr pa = o->find_page(i);
    if (pa.value)
      frames.release(pa);
    else
      n++;
  }
  return n;
}

} // namespace mm::shmem

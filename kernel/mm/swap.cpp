// Swap slots and the swap cache (see swap.h).
#include "mm/swap.h"

#include <atomic>

#include "lib/print.h"
#include "lib/spinlock.h"
#include "mm/frame.h"
#include "mm/hal.h"
#include "mm/stats.h"

namespace mm::swap {

namespace {

// The slot counts live in whole frames (the disk's size is only known at
// boot), 1024 slots a frame: 256 KiB for a 256 MiB disk.
constexpr uint64 SLOTS_PER_CHUNK = PAGE_SIZE / sizeof(std::atomic<uint32>);
constexpr uint64 MAX_CHUNKS = 1024; // 4 GiB of swap

std::atomic<uint32> *chunks[MAX_CHUNKS];
uint64 nslots = 0;
std::atomic<uint64> nfree{0};
// Free slots per chunk, so that the search for a free slot skips full
// chunks: a slot is found after looking at most at every chunk's count and
// one chunk's slots, not at every slot of a nearly full disk.
std::atomic<uint32> chunk_free[MAX_CHUNKS];

Spinlock slot_lock{"swap-slots"};
uint64 cursor = 0; // slot_lock: where the next search for a free slot starts

std::atomic<uint32> &cnt(uint64 s) {
  KASSERT(s < nslots);
  return chunks[s / SLOTS_PER_CHUNK][s % SLOTS_PER_CHUNK];
}

// One reference to slot s goes.
uint32 put(uint64 s) {
  uint32 before = cnt(s).fetch_sub(1, std::memory_order_acq_rel);
  KASSERT(before >= 1);
  if (before == 1) {
    chunk_free[s / SLOTS_PER_CHUNK].fetch_add(1, std::memory_order_relaxed);
    nfree.fetch_add(1, std::memory_order_relaxed);
  }
  return before - 1;
}

// The swap object's pager: its pages are the disk's slots.
class SwapPager final : public Pager {
public:
  // No lock keeps a slot still: its contents change only when it is free.
  bool lock_io() override { return false; }
  void unlock_io() override {}
  Result<void> read_page(uint64 slot, void *page) override {
    TRY(hal::swap_read(slot, ptr_to_phys(page)));
    Counters::bump(counters.swap_ins);
    return {};
  }
  Result<void> write_page(uint64 slot, const void *page) override {
    TRY(hal::swap_write(slot, ptr_to_phys(page)));
    Counters::bump(counters.swap_outs);
    return {};
  }
  uint64 data_size() override { return nslots * PAGE_SIZE; }
  void hold() override {}
  void release() override {}
  // A page in the cache holds its slot.
  void page_added(uint64 slot) override { cnt(slot).fetch_add(1, std::memory_order_relaxed); }
  void page_removed(uint64 slot) override { put(slot); }
};

SwapPager pager;
VmObject cache;

Result<uint64> alloc_slot() {
  SpinGuard g(slot_lock);
  if (nslots == 0) return Error::NoSpace;
  uint64 nchunks = (nslots + SLOTS_PER_CHUNK - 1) / SLOTS_PER_CHUNK;
  // Next fit: from the cursor on, the first chunk with a free slot, then
  // its first free slot at or after the cursor (wrapping once).
  for (uint64 k = 0; k <= nchunks; k++) {
    uint64 c = (cursor / SLOTS_PER_CHUNK + k) % nchunks;
    if (chunk_free[c].load(std::memory_order_relaxed) == 0) continue;
    uint64 first = c * SLOTS_PER_CHUNK, end = first + SLOTS_PER_CHUNK < nslots ? first + SLOTS_PER_CHUNK : nslots;
    uint64 from = k == 0 && cursor > first ? cursor : first;
    for (uint64 s = from; s < end; s++) {
      uint32 zero = 0;
      if (cnt(s).compare_exchange_strong(zero, 1, std::memory_order_acq_rel)) {
        cursor = s + 1 < nslots ? s + 1 : 0;
        chunk_free[c].fetch_sub(1, std::memory_order_relaxed);
        nfree.fetch_sub(1, std::memory_order_relaxed);
        return s;
      }
    }
  }
  return Error::NoSpace;
}

// Slot s has one reference left: if that is its cache page (no entry names
// it), the page stops being swap. Backs off if someone else holds the page
// (a reader, or reclaim: which will see to it itself).
void settle(uint64 s) { cache.remove_page(s, PhysAddr(), 1); }

} // namespace

Result<void> init() {
  nslots = 0;
  nfree.store(0);
  cursor = 0;
  cache.init(&pager);
  uint64 slots = hal::swap_pages();
  if (slots == 0) return {};
  if (slots > MAX_CHUNKS * SLOTS_PER_CHUNK) slots = MAX_CHUNKS * SLOTS_PER_CHUNK;
  uint64 n = (slots + SLOTS_PER_CHUNK - 1) / SLOTS_PER_CHUNK;
  for (uint64 i = 0; i < n; i++) {
    auto pa = frames.alloc_zeroed(FrameKind::Kernel);
    if (pa.is_error()) {
      while (i-- > 0) frames.unref(ptr_to_phys(chunks[i]));
      return pa.error();
    }
    chunks[i] = phys_to_ptr<std::atomic<uint32>>(pa.value());
  }
  for (uint64 i = 0; i < n; i++)
    chunk_free[i].store(static_cast<uint32>(i + 1 < n ? SLOTS_PER_CHUNK : slots - i * SLOTS_PER_CHUNK));
  nslots = slots;
  nfree.store(slots);
  return {};
}

bool enabled() { return nslots > 0; }
uint64 total_slots() { return nslots; }
uint64 free_slots() { return nfree.load(std::memory_order_relaxed); }
VmObject &object() { return cache; }

bool is_cache_page(PhysAddr page) {
  Frame &f = frames.record(page);
  return f.kind.load(std::memory_order_acquire) == FrameKind::File &&
         f.object.load(std::memory_order_acquire) == &cache;
}

uint64 slot_of(PhysAddr page) { return frames.record(page).index.load(std::memory_order_relaxed); }
uint32 count(uint64 slot) { return cnt(slot).load(std::memory_order_acquire); }

Result<uint64> add_to_cache(PhysAddr page) {
  if (!enabled()) return Error::NoSpace;
  KASSERT(frames.kind(page) == FrameKind::Anon);
  uint64 s = TRY(alloc_slot()); // its count: the cache's reference
  auto r = cache.insert_page(s, page, page_flag::Dirty);
  if (r.is_error()) { // (cannot happen: a free slot has no cache page)
    put(s);
    return r.error();
  }
  return s;
}

Result<uint64> alloc() { return alloc_slot(); }

void dup(uint64 slot) { cnt(slot).fetch_add(1, std::memory_order_relaxed); }

void free(uint64 slot) {
  if (put(slot) == 1) settle(slot);
}

Result<PhysAddr> get_page(uint64 slot) {
  PhysAddr hit = cache.find_page(slot);
  if (hit.value) {
    Counters::bump(counters.swap_cache_hits);
    return hit;
  }
  return cache.get_page(slot); // reads it (or finds it, if another fault just did)
}

void mapped(uint64 slot, PhysAddr page) {
  // The entry's reference goes; the cache's is left when nobody else
  // names the slot: the page is the slot's last copy that matters.
  if (put(slot) == 1) cache.remove_page(slot, page, 1);
}

bool write_out(PhysAddr page) {
  Frame &f = frames.record(page);
  bool freed = false;
  if (f.object.load(std::memory_order_acquire) == &cache && frames.mapcount(page) == 0) {
    uint64 s = f.index.load(std::memory_order_relaxed);
    if (count(s) > 1 && (f.flags.load(std::memory_order_acquire) & page_flag::Dirty)) {
      // Keep the slot while the write is in flight: were its last names to
      // go meanwhile, it must not be given to another page whose write
      // could then be overtaken by this one.
      dup(s);
      (void)cache.writeback(s, s + 1); // on failure it stays dirty and cached
      free(s);
    }
    // Clean and idle: the disk has it, the frame can go. No entry names the
    // slot any more (count 1, the cache's): it is not swap at all.
    freed = cache.drop_if_idle(s, page, 1) || (count(s) == 1 && cache.remove_page(s, page, 2));
  } else if (f.object.load(std::memory_order_acquire) == &cache) {
    // Mapped again (or reclaim could not reach one of its entries). If no
    // entry names the slot, it is plain anonymous memory again.
    uint64 s = f.index.load(std::memory_order_relaxed);
    if (count(s) == 1) cache.remove_page(s, page, 2);
  }
  frames.release(page);
  return freed;
}

} // namespace mm::swap

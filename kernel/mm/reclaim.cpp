// Reclaim (see reclaim.h).
#include "mm/reclaim.h"

#include <atomic>

#include "lib/print.h"
#include "lib/spinlock.h"
#include "mm/address_space.h"
#include "mm/frame.h"
#include "mm/hal.h"
#include "mm/object.h"
#include "mm/rmap.h"
#include "mm/stats.h"
#include "mm/swap.h"

namespace mm::reclaim {

namespace {

constexpr uint64 BATCH = 32;

uint64 low = 0, high = 0;
constexpr uint32 BACKOFF = 64;
std::atomic<uint32> backoff{0}; // balance() calls to skip (see there)
std::atomic<uint64> hand{0}; // the clock's hand: next frame to look at

// One reclaim at a time: a second would only fight the first for the same
// pages. Waiters sleep (hal::sleep) until it is done.
Spinlock gate_lock{"reclaim"};
bool running = false; // gate_lock

class Gate {
public:
  Gate() { enter(); }
  ~Gate() { leave(); }
  static void enter() {
    SpinGuard g(gate_lock);
    while (running) hal::sleep(&running, gate_lock);
    running = true;
  }
  static void leave() {
    SpinGuard g(gate_lock);
    running = false;
    hal::wake(&running);
  }
};

// Whether frame f may be worth a visit: a page some entry maps (anonymous,
// a swap-cache page, a file page), or a swap-cache page nobody maps that is
// still dirty. A quick look without locks; the visit checks again.
bool candidate(Frame &f) {
  FrameKind kind = f.kind.load(std::memory_order_relaxed);
  uint64 count = f.count.load(std::memory_order_relaxed);
  uint32 flags = f.flags.load(std::memory_order_relaxed);
  // (Anonymous pages need a free slot: with swap full, looking at them only
  // costs reverse-map walks.)
  if (kind == FrameKind::Anon) return swap::free_slots() > 0 && (count & MAPS_MASK) != 0;
  if (kind != FrameKind::File || (flags & page_flag::Busy) || !(flags & page_flag::Cached)) return false;
  if (f.object.load(std::memory_order_relaxed) == &swap::object()) return true;
  return (count & MAPS_MASK) != 0;
}

// A batch on its way out.
struct Batch {
  PhysAddr pages[BATCH];
  uint64 n = 0;
  bool referenced[BATCH] = {};
  bool held[BATCH] = {};      // we hold the frame (taken at its first entry)
  bool skip[BATCH] = {};      // cannot go: no swap left, no backing store
  VmObject *object[BATCH] = {}; // a file page's object, referenced by us
  uint64 index[BATCH] = {};
  bool aged = false; // some A bit was cleared (and no shootdown followed)
};

// Phase 1: test and clear the referenced bits.
void age(Batch &b) {
  rmap::walk(b.pages, b.n, [&](uint64 i, rmap::Entry e) {
    uint64 old = __atomic_fetch_and(&e.pte.raw, ~pte::Accessed, __ATOMIC_RELAXED);
    if (old & pte::Accessed) b.referenced[i] = true;
  });
}

// The first entry of page i found, under its address space's lock, so the
// page cannot change identity now: decide how it goes, and hold it.
void adopt(Batch &b, uint64 i, rmap::Entry e) {
  PhysAddr pa = b.pages[i];
  Frame &f = frames.record(pa);
  FrameKind kind = f.kind.load(std::memory_order_acquire);
  VmObject *o = f.object.load(std::memory_order_acquire);
  if (kind == FrameKind::Anon) {
    if (swap::add_to_cache(pa).is_error()) {
      b.skip[i] = true; // swap is full
      return;
    }
  } else if (o != &swap::object()) {
    Mapping *m = e.as.find_region(e.va.value);
    if (!m || !m->object || m->object->anonymous()) {
      b.skip[i] = true; // shared anonymous memory: nowhere to put it
      return;
    }
    o->ref(); // keeps the object (and the inode) until the page is written
    b.object[i] = o;
    b.index[i] = f.index.load(std::memory_order_relaxed);
  }
  frames.hold(pa);
  b.held[i] = true;
}

// Phase 2: take every entry away from the pages that were not referenced.
void unmap(Batch &b) {
  rmap::walk(b.pages, b.n, [&](uint64 i, rmap::Entry e) {
    if (b.referenced[i] || b.skip[i]) return;
    if (!b.held[i]) adopt(b, i, e);
    if (b.skip[i]) return;
    PhysAddr pa = b.pages[i];
    Pte now;
    if (b.object[i]) {
      now = Pte{}; // a file page: the next touch faults it in again
    } else {
      uint64 slot = swap::slot_of(pa);
      swap::dup(slot); // before the entry names it
      now = Pte::make_swap(slot);
    }
    // Exchange, not store: another hart running this address space may be
    // setting A or D in the entry right now.
    Pte old{__atomic_exchange_n(&e.pte.raw, now.raw, __ATOMIC_SEQ_CST)};
    KASSERT(old.valid() && old.phys() == pa);
    if (b.object[i] && old.has(pte::Write | pte::Dirty)) set_page_dirty(pa);
    frames.unref(pa); // not the last reference: we hold it
    Counters::bump(counters.reclaim_unmapped);
  });
}

// Phase 3 (after the shootdown): write and free.
uint64 write_out(Batch &b) {
  uint64 freed = 0;
  for (uint64 i = 0; i < b.n; i++) {
    PhysAddr pa = b.pages[i];
    if (!b.held[i] && !b.referenced[i] && !b.skip[i] && swap::is_cache_page(pa)) {
      // A swap-cache page no entry maps (its process exited, or an earlier
      // write failed): hold it through the cache, which checks it is still
      // the slot's page, and write or drop it.
      PhysAddr p = swap::object().find_page(swap::slot_of(pa));
      if (p == pa) {
        freed += swap::write_out(pa);
        continue;
      }
      if (p.value) frames.release(p);
    }
    if (!b.held[i]) continue;
    VmObject *o = b.object[i];
    if (!o) {
      freed += swap::write_out(pa); // releases our hold
      continue;
    }
    if (frames.mapcount(pa) == 0 && (frames.record(pa).flags.load() & page_flag::Dirty)) {
      if (o->writeback(b.index[i], b.index[i] + 1).ok()) Counters::bump(counters.reclaim_writebacks);
    }
    freed += o->drop_if_idle(b.index[i], pa, 1);
    frames.release(pa);
    o->unref(); // may sleep: the inode's last reference
  }
  return freed;
}

uint64 evict(Batch &b) {
  age(b);
  bool any = false, aged = false;
  for (uint64 i = 0; i < b.n; i++) {
    any |= !b.referenced[i];
    aged |= b.referenced[i];
  }
  b.aged = aged;
  if (!any) return 0;
  unmap(b);
  // No hart may go on using a translation of a page we are about to write
  // (a store after the write would be lost) or free.
  hal::shootdown();
  hal::flush_all();
  b.aged = false;
  return write_out(b);
}

} // namespace

void init() {
  uint64 total = frames.total();
  low = total / 64 > 32 ? total / 64 : 32;
  high = 2 * low;
  hand.store(0);
}

Pause::Pause() { Gate::enter(); }
Pause::~Pause() { Gate::leave(); }

uint64 low_watermark() { return low; }
uint64 high_watermark() { return high; }

uint64 run(uint64 want) {
  uint64 freed = page_cache::reclaim(want);
  if (freed >= want) return freed;
  uint64 free_before = frames.free_count();
  Gate gate;
  // Another reclaim may have run while we waited at the gate: what it freed
  // is ours to use too.
  if (frames.free_count() >= free_before + (want - freed)) return want;
  uint64 total = frames.total(), scanned = 0;
  // One turn of the clock: a page referenced since the hand last passed
  // keeps its frame (its bit is cleared; the next turn decides). Only when
  // a whole turn freed nothing (every page was in use) does a second turn
  // take pages whose bits this one cleared: otherwise a hot page could lose
  // its bit and its frame in one call, before its user could touch it again.
  auto more = [&] { return scanned < total || (freed == 0 && scanned < 2 * total); };
  bool unflushed = false;
  while (freed < want && more()) {
    Batch b;
    while (b.n < BATCH && more()) {
      uint64 i = hand.fetch_add(1, std::memory_order_relaxed) % total;
      scanned++;
      if (candidate(frames.record(frames.frame_at(i)))) b.pages[b.n++] = frames.frame_at(i);
    }
    if (b.n == 0) break;
    uint64 got = evict(b);
    unflushed = b.aged || (unflushed && got == 0);
    freed += got;
    Counters::bump(counters.reclaim_freed, got);
  }
  // A hart that still caches a translation whose A bit was cleared would
  // use the page without setting the bit again, and the page would look
  // cold when the hand comes back (QEMU's TLB holds thousands of entries):
  // every hart forgets them, once per call. (An eviction's shootdown, which
  // follows the aging of its own batch, covers the batches before it.)
  if (unflushed) {
    hal::shootdown();
    hal::flush_all();
  }
  Counters::bump(counters.reclaim_scans, scanned);
  return freed;
}

bool balance() {
  uint64 free = frames.free_count();
  if (free >= low) return true;
  // Without a swap disk only the page cache's clean pages can go, and the
  // frame allocator drops those itself when its lists run dry. (With
  // reclaim of mapped pages on every fault and no swap, the fuzzer hung on
  // 2 real harts; the cause is not found yet: see docs/swap.md.)
  if (!swap::enabled()) return true;
  // Memory exhausted and the last try freed nothing: a turn of the clock
  // costs a walk of every frame and a shootdown, and every fault of every
  // process would pay it. Try again only every BACKOFF-th time.
  if (exhausted() && backoff.load(std::memory_order_relaxed) > 0) {
    backoff.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  uint64 got = run(high - free);
  bool ok = !exhausted();
  backoff.store(!ok && got == 0 ? BACKOFF : 0, std::memory_order_relaxed);
  return ok;
}

// (A sixteenth of memory: an eager sbrk step, 256 pages, may fail with a
// few hundred frames still free.)
bool short_of_frames() { return frames.free_count() < high + frames.total() / 16; }

bool exhausted() { return swap::free_slots() == 0 && frames.free_count() < high; }

} // namespace mm::reclaim

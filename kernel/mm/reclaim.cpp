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
// Below this many free frames the front hand runs ahead of need (see
// pre_age): a quarter of memory.
uint64 aging = 0;
constexpr uint32 BACKOFF = 64;
std::atomic<uint32> backoff{0}; // balance() calls to skip (see there)

// The clock's two hands, as positions in the frame table that only grow
// (position % total is the frame). The front hand clears referenced bits;
// the back hand, at least `spread` frames behind it, judges: a page whose
// bits are still clear was not used while the hands moved that far. A
// one-handed clock clears and judges in one pass, so when memory first
// fills (every page touched since it came, none ever aged) it cannot tell
// a page used a thousand times from one used once.
//   back <= front <= back + total. Written under the gate; read without it
//   (relaxed) only to decide whether to take it.
std::atomic<uint64> front{0};
std::atomic<uint64> back{0};
uint64 spread = 0;   // half of memory (Linux keeps a similar inactive list)
uint64 flushed = 0;  // gate: front's position when every hart last flushed
                     // its TLB; a frame the front hand passed before it has
                     // its A bit set again by any later use

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
  // Enter only if nobody is in (for work that can as well be skipped).
  static bool try_enter() {
    SpinGuard g(gate_lock);
    if (running) return false;
    running = true;
    return true;
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
};

// Every hart forgets its translations, so that any later use of a page the
// front hand has aged sets its A bit again (QEMU's TLB holds thousands of
// entries; a hart that kept one would use the page without a trace).
void flush_everywhere() {
  hal::shootdown();
  hal::flush_all();
  flushed = front.load(std::memory_order_relaxed);
}

// The front hand: clear the referenced bits of the pages in the frames up
// to position `to`. Returns the frames it passed.
uint64 age_until(uint64 to) {
  uint64 total = frames.total(), passed = 0;
  while (front.load(std::memory_order_relaxed) < to) {
    PhysAddr pages[rmap::MAX_BATCH];
    uint64 n = 0;
    for (uint64 f = front.load(std::memory_order_relaxed); n < rmap::MAX_BATCH && f < to; f++, passed++) {
      PhysAddr pa = frames.frame_at(f % total);
      if (candidate(frames.record(pa))) pages[n++] = pa;
      front.store(f + 1, std::memory_order_relaxed);
    }
    rmap::walk(pages, n, [](uint64, rmap::Entry e) {
      __atomic_fetch_and(&e.pte.raw, ~pte::Accessed, __ATOMIC_RELAXED);
    });
  }
  return passed;
}

// Phase 1 (the back hand): which pages were used since the front hand
// cleared their bits.
void test(Batch &b) {
  rmap::walk(b.pages, b.n, [&](uint64 i, rmap::Entry e) {
    if (__atomic_load_n(&e.pte.raw, __ATOMIC_RELAXED) & pte::Accessed) b.referenced[i] = true;
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
    if (!m || !m->object || (m->object->anonymous() && swap::free_slots() == 0)) {
      b.skip[i] = true; // shared anonymous memory needs swap (if it has no slot yet)
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
  test(b);
  bool any = false;
  for (uint64 i = 0; i < b.n; i++) any |= !b.referenced[i];
  if (!any) return 0;
  unmap(b);
  // No hart may go on using a translation of a page we are about to write
  // (a store after the write would be lost) or free.
  flush_everywhere();
  return write_out(b);
}

} // namespace

void init() {
  uint64 total = frames.total();
  low = total / 64 > 32 ? total / 64 : 32;
  high = 2 * low;
  aging = total / 4 > 2 * high ? total / 4 : 2 * high;
  spread = total / 2;
  front.store(0);
  back.store(0);
  flushed = 0;
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
  uint64 total = frames.total(), scanned = 0, aged = 0;
  // Two turns of the back hand at most. In the first, a page used since the
  // front hand passed keeps its frame. A second is needed only when every
  // page was in use: the front hand, moving with the back one, has cleared
  // their bits by then, and the back hand takes them in its order.
  while (freed < want && scanned < 2 * total) {
    Batch b;
    uint64 from = back.load(std::memory_order_relaxed), at = from;
    for (; b.n < BATCH && scanned < 2 * total; at++, scanned++) {
      PhysAddr pa = frames.frame_at(at % total);
      if (candidate(frames.record(pa))) b.pages[b.n++] = pa;
    }
    back.store(at, std::memory_order_relaxed);
    // The front hand stays `spread` ahead, and what it cleared must be seen
    // cleared by every hart before the back hand may judge it.
    if (front.load(std::memory_order_relaxed) < at + spread) aged += age_until(at + spread);
    if (flushed < at) flush_everywhere();
    if (b.n == 0) continue;
    uint64 got = evict(b);
    freed += got;
    Counters::bump(counters.reclaim_freed, got);
  }
  // Pages aged since the last flush: every hart forgets them, once per call.
  if (flushed < front.load(std::memory_order_relaxed)) flush_everywhere();
  Counters::bump(counters.reclaim_scans, scanned + aged);
  return freed;
}

void age(uint64 frames_ahead) {
  Gate gate;
  uint64 to = back.load(std::memory_order_relaxed) + frames_ahead;
  uint64 limit = back.load(std::memory_order_relaxed) + frames.total();
  Counters::bump(counters.reclaim_scans, age_until(to < limit ? to : limit));
  if (flushed < front.load(std::memory_order_relaxed)) flush_everywhere();
}

namespace {

// Free frames between `aging` and the low watermark: the front hand runs a
// whole turn ahead of the back hand by the time they are gone, in steps of
// a sixteenth of a turn, so that when the back hand first judges, every
// page's bit was cleared long enough ago for the pages in use to have set
// it again. (Without it, the first reclaim clears and judges in one call:
// nothing has run in between, and it takes whatever it meets first.)
void pre_age(uint64 free) {
  uint64 total = frames.total();
  uint64 target = free <= low ? total : total - total * (free - low) / (aging - low);
  uint64 lead = front.load(std::memory_order_relaxed) - back.load(std::memory_order_relaxed);
  if (lead + total / 16 > target) return;
  if (!Gate::try_enter()) return; // a reclaim is running: its front hand moves
  uint64 to = back.load(std::memory_order_relaxed) + target;
  Counters::bump(counters.reclaim_scans, age_until(to));
  if (flushed < front.load(std::memory_order_relaxed)) flush_everywhere();
  Gate::leave();
}

// Memory is plentiful again: what the front hand learnt is stale (the pages
// it aged may all have been used, freed and reused since). Start the next
// time memory fills from nothing, so that pre_age gives every frame the
// same time between its aging and its judgement. (Kept, an old lead left
// the back hand to judge frames aged at once before, and the working-set
// benchmark, run after the thrash one in the same boot, lost 526 hot pages.)
void forget() {
  if (front.load(std::memory_order_relaxed) == back.load(std::memory_order_relaxed)) return;
  if (!Gate::try_enter()) return;
  front.store(back.load(std::memory_order_relaxed), std::memory_order_relaxed);
  flushed = back.load(std::memory_order_relaxed); // nothing aged is flushed yet
  Gate::leave();
}

} // namespace

bool balance() {
  uint64 free = frames.free_count();
  if (free >= aging) {
    forget();
    return true;
  }
  // Without a swap disk only file pages could go, and once anonymous memory
  // fills the machine those are the program text every process runs:
  // evicting them turns out-of-memory into a livelock (each fault evicts,
  // with a shootdown, what the next fault needs: cowtest oom on 4 harts
  // ran for minutes) where the faulting process should simply fail. So
  // without swap only the page cache's clean, unmapped pages go, and the
  // frame allocator drops those itself when its lists run dry.
  if (!swap::enabled()) return true;
  if (free >= low) {
    pre_age(free);
    return true;
  }
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

bool swap_reserved() { return swap::free_slots() <= low; }

bool exhausted() { return swap::free_slots() == 0 && frames.free_count() < high; }

} // namespace mm::reclaim

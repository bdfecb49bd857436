// The frame table: one record per 4 KiB physical frame.
//
// A frame's count has two halves, kept in one 64-bit atomic so that exactly
// one releaser sees the whole count reach zero:
//   maps  (low 32 bits)  leaf page-table entries that map the frame, over all
//                        address spaces, a leaf table shared by fork counting
//                        once; for a PageTable frame, the entries (or roots)
//                        that point at the table
//   holds (high 32 bits) every other holder: the page cache's own hold on a
//                        cached page, a kernel user's temporary hold (read()
//                        copying out of a cached page), the zero frame's
//                        permanent hold
// The frame is free again when both are zero.
//
// Invariants (checked by vmaudit):
//  - A free frame has count 0 and sits on exactly one free list.
//  - Anon, File and Zero frames: maps equals the leaf entries that map them.
//  - A File frame in the page cache (PageFlag::Cached) has holds >= 1.
//  - A PageTable frame is referenced by exactly one parent entry per sharer.
//  - free_count() equals the number of frames on the free lists.
//
// Counts are per-frame atomics, so sharing and unsharing a frame takes no
// lock. Free frames live on one list per hart, each with its own lock; a
// hart whose list runs dry steals from the others. No global lock.
#pragma once

#include <atomic>

#include "kernel/param.h"
#include "lib/print.h"
#include "lib/result.h"
#include "lib/spinlock.h"
#include "mm/addr.h"

namespace mm {

class VmObject;

enum class FrameKind : uint32 {
  Free = 0,
  Kernel,    // kernel data: pipe buffers, disk rings, slab objects, ...
  PageTable, // a page of a page table
  Anon,      // private anonymous memory (heap, stack, bss, private copies)
  File,      // a page of a memory object (an inode's, or shared anonymous)
  Zero,      // the one shared zero frame: never written, never freed
};

// Flags of a File frame (Frame::flags).
namespace page_flag {
constexpr uint32 Cached = 1u << 0; // in the page cache's hash (object, index)
constexpr uint32 Busy = 1u << 1;   // being read from disk: wait before use
constexpr uint32 Dirty = 1u << 2;  // newer than the disk (a MAP_SHARED store)
constexpr uint32 Error = 1u << 3;  // the read failed
} // namespace page_flag

constexpr uint64 HOLD = 1UL << 32; // one hold, in Frame::count
constexpr uint64 MAPS_MASK = HOLD - 1;

struct Frame {
  std::atomic<uint64> count{0}; // maps | holds << 32 (see above)
  std::atomic<FrameKind> kind{FrameKind::Free};
  uint32 next_free = 0;   // free frames: the next free frame; cached pages: the next in the hash chain
  uint32 audit_count = 0; // scratch for vmaudit: mappings seen
  std::atomic<uint32> flags{0}; // page_flag:: bits (File frames)
  // File frames: whose page, and which. Changed under the page-cache bucket
  // lock; atomic because reclaim takes a first look without it.
  std::atomic<uint32> index{0};
  // Anon frames, and swap-cache pages (swap.h): the virtual page number at
  // which every entry that maps the frame lives. fork keeps addresses and
  // nothing moves a private page, so one number serves every address space
  // (the reverse map finds the entries by it). Set when the frame is made
  // for an address; atomic because reclaim reads it without a lock.
  std::atomic<uint32> vpage{0};
  std::atomic<VmObject *> object{nullptr};
};

class FrameTable {
public:
  // Manage the frames of [start, end). The table itself is carved from the
  // start of the range. Safe to call again (host tests): forgets all state.
  void init(PhysAddr start, PhysAddr end);

  // A frame with refs == 1. Contents are whatever was there before.
  Result<PhysAddr> alloc(FrameKind kind);
  // Same, filled with zeros.
  Result<PhysAddr> alloc_zeroed(FrameKind kind);
  // Up to n frames at once into out[0..n), each as alloc() makes it; returns
  // how many (fewer than n only when memory runs out). One lock round trip
  // for the lot, for loops that need many frames (eager fork, copy-ahead).
  uint64 alloc_many(FrameKind kind, PhysAddr *out, uint64 n);

  // One more mapping. Inline: fork calls it once per shared page.
  void ref(PhysAddr pa) { frames_[index_of(pa)].count.fetch_add(1, std::memory_order_relaxed); }
  // One mapping fewer; frees the frame when nothing holds it any more.
  // acq_rel: everything the other holders did to the frame happens before it
  // is reused by the next owner.
  void unref(PhysAddr pa) {
    uint64 before = frames_[index_of(pa)].count.fetch_sub(1, std::memory_order_acq_rel);
    if (before <= 1) last_unref(pa, before);
  }
  // A hold (see above), and its release.
  void hold(PhysAddr pa) { frames_[index_of(pa)].count.fetch_add(HOLD, std::memory_order_relaxed); }
  void release(PhysAddr pa) {
    uint64 before = frames_[index_of(pa)].count.fetch_sub(HOLD, std::memory_order_acq_rel);
    if (before <= HOLD) last_unref(pa, before == HOLD ? 1 : 0);
  }
  // A hold becomes a mapping (the fault path maps a page it was handed held).
  // seq_cst: a file page's writeback must see the mapping or the dirty mark
  // the fault sets next (VmObject::writeback).
  void hold_to_map(PhysAddr pa) { frames_[index_of(pa)].count.fetch_sub(HOLD - 1, std::memory_order_seq_cst); }
  // unref() for a frame whose contents hold references of their own (a leaf
  // page table shared by several address spaces): when this was the last
  // reference, before_free(pa) runs first, while the frame is still intact.
  template <typename F> void unref(PhysAddr pa, F &&before_free) {
    uint64 before = frames_[index_of(pa)].count.fetch_sub(1, std::memory_order_acq_rel);
    if (before > 1) return;
    if (before == 1) before_free(pa);
    last_unref(pa, before);
  }
  // All holders, mappings and holds. Inline: every COW fault asks it.
  uint64 refcount(PhysAddr pa) const {
    KASSERT(contains(pa));
    uint64 c = frames_[index_of(pa)].count.load(std::memory_order_acquire);
    return (c & MAPS_MASK) + (c >> 32);
  }
  uint32 mapcount(PhysAddr pa, std::memory_order order = std::memory_order_acquire) const {
    return static_cast<uint32>(frames_[index_of(pa)].count.load(order) & MAPS_MASK);
  }

  // For loops that touch every page of an address space (fork, exit): the
  // same ref/unref with the table's base held in registers, so the compiler
  // need not reload it after each atomic operation.
  class Batch {
  public:
    explicit Batch(FrameTable &t)
        : table_(t), records_(t.frames_), first_ppn_(t.first_.value >> PAGE_SHIFT) {}
    void ref(PhysAddr pa) { record(pa).count.fetch_add(1, std::memory_order_relaxed); }
    void unref(PhysAddr pa) {
      uint64 before = record(pa).count.fetch_sub(1, std::memory_order_acq_rel);
      if (before <= 1) table_.last_unref(pa, before);
    }

  private:
    Frame &record(PhysAddr pa) const { return records_[(pa.value >> PAGE_SHIFT) - first_ppn_]; }
    FrameTable &table_;
    Frame *records_;
    uint64 first_ppn_;
  };
  FrameKind kind(PhysAddr pa) const;
  // An Anon frame now belongs at va (see Frame::vpage).
  void set_vpage(PhysAddr pa, VirtAddr va) {
    frames_[index_of(pa)].vpage.store(static_cast<uint32>(va.value >> PAGE_SHIFT), std::memory_order_relaxed);
  }
  VirtAddr vpage(PhysAddr pa) const {
    return VirtAddr(static_cast<uint64>(frames_[index_of(pa)].vpage.load(std::memory_order_relaxed)) << PAGE_SHIFT);
  }

  // Frames for a loop that needs many (eager fork, copy-ahead), taken from
  // the allocator CHUNK at a time: one lock round trip per chunk, not per
  // frame. At most `limit` frames in all; the ones not taken go back when
  // the Supply goes out of scope.
  class Supply {
  public:
    static constexpr uint64 CHUNK = 64; // 512 bytes of kernel stack
    Supply(FrameTable &t, FrameKind kind, uint64 limit) : table_(t), kind_(kind), left_(limit) {}
    ~Supply() {
      for (; next_ < have_; next_++) table_.unref(buf_[next_]);
    }
    Supply(const Supply &) = delete;
    Supply &operator=(const Supply &) = delete;

    // The next frame, without taking it; a null PhysAddr when the limit is
    // reached or memory ran out.
    PhysAddr peek() {
      if (next_ == have_ && left_ > 0) refill();
      return next_ < have_ ? buf_[next_] : PhysAddr();
    }
    void take() { next_++; }
    // peek() and take() in one: the next frame, or a null PhysAddr.
    PhysAddr next() {
      if (next_ == have_ && left_ > 0) refill();
      return next_ < have_ ? buf_[next_++] : PhysAddr();
    }

  private:
    void refill() {
      have_ = table_.alloc_many(kind_, buf_, left_ < CHUNK ? left_ : CHUNK);
      next_ = 0;
      left_ = have_ ? left_ - have_ : 0; // a short chunk means memory ran out
    }
    FrameTable &table_;
    FrameKind kind_;
    uint64 left_;
    uint64 have_ = 0, next_ = 0;
    PhysAddr buf_[CHUNK]; // zeroed at construction: for runs, not single pages
  };

  bool contains(PhysAddr pa) const { return pa >= first_ && pa < end_; }
  uint64 total() const { return nframes_; }
  uint64 free_count() const { return nfree_.load(std::memory_order_relaxed); }
  uint64 index_of(PhysAddr pa) const { return (pa.value - first_.value) >> PAGE_SHIFT; }
  PhysAddr frame_at(uint64 index) const { return first_ + (index << PAGE_SHIFT); }

  // Called when the free lists run dry, before alloc() gives up: frees up to
  // `want` frames that only a cache holds (the page cache's clean pages) and
  // returns how many. Must not sleep, allocate, or take a lock that is held
  // around an allocation.
  using Reclaimer = uint64 (*)(uint64 want);
  void set_reclaimer(Reclaimer r) { reclaimer_ = r; }

  // Test hook: make alloc() fail once `n` more allocations have succeeded
  // (n < 0: never). Lets tests drive out-of-memory paths deterministically.
  void fail_after(long n) { fail_after_.store(n); }

  // For the audit only: hold every free-list lock (no frame can then be
  // allocated or freed), the record of a frame, and the number of frames
  // actually on the free lists (call with the locks held).
  void lock_all();
  void unlock_all();
  Frame &record(PhysAddr pa) const { return frame(pa); }
  uint64 count_free_lists() const;

private:
  Frame &frame(PhysAddr pa) const;
  void last_unref(PhysAddr pa, uint64 before);
  void push_free(uint32 index);
  uint64 take_free(FrameKind kind, PhysAddr *out, uint64 n);

  static constexpr uint32 kNone = 0xffffffff;
  struct alignas(64) FreeList {
    Spinlock lock{"freelist"};
    uint32 head = kNone;
    uint32 count = 0;
  };

  Frame *frames_ = nullptr;
  uint64 nframes_ = 0;
  PhysAddr first_, end_;
  std::atomic<uint64> nfree_{0};
  std::atomic<long> fail_after_{-1};
  Reclaimer reclaimer_ = nullptr;
  FreeList lists_[NCPU];
};

extern FrameTable frames;

} // namespace mm

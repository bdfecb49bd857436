// The frame table: one record per 4 KiB physical frame.
//
// Invariants (checked by vmaudit):
//  - A free frame has refs == 0 and sits on exactly one free list.
//  - An allocated frame has refs >= 1. For a User frame, refs equals the
//    number of leaf PTEs that map it, over all address spaces. A PageTable
//    frame is referenced by exactly one parent entry (or is a root).
//  - free_count() equals the number of frames on the free lists.
//
// Reference counts are per-frame atomics, so sharing and unsharing a frame
// takes no lock. Free frames live on one list per hart, each with its own
// lock; a hart whose list runs dry steals from the others. No global lock.
#pragma once

#include <atomic>

#include "kernel/param.h"
#include "lib/print.h"
#include "lib/result.h"
#include "lib/spinlock.h"
#include "mm/addr.h"

namespace mm {

enum class FrameKind : uint32 {
  Free = 0,
  Kernel,    // kernel data: pipe buffers, disk rings, ...
  PageTable, // a page of a page table
  User,      // user memory, mapped by one or more PTEs
};

struct Frame {
  std::atomic<uint32> refs{0};
  std::atomic<FrameKind> kind{FrameKind::Free};
  uint32 next_free = 0;   // index of the next free frame (free frames only)
  uint32 audit_count = 0; // scratch for vmaudit: mappings seen
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

  // One more holder. Inline: fork calls it once per shared page.
  void ref(PhysAddr pa) { frames_[index_of(pa)].refs.fetch_add(1, std::memory_order_relaxed); }
  // One holder fewer; frees the frame at zero. acq_rel: everything the other
  // holders did to the frame happens before it is reused by the next owner.
  void unref(PhysAddr pa) {
    uint32 before = frames_[index_of(pa)].refs.fetch_sub(1, std::memory_order_acq_rel);
    if (before <= 1) last_unref(pa, before);
  }
  // unref() for a frame whose contents hold references of their own (a leaf
  // page table shared by several address spaces): when this was the last
  // reference, before_free(pa) runs first, while the frame is still intact.
  template <typename F> void unref(PhysAddr pa, F &&before_free) {
    uint32 before = frames_[index_of(pa)].refs.fetch_sub(1, std::memory_order_acq_rel);
    if (before > 1) return;
    if (before == 1) before_free(pa);
    last_unref(pa, before);
  }
  // Inline: every COW fault asks it once or twice.
  uint32 refcount(PhysAddr pa) const {
    KASSERT(contains(pa));
    return frames_[index_of(pa)].refs.load(std::memory_order_acquire);
  }

  // For loops that touch every page of an address space (fork, exit): the
  // same ref/unref with the table's base held in registers, so the compiler
  // need not reload it after each atomic operation.
  class Batch {
  public:
    explicit Batch(FrameTable &t)
        : table_(t), records_(t.frames_), first_ppn_(t.first_.value >> PAGE_SHIFT) {}
    void ref(PhysAddr pa) { record(pa).refs.fetch_add(1, std::memory_order_relaxed); }
    void unref(PhysAddr pa) {
      uint32 before = record(pa).refs.fetch_sub(1, std::memory_order_acq_rel);
      if (before <= 1) table_.last_unref(pa, before);
    }

  private:
    Frame &record(PhysAddr pa) const { return records_[(pa.value >> PAGE_SHIFT) - first_ppn_]; }
    FrameTable &table_;
    Frame *records_;
    uint64 first_ppn_;
  };
  FrameKind kind(PhysAddr pa) const;

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
  void last_unref(PhysAddr pa, uint32 before);
  void push_free(uint32 index);

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
  FreeList lists_[NCPU];
};

extern FrameTable frames;

} // namespace mm

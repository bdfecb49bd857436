// The kernel object allocator: caches of fixed-size objects carved from
// frames (FrameKind::Kernel), for mappings, memory objects and the like.
//
// Each cache has a name and an object size; objects are handed out from
// partly used frames first; a frame whose objects are all free again goes
// back to the frame table. No hidden allocation: a cache grows only inside
// alloc(), one frame at a time, and alloc() fails with NoMemory when the
// frame table does.
//
// Locking: one spinlock per cache, held only inside alloc() and free(). The
// frame table's locks nest inside it.
#pragma once

#include <new>
#include <utility>

#include "lib/result.h"
#include "lib/spinlock.h"
#include "lib/types.h"

namespace mm {

class SlabCache {
public:
  // object_size: at most a quarter of a page, rounded up to 16 bytes.
  SlabCache(const char *name, uint64 object_size);
  SlabCache(const SlabCache &) = delete;
  SlabCache &operator=(const SlabCache &) = delete;

  // Raw storage for one object (contents unspecified), or NoMemory.
  Result<void *> alloc();
  void free(void *obj);

  const char *name() const { return name_; }
  uint64 object_size() const { return size_; }
  uint64 in_use() const;      // objects allocated and not yet freed
  uint64 frames_held() const; // frames the cache holds now

  // Objects in one frame (after its header).
  uint64 per_frame() const { return per_frame_; }

  // Host tests: forget every frame (the frame table was re-initialised).
  void reset_for_tests();

private:
  struct SlabFrame; // header at the start of each frame (slab.cpp)
  const char *name_;
  uint64 size_;
  uint64 per_frame_ = 0;
  mutable Spinlock lock_;
  SlabFrame *partial_ = nullptr; // frames with at least one free object
  SlabFrame *full_ = nullptr;    // frames with none
  uint64 in_use_ = 0;
  uint64 frames_ = 0;
};

// Typed front end: construct and destroy T objects in a SlabCache.
template <typename T> class Slab {
  static_assert(alignof(T) <= 16, "slab objects are 16-byte aligned");

public:
  explicit Slab(const char *name) : cache_(name, sizeof(T)) {}
  template <typename... Args> Result<T *> make(Args &&...args) {
    void *p = TRY(cache_.alloc());
    return new (p) T(std::forward<Args>(args)...);
  }
  void destroy(T *obj) {
    obj->~T();
    cache_.free(obj);
  }
  SlabCache &cache() { return cache_; }

private:
  SlabCache cache_;
};

} // namespace mm

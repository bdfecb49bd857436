// The kernel object allocator (slab.h).
//
// A cache hands out objects of one size from frames it takes from the frame
// table (FrameKind::Kernel), through the direct map. Each frame starts with
// a header, SlabFrame; the objects follow, 16-byte aligned:
//
//   +-----------+----------+----------+-----+----------+---------+
//   | SlabFrame | object 0 | object 1 | ... | object N | (spare) |
//   +-----------+----------+----------+-----+----------+---------+
//   ^ frame start (page aligned)                   frame end ^
//
// Because the header is at the start of the frame, free() finds it by
// rounding the object's address down to a page: an object needs no header
// of its own.
//
// A free object holds, in its first 8 bytes, the next free object of the
// same frame (a singly-linked free list per frame). A frame is on exactly one
// of the cache's two doubly-linked lists:
//   partial_  at least one free object (alloc takes from the first one)
//   full_     no free object
// A frame whose objects are all free again goes back to the frame table at
// once: the cache holds no empty frame, so a cache nobody uses holds nothing.
#include "mm/slab.h"

#include "lib/print.h"
#include "mm/addr.h"
#include "mm/frame.h"

namespace mm {

namespace {
constexpr uint64 OBJECT_ALIGN = 16;
constexpr uint64 round_up(uint64 n, uint64 to) { return (n + to - 1) & ~(to - 1); }
// free() stores this in a free object's second word (objects are at least 16
// bytes), so a second free() of it is caught without walking the free list
// each time: only an object that carries the mark is looked up there.
constexpr uint64 FREE_MARK = 0xf4eef4eef4eef4eeUL;
} // namespace

// Every field is protected by the owning cache's lock_. 16-byte aligned, so
// its size is a multiple of 16 and the first object follows it directly.
struct alignas(16) SlabCache::SlabFrame {
  SlabCache *cache;       // owner: free() checks an object comes back home
  SlabFrame *prev, *next; // on partial_ or full_
  void *free;             // first free object, or nullptr (then on full_)
  uint32 used;            // objects handed out from this frame
  uint32 magic;           // FRAME_MAGIC while the frame belongs to a cache
  static constexpr uint32 FRAME_MAGIC = 0x51ab51ab;
};

SlabCache::SlabCache(const char *name, uint64 object_size)
    : name_(name), size_(round_up(object_size ? object_size : 1, OBJECT_ALIGN)), lock_(name) {
  static_assert(sizeof(SlabFrame) % OBJECT_ALIGN == 0);
  if (size_ > PAGE_SIZE / 4) panic("slab %s: object size %lu over a quarter of a page", name, object_size);
  per_frame_ = (PAGE_SIZE - sizeof(SlabFrame)) / size_;
}

namespace {

// Push and unlink on one of a cache's frame lists.
template <typename F> void list_push(F *&head, F *f) {
  f->prev = nullptr;
  f->next = head;
  if (head) head->prev = f;
  head = f;
}

template <typename F> void list_unlink(F *&head, F *f) {
  if (f->prev)
    f->prev->next = f->next;
  else
    head = f->next;
  if (f->next) f->next->prev = f->prev;
  f->prev = f->next = nullptr;
}

} // namespace

Result<void *> SlabCache::alloc() {
  SpinGuard g(lock_);
  SlabFrame *f = partial_;
  if (!f) {
    // Grow by one frame. The frame table's locks nest inside ours, so a
    // burst of allocators on an empty cache takes one frame, not one each.
    PhysAddr pa = TRY(frames.alloc(FrameKind::Kernel));
    auto *base = phys_to_ptr<uint8>(pa);
    f = reinterpret_cast<SlabFrame *>(base);
    f->cache = this;
    f->used = 0;
    f->magic = SlabFrame::FRAME_MAGIC;
    // Thread the free list through the objects, lowest address first.
    uint8 *obj = base + sizeof(SlabFrame);
    f->free = obj;
    for (uint64 i = 0; i + 1 < per_frame_; i++, obj += size_) *reinterpret_cast<void **>(obj) = obj + size_;
    *reinterpret_cast<void **>(obj) = nullptr;
    list_push(partial_, f);
    frames_++;
  }
  void *obj = f->free;
  f->free = *static_cast<void **>(obj);
  f->used++;
  in_use_++;
  if (!f->free) {
    // Last free object gone: the frame moves to full_.
    list_unlink(partial_, f);
    list_push(full_, f);
  }
  return obj;
}

void SlabCache::free(void *obj) {
  KASSERT(obj);
  auto addr = reinterpret_cast<uint64>(obj);
  auto *f = reinterpret_cast<SlabFrame *>(page_round_down(addr));
  uint64 off = addr - reinterpret_cast<uint64>(f);

  PhysAddr release; // the frame, if this emptied it: freed after the lock is dropped
  {
    SpinGuard g(lock_);
    if (f->magic != SlabFrame::FRAME_MAGIC || f->cache != this || off < sizeof(SlabFrame) ||
        (off - sizeof(SlabFrame)) % size_ != 0 || (off - sizeof(SlabFrame)) / size_ >= per_frame_)
      panic("slab %s: free of %p, not one of its objects", name_, obj);
    auto *words = static_cast<uint64 *>(obj);
    if (words[1] == FREE_MARK)
      for (void *p = f->free; p; p = *static_cast<void **>(p))
        if (p == obj) panic("slab %s: double free of %p", name_, obj);
    KASSERT(f->used > 0);
    words[1] = FREE_MARK;
    bool was_full = f->free == nullptr;
    *static_cast<void **>(obj) = f->free;
    f->free = obj;
    f->used--;
    in_use_--;
    if (f->used == 0) {
      list_unlink(was_full ? full_ : partial_, f);
      f->magic = 0; // a stale free() into this frame now panics
      frames_--;
      release = ptr_to_phys(f);
    } else if (was_full) {
      list_unlink(full_, f);
      list_push(partial_, f);
    }
  }
  if (release.value) frames.unref(release);
}

uint64 SlabCache::in_use() const {
  SpinGuard g(lock_);
  return in_use_;
}

uint64 SlabCache::frames_held() const {
  SpinGuard g(lock_);
  return frames_;
}

void SlabCache::reset_for_tests() {
  SpinGuard g(lock_);
  partial_ = full_ = nullptr;
  in_use_ = 0;
  frames_ = 0;
}

} // namespace mm

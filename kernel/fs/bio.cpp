// The buffer cache (see buf.h).
//
// All buffers sit on one doubly linked list ordered by last use: the head's
// `next` is the most recently released buffer, its `prev` the least. bget()
// looks a block up by walking the list and, on a miss, recycles the least
// recently used buffer with no holders. The cache spinlock protects the list,
// refcnt, dev and blockno; each buffer's sleep-lock protects valid and data.

#include "fs/buf.h"

#include "dev/virtio_blk.h"
#include "lib/print.h"
#include "lib/spinlock.h"

namespace {

class BufferCache {
public:
  void init() {
    head_.prev = head_.next = &head_;
    for (Buf &b : bufs_) push_front(&b);
  }

  // The buffer for (dev, blockno), with one more reference and its
  // sleep-lock held. Its data are valid only if b->valid.
  Buf *get(uint dev, uint blockno) {
    Buf *b = find_or_recycle(dev, blockno);
    // Sleep-locks are taken outside the spinlock: the holder may be
    // waiting for the disk.
    b->lock.acquire();
    return b;
  }

  void release(Buf *b) {
    if (!b->lock.holding()) panic("brelse: buffer not locked");
    b->lock.release();

    SpinGuard guard(lock_);
    b->refcnt--;
    if (b->refcnt == 0) {
      // Nobody holds it now: make it the most recently used.
      unlink(b);
      push_front(b);
    }
  }

  void pin(Buf *b) {
    SpinGuard guard(lock_);
    b->refcnt++;
  }

  void unpin(Buf *b) {
    SpinGuard guard(lock_);
    b->refcnt--;
  }

  void unpin_block(uint dev, uint blockno) {
    SpinGuard guard(lock_);
    Buf *b = lookup(dev, blockno);
    if (b == nullptr || b->refcnt == 0) panic("bunpin_block: block %u is not pinned", blockno);
    b->refcnt--;
  }

  void discard(uint dev, uint blockno) {
    SpinGuard guard(lock_);
    Buf *b = lookup(dev, blockno);
    // With no holders nobody has its sleep-lock, so `valid` may be changed
    // under the cache lock alone. A holder (bzero of a block being
    // reallocated as metadata) overwrites it anyway.
    if (b != nullptr && b->refcnt == 0) b->valid = false;
  }

private:
  // The cached buffer of (dev, blockno), or nullptr. Caller holds lock_.
  Buf *lookup(uint dev, uint blockno) {
    for (Buf *b = head_.next; b != &head_; b = b->next)
      if (b->dev == dev && b->blockno == blockno) return b;
    return nullptr;
  }

  Buf *find_or_recycle(uint dev, uint blockno) {
    SpinGuard guard(lock_);
    for (Buf *b = head_.next; b != &head_; b = b->next) {
      if (b->dev == dev && b->blockno == blockno) {
        b->refcnt++;
        return b;
      }
    }
    // Not cached: take the least recently used free buffer. refcnt == 0
    // means no process holds it and the log has not pinned it, so its
    // contents (already on disk, or never written) can be dropped.
    for (Buf *b = head_.prev; b != &head_; b = b->prev) {
      if (b->refcnt == 0) {
        b->dev = dev;
        b->blockno = blockno;
        b->valid = false;
        b->refcnt = 1;
        return b;
      }
    }
    panic("bget: no free buffers");
  }

  void unlink(Buf *b) {
    b->next->prev = b->prev;
    b->prev->next = b->next;
  }

  void push_front(Buf *b) {
    b->next = head_.next;
    b->prev = &head_;
    head_.next->prev = b;
    head_.next = b;
  }

  Spinlock lock_{"bcache"};
  Buf bufs_[NBUF];
  Buf head_; // list sentinel; its data is never used
};

BufferCache bcache;

} // namespace

void binit() { bcache.init(); }

Result<Buf *> bread(uint dev, uint blockno) {
  Buf *b = bcache.get(dev, blockno);
  if (!b->valid) {
    auto r = virtio_disk_rw(b, false);
    if (r.is_error()) {
      // The buffer stays invalid: the next bread() asks the disk again.
      brelse(b);
      return r.error();
    }
    b->valid = true;
  }
  return b;
}

Result<void> bwrite(Buf *b) {
  if (!b->lock.holding()) panic("bwrite: buffer not locked");
  return virtio_disk_rw(b, true);
}

void brelse(Buf *b) { bcache.release(b); }

void bpin(Buf *b) { bcache.pin(b); }

void bunpin(Buf *b) { bcache.unpin(b); }

void bunpin_block(uint dev, uint blockno) { bcache.unpin_block(dev, blockno); }

void bdiscard(uint dev, uint blockno) { bcache.discard(dev, blockno); }

// Memory objects and the page cache.
//
// A VmObject is something whose pages can be mapped: an inode's contents (the
// inode embeds its object, fs/fs.h) or anonymous shared memory (mmap with
// MAP_SHARED | MAP_ANONYMOUS, shmem.h: its pager is the swap disk). Private
// anonymous memory has no object: its pages live only in page tables.
//
// The page cache holds every object's resident pages, found by (object, page
// index) in one hash table. read(), write() and mappings all use the same
// frame for a file page, so there is one copy of it and everything is
// coherent. A cached page is a File frame with the Cached flag: the cache
// holds it (one hold, frame.h), each leaf entry mapping it counts in its
// maps. When frames run short the cache gives back clean pages that only it
// holds (reclaim()).
//
// Lock order (outermost first; also in proc/proc.h):
//   address space (Proc::vm_lock, a sleep lock)
//   -> inode sleep lock (the pager takes it to find blocks)
//   -> page-cache bucket spinlock -> frame-table free-list spinlocks
// A page being read in is Busy: the reader sleeps with no lock held but the
// address space's; others that find it wait for Busy to clear.
#pragma once

#include <atomic>

#include "lib/result.h"
#include "mm/addr.h"
#include "mm/frame.h"

namespace mm {

// Where an object's pages come from: fs implements it for inodes.
class Pager {
public:
  // Take the lock that keeps the object's contents still while a page is
  // read in (an inode's sleep lock), unless this thread holds it already;
  // returns whether it took it (then unlock_io() gives it back). A page is
  // only ever read in under this lock, so a holder of it never finds a page
  // Busy: it cannot wait for a reader that waits for it.
  virtual bool lock_io() = 0;
  virtual void unlock_io() = 0;
  // Fill the 4 KiB at `page` (a kernel address) with the contents of page
  // `index`: zeros past the end of the data. Called under lock_io. May sleep.
  virtual Result<void> read_page(uint64 index, void *page) = 0;
  // Write page `index` back to its place on disk (the part below size()).
  // May sleep.
  virtual Result<void> write_page(uint64 index, const void *page) = 0;
  // The size of the contents in bytes (a page wholly at or past it does not
  // exist: a mapping's access there is an error).
  virtual uint64 data_size() = 0;
  // A mapping starts / stops using the object: the inode gains / loses a
  // reference. release() may sleep (the inode may be freed).
  virtual void hold() = 0;
  virtual void release() = 0;
  // The cache took in / let go of page `index` (under the cache's bucket
  // lock: must not sleep or take a lock held around the cache). The swap
  // object counts its cached pages in its slots' counts (swap.h).
  virtual void page_added(uint64) {}
  virtual void page_removed(uint64) {}

protected:
  ~Pager() = default;
};

class VmObject {
public:
  VmObject() = default;
  VmObject(const VmObject &) = delete;
  VmObject &operator=(const VmObject &) = delete;

  // An object whose pages come from `pager` (an inode's: fs sets it up).
  // `anonymous`: shared anonymous memory (shmem.h), which goes away, pages
  // and all, with its last reference.
  void init(Pager *pager, bool anonymous = false);
  // Anonymous shared memory: pages start as zeros (shmem::create).
  static Result<VmObject *> create_anonymous();

  // References from mappings (mapping.h's vm_object_ref/unref call these).
  // unref() may sleep (an inode's last reference).
  void ref();
  void unref();
  bool anonymous() const { return anonymous_; }
  Pager *pager() const { return pager_; }
  // Bytes of data: the pager's size ("no end" for anonymous memory).
  uint64 size() const;

  // The page at `index`, held for the caller (FrameTable::hold; map it
  // with hold_to_map or let go with release). Found in the cache, else read
  // in by the pager or made zero. May sleep.
  Result<PhysAddr> get_page(uint64 index);
  // The cached page at `index`, held, or a null PhysAddr: never reads.
  PhysAddr find_page(uint64 index);

  // Write the dirty pages with index in [first, end) back through the pager.
  // A page no longer mapped anywhere becomes clean; one still mapped stays
  // dirty (a store may follow without a fault). May sleep.
  Result<void> writeback(uint64 first, uint64 end);
  // Take the pages with index >= first out of the cache (truncation, an
  // inode freed or recycled). A page still mapped stays with its mappings,
  // no longer cached. Dirty data is lost: write back first where it matters.
  // Never sleeps.
  void drop_pages(uint64 first);
  // Take page `index` out of the cache if it is `page`, clean, not Busy,
  // mapped nowhere and held by nobody but the cache and `holds` holds of
  // the caller's; then the cache's hold goes too. Returns whether it did
  // (the caller's holds are still to be released). Never sleeps.
  bool drop_if_idle(uint64 index, PhysAddr page, uint64 holds);
  // Take page `index` (`page`, or whichever it is if `page` is null) out of
  // the cache, dirty or not, if it is not Busy and held by at most
  // `max_holds` (the cache's included); a page still mapped becomes Anon.
  // The cache's hold goes. Returns whether it did. Never sleeps. The swap
  // cache uses it when a page stops being swap (swap.cpp).
  bool remove_page(uint64 index, PhysAddr page, uint64 max_holds);
  // Put `page`, a frame the caller made (count: the caller's mappings),
  // into the cache at `index` with the flags given (Cached is added): the
  // cache takes a hold. Fails with Busy if the index is cached already.
  Result<void> insert_page(uint64 index, PhysAddr page, uint32 flags);
  uint64 cached_pages() const { return pages_.load(std::memory_order_relaxed); }
  uint32 refs() const { return refs_.load(std::memory_order_relaxed); }

  // exec's mappings keep the program file from being written (ETXTBSY).
  std::atomic<int> deny_write{0};

private:
  friend struct PageCacheAccess;
  Result<PhysAddr> fill_page(uint64 index);
  std::atomic<uint32> refs_{0};        // mappings (and transient users)
  Pager *pager_ = nullptr;             // set once by init (null: not set up)
  bool anonymous_ = false;
  std::atomic<uint64> index_limit_{0}; // every cached page's index is below it
  std::atomic<uint64> pages_{0};       // pages in the cache now
};

// Mark a File frame dirty (a MAP_SHARED store).
void set_page_dirty(PhysAddr page);

namespace page_cache {
// Set up after frames.init(): empty hash, the zero frame, the reclaimer.
void init();
// The shared zero frame: never written, never freed. A load from anonymous
// memory never written maps it (read-only, Cow if the mapping is writable).
PhysAddr zero_frame();
// Give back up to `want` clean pages that only the cache holds; returns how
// many went. (The frame table calls it when its free lists run dry.)
uint64 reclaim(uint64 want);
// Whether `page` is in the cache now (the audit's question).
bool is_cached(PhysAddr page);
} // namespace page_cache

} // namespace mm

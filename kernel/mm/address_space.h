// A user address space: a page table plus the list of regions that say what
// may live where. Every page fault and every kernel access to user memory is
// resolved against the regions, so a new kind of backing (lazy zero pages,
// mapped files, swap) is a new case in one place, not a rewrite.
//
// Layout (xv6's): text at 0, data, one unmapped guard page, the stack, then
// the heap from the stack's top up to size() (the "break", moved by sbrk).
//
// Locking: an AddressSpace has no lock of its own. The owning process's
// vm_lock protects it (see proc/proc.h); host tests use it single-threaded or
// lock around it themselves.
#pragma once

#include "lib/result.h"
#include "mm/addr.h"
#include "mm/cow.h"
#include "mm/mapping.h"
#include "mm/page_table.h"

namespace mm {

enum class RegionKind : uint32 { None = 0, Text, Data, Stack, Heap };

struct Region {
  uint64 start = 0; // page aligned
  uint64 end = 0;   // page aligned, exclusive
  uint32 prot = 0;  // prot::Read | prot::Write | prot::Exec
  RegionKind kind = RegionKind::None;

  bool in_use() const { return kind != RegionKind::None; }
  bool contains(uint64 va) const { return va >= start && va < end; }
};

enum class Access { Read, Write, Exec };
enum class ForkMode : int { Cow = 0, Eager = 1, CowAhead = 2 };

class AddressSpace {
public:
  static constexpr int MAX_REGIONS = 8;

  // Allocate the root page table. An AddressSpace is empty (is_null) until then.
  Result<void> init();
  // Unmap every page (dropping one reference per frame) and free the tables.
  // The address space must not be in use by any hart (its satp switched
  // away): no TLB entry is flushed here.
  void destroy();
  bool is_null() const { return pt_.is_null(); }
  PageTable &page_table() { return pt_; }
  const PageTable &page_table() const { return pt_; }

  // Declare [start, end) with the given protection and map zeroed frames
  // there (eagerly). The region must not overlap another.
  Result<void> add_region(uint64 start, uint64 end, uint32 prot, RegionKind kind);
  Region *find_region(uint64 va);
  const Region *regions() const { return regions_; }

  // The heap: [heap_start, size). size() is xv6's p->sz.
  uint64 size() const { return size_; }
  uint64 heap_start() const { return heap_start_; }
  void set_heap_start(uint64 va) { heap_start_ = size_ = va; }
  // sbrk: move the break by n bytes. Growing maps zeroed frames now
  // (Growth::Eager) or only extends the heap region, so that each page is
  // made on its first touch by handle_fault's demand-zero path
  // (Growth::Lazy). Shrinking unmaps and releases. Returns the old break.
  // Cannot shrink below heap_start; a shrink past address 0 is ignored.
  enum class Growth { Eager, Lazy };
  Result<uint64> resize_heap(long n, Growth growth = Growth::Eager);

  // fork: give `child` (freshly init()ed) the same regions and contents.
  // Cow: share every frame; writable pages lose Write in both and gain the
  // Cow mark. Eager: copy every page now (text too, as a classic fork does).
  // CowAhead: as Cow, and both sides resolve runs of sequential write faults
  // ahead (see plan_ahead). On failure the child is left for the caller to
  // destroy, and the parent is still consistent.
  Result<void> clone_into(AddressSpace &child, ForkMode mode);

  // Resolve a fault (or a kernel access) at va. Ok means the access may now
  // be retried and will succeed. The single entry for copy-on-write: both the
  // trap handler and copy-out come here.
  Result<void> handle_fault(VirtAddr va, Access access);

  // The frame behind va, made ready for `access` (resolving COW for writes).
  Result<PhysAddr> resolve(VirtAddr va, Access access);

  // Exchange contents (exec commits its new image this way).
  void swap(AddressSpace &other);

private:
  Result<void> map_zeroed(uint64 start, uint64 end, uint32 prot);
  // Unmap the pages of a live address space and flush their translations.
  void unmap_range(uint64 start, uint64 end);
  Result<void> own_leaf_tables(uint64 start, uint64 end);
  Result<uint64> resolve_run(VirtAddr page, Pte *pte, uint64 want);
  Result<uint64> copy_shared_run(VirtAddr page, uint64 n, CowCause cause);
  uint64 plan_ahead(VirtAddr page, const Region &r);
  uint64 resolve_ahead(VirtAddr start, uint64 pages);

  PageTable pt_;
  Region regions_[MAX_REGIONS];
  uint64 heap_start_ = 0;
  uint64 size_ = 0;
  // ForkMode::CowAhead: where the next fault of a sequential run would be,
  // and how many pages the run resolves now.
  bool cow_ahead_ = false;
  uint64 streak_next_ = 0;
  uint64 window_ = 1;
};

// PTE flags for a user page of the given region protection.
uint64 pte_flags_for(uint32 prot);

} // namespace mm

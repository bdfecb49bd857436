// A user address space: a page table plus the mappings that say what may
// live where (mapping.h). Every page fault and every kernel access to user
// memory is resolved against the mappings, in one fault path:
//
//   find the mapping -> get the page (its object's, or anonymous zero)
//   -> copy it if this is a private write -> map it
//
// Policies sit at the edge and call into that path: the fork mode decides
// how fork hands pages to the child, and ForkMode::CowAhead adds a fault
// policy (copy_ahead.h) that asks the fault path to resolve runs of Cow
// pages for sequential writers.
//
// The code: address_space.cpp (set-up, mappings, sbrk, mmap, munmap,
// mprotect), fault.cpp (handle_fault and the fault path, Cow runs, resolve),
// fork.cpp (clone_into), copy_ahead.cpp (the copy-ahead policy).
//
// Layout (xv6's): text at 0, data, one unmapped guard page, the stack, then
// the heap from the stack's top up to size() (the "break", moved by sbrk).
// mmap places mappings top-down from the top of the user half.
//
// Locking: an AddressSpace has no lock of its own. The owning process's
// vm_lock (a sleep lock: a fault may wait for the disk) protects it, its
// page table and its mappings (see proc/proc.h, and object.h for the lock
// order); host tests use it single-threaded or lock around it themselves.
#pragma once

#include "lib/result.h"
#include "mm/addr.h"
#include "mm/copy_ahead.h"
#include "mm/cow.h"
#include "mm/mapping.h"
#include "mm/page_table.h"

namespace mm {

// exec's and the host tests' name for the kinds of mapping.
using RegionKind = MapKind;

enum class Access { Read, Write, Exec };
enum class ForkMode : int { Cow = 0, Eager = 1, CowAhead = 2 };

class AddressSpace {
public:
  AddressSpace() = default;
  AddressSpace(const AddressSpace &) = delete;
  AddressSpace &operator=(const AddressSpace &) = delete;

  // Allocate the root page table. An AddressSpace is empty (is_null) until then.
  Result<void> init();
  // Unmap every page, write back what MAP_SHARED mappings dirtied, let go of
  // every mapping (and so of objects and inodes: may sleep) and free the
  // tables. The address space must not be in use by any hart (its satp
  // switched away): no TLB entry is flushed here.
  void destroy();
  bool is_null() const { return pt_.is_null(); }
  PageTable &page_table() { return pt_; }
  const PageTable &page_table() const { return pt_; }
  MappingSet &mappings() { return maps_; }

  // Private anonymous memory [start, end) with frames mapped now (eagerly).
  // Kind Heap with start == end only records where the heap starts.
  Result<void> add_region(uint64 start, uint64 end, uint32 prot, MapKind kind);
  // A mapping with these fields; no page is mapped until first touched.
  Result<Mapping *> map(const Mapping &fields);
  Mapping *find_region(uint64 va) { return maps_.find(VirtAddr(va)); }

  // mmap: a mapping of len bytes (a page multiple) of `object` from page
  // pgoff (nullptr: anonymous), placed at addr if fixed (replacing what
  // was there) or where there is room (addr a hint). Returns its address.
  struct MapRequest {
    VirtAddr addr;
    uint64 len = 0;
    uint32 prot = 0;
    uint32 max_prot = prot::Read | prot::Write | prot::Exec; // what mprotect may grant later
    bool shared = false;
    bool fixed = false;
    VmObject *object = nullptr;
    uint64 pgoff = 0;
    MapKind kind = MapKind::Anon;
  };
  Result<VirtAddr> mmap(const MapRequest &req);
  // munmap / mprotect of [addr, addr + len): whole pages, addr aligned. A
  // mapping partly inside is split. mprotect needs the range fully mapped.
  Result<void> munmap(VirtAddr addr, uint64 len);
  Result<void> mprotect(VirtAddr addr, uint64 len, uint32 prot);

  // The heap: [heap_start, size). size() is xv6's p->sz.
  uint64 size() const { return size_; }
  uint64 heap_start() const { return heap_start_; }
  void set_heap_start(uint64 va) {
    heap_start_ = size_ = va;
    has_heap_ = true;
  }
  // sbrk: move the break by n bytes. Growing maps zeroed frames now
  // (Growth::Eager) or only extends the heap mapping, so that each page is
  // made on its first touch (Growth::Lazy). Shrinking unmaps and releases.
  // Returns the old break. Cannot shrink below heap_start; a shrink past
  // address 0 is ignored.
  enum class Growth { Eager, Lazy };
  Result<uint64> resize_heap(long n, Growth growth = Growth::Eager);

  // fork: give `child` (freshly init()ed) the same mappings and contents.
  // MAP_SHARED mappings stay shared (same frames, writable in both).
  // Cow: private pages are shared; writable ones lose Write in both and
  // gain the Cow mark; leaf tables whose 2 MiB hold only private mappings
  // are shared whole. Eager: private pages are copied now. CowAhead: as Cow,
  // and both sides' faults go through the copy-ahead policy (copy_ahead.h),
  // which resolves runs of sequential write faults ahead; the other modes
  // turn it off. On failure the child is left for the caller to destroy, and
  // the parent is still consistent.
  Result<void> clone_into(AddressSpace &child, ForkMode mode);

  // Resolve a fault (or a kernel access) at va. Ok means the access may now
  // be retried and will succeed. The single entry for every fault: the trap
  // handler and copy-out both come here. It goes through the fault policy
  // the latest fork chose (copy-ahead), if any, else straight to
  // resolve_fault. May sleep (a file page's read).
  Result<void> handle_fault(VirtAddr va, Access access);

  // The core fault path, which fault policies call: find the mapping, get
  // the object's page, copy it on a private write, map it. A store to a Cow
  // page resolves `run` pages from va's page on (the page itself, then as
  // many of the following pages as are Cow, memory allows and the mapping
  // holds; see resolve_cow_fault); every other fault ignores `run`. Returns
  // how many Cow pages it resolved: 0 if the fault was not a store to a Cow
  // page.
  Result<uint64> resolve_fault(VirtAddr va, Access access, uint64 run = 1);

  // The frame behind va, made ready for `access` (resolving COW for writes).
  Result<PhysAddr> resolve(VirtAddr va, Access access);

  // Pages of [m.start, m.end) present in the page table, and of those the
  // ones also mapped elsewhere or cached (shared) and this mapping's alone.
  struct Residency {
    uint64 resident = 0, shared = 0, private_ = 0, swapped = 0;
  };
  Residency residency(const Mapping &m) const;

  // Exchange contents (exec commits its new image this way).
  void swap(AddressSpace &other);

private:
  Result<uint64> fault_path(VirtAddr va, Access access, uint64 run); // resolve_fault's body
  Result<void> fault_in(Mapping &m, VirtAddr page, Access access);
  Result<void> swap_in(Mapping &m, VirtAddr page, uint64 slot, Access access);
  Result<void> map_zeroed(uint64 start, uint64 end, uint32 prot);
  // Unmap the pages of [start, end) of a live address space (shared leaf
  // tables made private or let go first) and flush their translations.
  Result<void> unmap_pages(uint64 start, uint64 end);
  void unmap_range(uint64 start, uint64 end);
  Result<void> own_leaf_tables(uint64 start, uint64 end);
  Result<void> unshare_tables(uint64 start, uint64 end);
  // Write back, then remove, the mappings inside [start, end) (boundaries
  // already split there; pages already unmapped).
  void remove_mappings(uint64 start, uint64 end);
  bool shared_mapping_in(uint64 start, uint64 end);
  bool private_mapping_in(uint64 start, uint64 end);
  Mapping *heap_mapping();
  // Cow runs (fault.cpp): the fault's own page and up to run - 1 after it;
  // a best-effort run ahead of any fault; the part of a run in one shared
  // leaf table (copied with the table), or in one private table.
  Result<uint64> resolve_cow_fault(VirtAddr page, Pte *pte, uint64 run);
  uint64 resolve_cow_run(VirtAddr start, uint64 pages);
  Result<uint64> copy_shared_run(VirtAddr page, uint64 n, CowCause cause);
  uint64 resolve_ahead(VirtAddr start, uint64 pages);

  PageTable pt_;
  MappingSet maps_;
  uint64 heap_start_ = 0;
  uint64 size_ = 0;
  bool has_heap_ = false; // set_heap_start was called: sbrk may move the break
  // The fault policy of ForkMode::CowAhead, enabled by clone_into. Only
  // handle_fault, clone_into, init and swap touch it.
  CopyAhead copy_ahead_;
};

// PTE flags for a user page of the given region protection.
uint64 pte_flags_for(uint32 prot);

} // namespace mm

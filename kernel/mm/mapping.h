// Mappings: what may live where in a user address space.
//
// A Mapping says that the pages of [start, end) come from one memory object
// (or are anonymous), with one protection, shared or private. An address
// space keeps its mappings in a MappingSet: sorted by address, never
// overlapping, as many as memory allows (each is a slab object).
//
//   start, end   page aligned, start < end
//   prot         prot::Read | prot::Write | prot::Exec (0: PROT_NONE)
//   shared       MAP_SHARED: stores reach the object and every other
//                mapping of it; private (false): stores are copy-on-write
//   object       where the pages come from: an inode's page cache, an
//                anonymous shared object, or nullptr for private anonymous
//                memory (demand zero)
//   pgoff        the object's page index of `start`: va maps object page
//                pgoff + (va - start) / PAGE_SIZE
//   data_end     for exec's data segments: the object byte offset where file
//                data ends; object pages wholly past it are anonymous
//                demand-zero (bss), the page that straddles it reads zeros
//                past it. NO_DATA_END for mmap (past the object's size is
//                an error, as Linux's SIGBUS).
//
// Locking: the owning address space's lock (see address_space.h) protects the
// set and every field of its mappings.
#pragma once

#include "lib/result.h"
#include "mm/addr.h"

namespace mm {

class VmObject;
class SlabCache;

namespace prot {
constexpr uint32 Read = 1;
constexpr uint32 Write = 2;
constexpr uint32 Exec = 4;
} // namespace prot

// What a mapping is for: pmap's "kind" column, and exec's and sbrk's way to
// find their own mappings. The fault path never looks at it.
enum class MapKind : uint32 { Anon = 1, File, Text, Data, Stack, Heap };

constexpr uint64 NO_DATA_END = ~0UL;

struct Mapping {
  VirtAddr start, end;
  uint32 prot = 0;
  bool shared = false;
  MapKind kind = MapKind::Anon;
  VmObject *object = nullptr; // holds one reference (vm_object_ref)
  uint64 pgoff = 0;
  uint64 data_end = NO_DATA_END;
  bool denies_write = false; // exec's text/data: the file cannot be opened for writing
  // The most mprotect may grant: a MAP_SHARED mapping of a file opened
  // read-only may never become writable.
  uint32 max_prot = prot::Read | prot::Write | prot::Exec;
  char name[16] = {}; // the file's last path element, for pmap ("" if none)

  // The sorted list (MappingSet's).
  Mapping *prev = nullptr, *next = nullptr;

  bool contains(VirtAddr va) const { return va >= start && va < end; }
  uint64 pages() const { return (end.value - start.value) / PAGE_SIZE; }
  // The object page that va falls in.
  uint64 page_index(VirtAddr va) const { return pgoff + (va.value - start.value) / PAGE_SIZE; }
};

// Reference counting of memory objects, as a mapping sees it (object.h).
// Splitting a mapping in two adds a reference; removing one drops one.
void vm_object_ref(VmObject *o);
void vm_object_unref(VmObject *o);
// exec's text and data mappings keep their file from being written.
void vm_object_deny_write(VmObject *o, int delta);

// The slab cache every Mapping comes from (for statistics and host tests).
SlabCache &mapping_cache();

class MappingSet {
public:
  MappingSet() = default;
  MappingSet(const MappingSet &) = delete;
  MappingSet &operator=(const MappingSet &) = delete;

  // The mapping containing va, or nullptr. Remembers the last answer, so a
  // run of faults in one mapping does not walk the list.
  Mapping *find(VirtAddr va);
  // The first mapping that ends after va (contains it or lies above it).
  Mapping *first_ending_after(VirtAddr va);
  Mapping *first() const { return head_; }
  uint64 count() const { return count_; }

  // A new mapping with these fields (the object gains a reference, and a
  // deny-write if set), inserted in order. Fails with Invalid if it overlaps
  // an existing mapping or is malformed (start < end, both page aligned, end
  // <= USER_TOP; denies_write needs an object), NoMemory if no slab object
  // is left.
  Result<Mapping *> insert(const Mapping &fields);

  // Make `at` a boundary: a mapping that contains `at` with start < at is
  // cut in two there (the upper half gets pgoff advanced and one more object
  // reference). Nothing to do if `at` is already a boundary or unmapped.
  // NoMemory if the new half cannot be allocated (then nothing changed).
  Result<void> split_at(VirtAddr at);

  // Unlink and free one mapping: its object loses the reference (and the
  // deny-write). The caller has already unmapped its pages.
  void remove(Mapping *m);

  // Join m with its neighbours where they continue it exactly (adjacent,
  // same prot, shared, kind, object, data_end and deny-write, and pgoff
  // continuing), so mprotect back and forth does not fragment the set.
  // pgoff must continue only when there is an object: private anonymous
  // memory has no pages to line up. The lowest of the joined mappings
  // survives; m itself may be freed (look the address up again).
  void merge_around(Mapping *m);

  // A free range of len bytes (page multiple) inside [lo, hi), highest
  // first (mmap without MAP_FIXED places mappings top-down), or NoMemory.
  // `hint`, if page aligned and the range [hint, hint + len) is free and
  // inside [lo, hi), is returned as it is; a hint of 0 means none. lo and
  // hi shrink to whole pages, hi to USER_TOP at most.
  Result<VirtAddr> find_free(uint64 len, VirtAddr lo, VirtAddr hi, VirtAddr hint) const;

  // Remove every mapping (exit, exec): the caller has unmapped the pages.
  void clear();

  // Exchange contents (exec commits its new image this way).
  void swap(MappingSet &other);

  // Calls f(Mapping &) for every mapping in address order; f must not
  // insert or remove.
  template <typename F> void for_each(F &&f) {
    for (Mapping *m = head_; m; m = m->next) f(*m);
  }

private:
  Mapping *last_starting_at_or_below(VirtAddr va) const;
  void link_after(Mapping *prev, Mapping *m);

  Mapping *head_ = nullptr;
  Mapping *tail_ = nullptr; // last mapping (find_free starts at the top)
  Mapping *hint_ = nullptr; // last find() answer, or nullptr
  uint64 count_ = 0;
};

} // namespace mm

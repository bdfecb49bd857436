// Sv39 page tables: three levels of 512 entries, 4 KiB leaves.
//
// Every address space has its own root. Its lower half (entries 0..255 of the
// root) maps the user; its upper half is a copy of the kernel root's upper
// half, so the kernel is mapped at the same place in every address space and
// a trap never switches page tables. (The kernel half is four 1 GiB
// leaf entries: there are no lower-level kernel tables to share.)
#pragma once

#include "lib/result.h"
#include "mm/addr.h"
#include "mm/pte.h"

namespace mm {

class PageTable {
public:
  PageTable() = default;
  explicit PageTable(PhysAddr root) : root_(root) {}

  // A new root with the kernel's upper half copied in.
  static Result<PageTable> create();

  bool is_null() const { return root_.value == 0; }
  PhysAddr root() const { return root_; }
  uint64 satp() const { return (8UL << 60) | (root_.value >> PAGE_SHIFT); }

  // The leaf entry for va, or nullptr when an intermediate table is missing.
  Pte *find(VirtAddr va) const;
  // The leaf entry for va, allocating intermediate tables as needed.
  Result<Pte *> find_or_create(VirtAddr va);

  // Free the user half's intermediate tables and the root. All user leaves
  // must already be unmapped (their frames are the address space's business).
  void destroy();

  // Free the tables whose whole span lies in [lo, hi), which must hold no
  // valid leaf any more (sbrk shrink), so later walks skip it. Returns
  // whether any table was freed (the caller must then flush the TLB: a hart
  // may cache non-leaf entries too).
  bool prune(VirtAddr lo, VirtAddr hi);

  // Call f(VirtAddr, Pte&) for every valid user leaf in [lo, hi), in order.
  template <typename F> void for_each_leaf(VirtAddr lo, VirtAddr hi, F &&f) const;
  // Call f(VirtAddr base, Pte *table) for every last-level table of the user
  // half: table[k] maps base + k * PAGE_SIZE. For loops over whole tables.
  template <typename F> void for_each_leaf_table(F &&f) const;

  // The kernel root whose upper half new tables copy.
  static void set_kernel_root(PhysAddr root);
  static PhysAddr kernel_root();

private:
  PhysAddr root_;
};

constexpr int PT_ENTRIES = 512;
constexpr uint64 vpn(VirtAddr va, int level) { return (va.value >> (PAGE_SHIFT + 9 * level)) & 0x1ff; }

template <typename F> void PageTable::for_each_leaf(VirtAddr lo, VirtAddr hi, F &&f) const {
  // Walk the tree, skipping empty subtrees, so the cost follows the mapped
  // size, not the span.
  Pte *l2 = phys_to_ptr<Pte>(root_);
  for (uint64 i = vpn(lo, 2); i < PT_ENTRIES / 2; i++) {
    uint64 base2 = i << 30;
    if (base2 >= hi.value) return;
    if (!l2[i].valid()) continue;
    Pte *l1 = phys_to_ptr<Pte>(l2[i].phys());
    for (uint64 j = 0; j < PT_ENTRIES; j++) {
      uint64 base1 = base2 | (j << 21);
      if (base1 + (1UL << 21) <= lo.value) continue;
      if (base1 >= hi.value) return;
      if (!l1[j].valid()) continue;
      Pte *l0 = phys_to_ptr<Pte>(l1[j].phys());
      for (uint64 k = 0; k < PT_ENTRIES; k++) {
        uint64 va = base1 | (k << 12);
        if (va < lo.value) continue;
        if (va >= hi.value) return;
        if (l0[k].valid()) f(VirtAddr(va), l0[k]);
      }
    }
  }
}

template <typename F> void PageTable::for_each_leaf_table(F &&f) const {
  Pte *l2 = phys_to_ptr<Pte>(root_);
  for (uint64 i = 0; i < PT_ENTRIES / 2; i++) {
    if (!l2[i].valid()) continue;
    Pte *l1 = phys_to_ptr<Pte>(l2[i].phys());
    for (uint64 j = 0; j < PT_ENTRIES; j++) {
      if (l1[j].valid()) f(VirtAddr((i << 30) | (j << 21)), phys_to_ptr<Pte>(l1[j].phys()));
    }
  }
}

} // namespace mm

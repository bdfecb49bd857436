// Sv39 page tables: three levels of 512 entries, 4 KiB leaves.
//
// Every address space has its own root. Its lower half (entries 0..255 of the
// root) maps the user; its upper half is a copy of the kernel root's upper
// half, so the kernel is mapped at the same place in every address space and
// a trap never switches page tables. (The kernel half is four 1 GiB
// leaf entries: there are no lower-level kernel tables to share.)
//
// Shared leaf tables. fork (copy-on-write) does not copy the last-level
// tables: parent and child point at the same ones, so fork costs one entry
// per 2 MiB, not one per page. A leaf table's frame counts the tables that
// point at it (its refs), and a user frame counts the leaf-table entries
// that map it, so a frame mapped by one shared table has refs 1 however many
// processes see it. Invariants:
//  - A leaf table with refs > 1 has no writable entry, and no sharer changes
//    it. Only reclaim does (reclaim.h): it exchanges a present entry for a
//    swap entry, or clears one, atomically, while it holds the frame, so
//    a sharer copying the table takes its reference for whichever value it
//    read, and the frame cannot go in between. (The hardware sets A and D.)
//  - Every change to a leaf entry goes through find_or_create, which first
//    gives this address space a private copy of a shared table (the copy
//    holds one more reference to each frame it maps). The last sharer
//    (refs == 1) just keeps the table, as the last sharer of a frame does.
#pragma once

#include "lib/print.h"
#include "lib/result.h"
#include "mm/addr.h"
#include "mm/frame.h"
#include "mm/hal.h"
#include "mm/pte.h"
#include "mm/stats.h"

namespace mm {

class PageTable {
public:
  PageTable() = default;
  explicit PageTable(PhysAddr root) : root_(root) {}

  // A new root with the kernel's upper half copied in.
  static Result<PageTable> create();

  bool is_null() const { return root_.value == 0; }
  PhysAddr root() const { return root_; }
  // The satp CSR's value that makes the hart translate through this table:
  // MODE (bits 63:60) = 8 for Sv39, ASID (59:44) = 0, PPN (43:0) = the root's.
  static constexpr uint64 SATP_SV39 = 8UL << 60;
  static constexpr uint64 SATP_PPN_MASK = (1UL << 44) - 1;
  uint64 satp() const { return SATP_SV39 | (root_.value >> PAGE_SHIFT); }
  // The root a satp value names (the inverse of satp()).
  static PhysAddr root_of_satp(uint64 satp) { return PhysAddr((satp & SATP_PPN_MASK) << PAGE_SHIFT); }

  // The leaf entry for va, or nullptr when an intermediate table is missing.
  Pte *find(VirtAddr va) const;
  // The leaf entry for va, to be changed: allocates missing tables, and
  // makes the leaf table private first if it is shared (see above).
  Result<Pte *> find_or_create(VirtAddr va);

  // fork: make the 2 MiB at `base` map through `leaf`, a leaf table of
  // another address space, which gains a reference. Allocates the
  // intermediate tables as needed; the entry for base must be empty.
  Result<void> link_leaf_table(VirtAddr base, PhysAddr leaf);
  // Stop mapping the 2 MiB of the leaf table behind va: its entry goes and
  // the table loses this reference (see release_leaf_table). Flushes.
  void drop_leaf_table(VirtAddr va);
  // Whether the leaf table behind va is shared with another address space.
  bool shares_leaf_table(VirtAddr va) const;
  // The same, for the table holding `entry` (a leaf entry of some table).
  static bool in_shared_leaf_table(const Pte *entry) {
    return frames.refcount(ptr_to_phys(entry).page_base()) > 1;
  }
  // Give this address space a private copy of the shared leaf table behind
  // va, whose entry k is entry_for(k, shared entry k). entry_for must take
  // the reference the copy holds: frames.ref() for a frame it keeps mapped,
  // nothing for a fresh frame (a copy-on-write copy) or an empty entry.
  template <typename F> Result<void> unshare_leaf_table(VirtAddr va, F &&entry_for);

  // Let go of every table: each leaf table loses this reference, and the
  // frames it maps lose theirs when it was the last; the intermediate tables
  // and the root are freed. The address space must not be live on any hart.
  void destroy();

  // Let go of the tables whose whole span lies in [lo, hi) (sbrk shrink),
  // so later walks skip it; a leaf table frees the frames it still maps when
  // this was its last reference. Returns whether any table was let go (the
  // caller must then flush the TLB: a hart may cache non-leaf entries too).
  bool prune(VirtAddr lo, VirtAddr hi);

  // Call f(VirtAddr, Pte&) for every valid user leaf in [lo, hi), in order.
  template <typename F> void for_each_leaf(VirtAddr lo, VirtAddr hi, F &&f) const {
    for_each_entry(lo, hi, [&](VirtAddr va, Pte &e) {
      if (e.valid()) f(va, e);
    });
  }
  // The same for every entry in use: present, or naming a swap slot.
  template <typename F> void for_each_entry(VirtAddr lo, VirtAddr hi, F &&f) const;
  // Call f(VirtAddr base, Pte *table) for every last-level table of the user
  // half: table[k] maps base + k * PAGE_SIZE. For loops over whole tables.
  template <typename F> void for_each_leaf_table(F &&f) const;

  // The kernel root whose upper half new tables copy.
  static void set_kernel_root(PhysAddr root);
  static PhysAddr kernel_root();

private:
  Pte *leaf_table_entry(VirtAddr va) const; // the level-1 entry for va, or nullptr
  PhysAddr root_;
};

// Drop one reference to a leaf table; on the last, the frames it maps lose
// theirs and the table is freed.
void release_leaf_table(PhysAddr leaf);

constexpr int PT_ENTRIES = 512;
constexpr uint64 vpn(VirtAddr va, int level) { return (va.value >> (PAGE_SHIFT + 9 * level)) & 0x1ff; }

template <typename F> void PageTable::for_each_entry(VirtAddr lo, VirtAddr hi, F &&f) const {
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
        if (l0[k].in_use()) f(VirtAddr(va), l0[k]);
      }
    }
  }
}

template <typename F> Result<void> PageTable::unshare_leaf_table(VirtAddr va, F &&entry_for) {
  Pte *entry = leaf_table_entry(va);
  KASSERT(entry && entry->valid());
  PhysAddr shared = entry->phys();
  PhysAddr mine = TRY(frames.alloc(FrameKind::PageTable));
  const Pte *src = phys_to_ptr<Pte>(shared);
  Pte *dst = phys_to_ptr<Pte>(mine);
  // One atomic load per entry: reclaim may be exchanging entries of a
  // shared table meanwhile (see above); each is copied as it was at one
  // instant, and entry_for takes the reference for that value.
  for (int k = 0; k < PT_ENTRIES; k++) dst[k] = entry_for(k, Pte{__atomic_load_n(&src[k].raw, __ATOMIC_RELAXED)});
  *entry = Pte::make(mine, pte::Valid);
  // This hart may cache the old pointer to the shared table (non-leaf
  // entries are cached too, and only a full sfence.vma drops them). Once we
  // let go, the other sharer may change that table, so forget it first.
  hal::flush_all();
  // Another sharer may be unsharing at the same time: whichever of us lets
  // go last frees the table and the references it held.
  release_leaf_table(shared);
  Counters::bump(counters.table_copies);
  return {};
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

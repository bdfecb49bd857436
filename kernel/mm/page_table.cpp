// Sv39 page tables. A virtual address splits into three 9-bit indexes (one
// per level, VPN[2] at the root) and a 12-bit offset. The walk below goes
// from the root down; a missing table is either "not mapped" (find) or
// allocated on the way (find_or_create).
#include "mm/page_table.h"

#include "lib/print.h"
#include "mm/frame.h"
#include "mm/hal.h"
#include "mm/stats.h"
#include "mm/swap.h"

namespace mm {

namespace {
PhysAddr kernel_root_pa;
constexpr int USER_ROOT_ENTRIES = PT_ENTRIES / 2; // entries 0..255: the user half
} // namespace

void PageTable::set_kernel_root(PhysAddr root) { kernel_root_pa = root; }
PhysAddr PageTable::kernel_root() { return kernel_root_pa; }

Result<PageTable> PageTable::create() {
  PhysAddr root = TRY(frames.alloc_zeroed(FrameKind::PageTable));
  if (kernel_root_pa.value != 0) {
    Pte *src = phys_to_ptr<Pte>(kernel_root_pa);
    Pte *dst = phys_to_ptr<Pte>(root);
    for (int i = USER_ROOT_ENTRIES; i < PT_ENTRIES; i++) dst[i] = src[i];
  }
  return PageTable(root);
}

Pte *PageTable::find(VirtAddr va) const {
  if (!va.is_user()) return nullptr;
  Pte *table = phys_to_ptr<Pte>(root_);
  for (int level = 2; level > 0; level--) {
    Pte &e = table[vpn(va, level)];
    if (!e.valid() || e.is_leaf()) return nullptr; // no superpages in the user half
    table = phys_to_ptr<Pte>(e.phys());
  }
  return &table[vpn(va, 0)];
}

Result<Pte *> PageTable::find_or_create(VirtAddr va) {
  if (!va.is_user()) return Error::BadAddress;
  Pte *table = phys_to_ptr<Pte>(root_);
  for (int level = 2; level > 0; level--) {
    Pte &e = table[vpn(va, level)];
    if (!e.valid()) {
      PhysAddr next = TRY(frames.alloc_zeroed(FrameKind::PageTable));
      e = Pte::make(next, pte::Valid); // V alone: a pointer to the next level
    } else if (level == 1 && frames.refcount(e.phys()) > 1) {
      FrameTable::Batch batch(frames);
      TRY(unshare_leaf_table(va, [&](int, Pte shared) {
        if (shared.valid())
          batch.ref(shared.phys());
        else if (shared.is_swap())
          swap::dup(shared.swap_slot());
        return shared;
      }));
    }
    table = phys_to_ptr<Pte>(e.phys());
  }
  return &table[vpn(va, 0)];
}

void release_leaf_table(PhysAddr leaf) {
  frames.unref(leaf, [](PhysAddr pa) {
    const Pte *t = phys_to_ptr<Pte>(pa);
    FrameTable::Batch batch(frames);
    for (int k = 0; k < PT_ENTRIES; k++) {
      if (t[k].valid())
        batch.unref(t[k].phys());
      else if (t[k].is_swap())
        swap::free(t[k].swap_slot());
    }
  });
}

Result<void> PageTable::link_leaf_table(VirtAddr base, PhysAddr leaf) {
  if (!base.is_user()) return Error::BadAddress;
  Pte *table = phys_to_ptr<Pte>(root_);
  Pte &top = table[vpn(base, 2)];
  if (!top.valid()) top = Pte::make(TRY(frames.alloc_zeroed(FrameKind::PageTable)), pte::Valid);
  Pte &e = phys_to_ptr<Pte>(top.phys())[vpn(base, 1)];
  KASSERT(!e.valid());
  frames.ref(leaf);
  e = Pte::make(leaf, pte::Valid);
  return {};
}

Pte *PageTable::leaf_table_entry(VirtAddr va) const {
  if (!va.is_user()) return nullptr;
  const Pte &top = phys_to_ptr<Pte>(root_)[vpn(va, 2)];
  if (!top.valid()) return nullptr;
  return &phys_to_ptr<Pte>(top.phys())[vpn(va, 1)];
}

void PageTable::drop_leaf_table(VirtAddr va) {
  Pte *e = leaf_table_entry(va);
  KASSERT(e && e->valid());
  PhysAddr leaf = e->phys();
  *e = Pte{};
  // As in unshare_leaf_table: forget the cached pointer before letting go.
  hal::flush_all();
  release_leaf_table(leaf);
}

bool PageTable::shares_leaf_table(VirtAddr va) const {
  Pte *e = leaf_table_entry(va);
  return e && e->valid() && frames.refcount(e->phys()) > 1;
}

bool PageTable::prune(VirtAddr lo, VirtAddr hi) {
  bool freed = false;
  constexpr uint64 L1_SPAN = 1UL << 30, L0_SPAN = 1UL << 21;
  Pte *l2 = phys_to_ptr<Pte>(root_);
  for (uint64 i = vpn(lo, 2); i < USER_ROOT_ENTRIES && (i << 30) < hi.value; i++) {
    if (!l2[i].valid()) continue;
    Pte *l1 = phys_to_ptr<Pte>(l2[i].phys());
    bool l1_inside = (i << 30) >= lo.value && (i << 30) + L1_SPAN <= hi.value;
    for (uint64 j = 0; j < PT_ENTRIES; j++) {
      uint64 base = (i << 30) | (j << 21);
      if (l1[j].valid() && base >= lo.value && base + L0_SPAN <= hi.value) {
        release_leaf_table(l1[j].phys());
        l1[j] = Pte{};
        freed = true;
      }
    }
    if (l1_inside) {
      frames.unref(l2[i].phys());
      l2[i] = Pte{};
    }
  }
  return freed;
}

void PageTable::destroy() {
  if (is_null()) return;
  Pte *l2 = phys_to_ptr<Pte>(root_);
  for (int i = 0; i < USER_ROOT_ENTRIES; i++) {
    if (!l2[i].valid()) continue;
    Pte *l1 = phys_to_ptr<Pte>(l2[i].phys());
    for (int j = 0; j < PT_ENTRIES; j++) {
      if (l1[j].valid()) release_leaf_table(l1[j].phys());
    }
    frames.unref(l2[i].phys());
    l2[i] = Pte{};
  }
  frames.unref(root_);
  root_ = PhysAddr();
}

} // namespace mm

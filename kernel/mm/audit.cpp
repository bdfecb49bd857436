#include "mm/audit.h"

#include "mm/frame.h"
#include "mm/shmem.h"
#include "mm/swap.h"

namespace mm {

namespace {

struct Auditor {
  AuditReport report;
  uint64 violations = 0;
  uint64 swap_entries = 0; // entries naming a slot (a shared leaf table's once)

  void fail(const char *what, PhysAddr pa, VirtAddr va = VirtAddr()) {
    violations++;
    if (report) report(what, pa, va);
  }

  // Count one reference to a page-table frame.
  void saw_table(PhysAddr pa) {
    if (!frames.contains(pa)) return fail("page table outside the frame table", pa);
    if (frames.kind(pa) != FrameKind::PageTable) fail("page table frame not of kind PageTable", pa);
    frames.record(pa).audit_count++;
  }

  // Count the tables of one address space, and the frames mapped by each
  // leaf table the first time any address space is seen using it (a leaf
  // table shared by fork holds one reference per frame, not one per sharer).
  void walk(AddressSpace &as) {
    const PageTable &pt = as.page_table();
    if (pt.is_null()) return;
    saw_table(pt.root());
    pt.for_each_leaf_table([&](VirtAddr base, Pte *table) {
      PhysAddr pa = ptr_to_phys(table);
      if (frames.record(pa).audit_count != 0) return; // already counted through another address space
      for (int k = 0; k < PT_ENTRIES; k++) {
        VirtAddr va(base.value + k * PAGE_SIZE);
        if (table[k].is_swap()) {
          uint64 slot = table[k].swap_slot();
          if (slot >= swap::total_slots() || swap::count(slot) == 0) fail("entry names a free swap slot", PhysAddr(), va);
          Mapping *m = as.find_region(va.value);
          if (!m || m->shared) fail("swap entry outside a private mapping", PhysAddr(), va);
          swap_entries++;
          continue;
        }
        if (!table[k].valid()) continue;
        PhysAddr page = table[k].phys();
        if (!frames.contains(page)) {
          fail("user page outside the frame table", page, va);
          continue;
        }
        FrameKind kind = frames.kind(page);
        if (kind != FrameKind::Anon && kind != FrameKind::File && kind != FrameKind::Zero)
          fail("user page not of kind Anon, File or Zero", page, va);
        if (table[k].has(pte::Cow | pte::Write)) fail("copy-on-write page is writable", page, va);
        if (kind == FrameKind::Zero && table[k].has(pte::Write)) fail("zero frame mapped writable", page, va);
        Mapping *m = as.find_region(va.value);
        if (!m) fail("page mapped outside every mapping", page, va);
        if (m && !m->shared && table[k].has(pte::Write) && kind != FrameKind::Anon)
          fail("private writable page is not anonymous", page, va);
        frames.record(page).audit_count++;
      }
    });
    Pte *l2 = phys_to_ptr<Pte>(pt.root());
    for (int i = 0; i < PT_ENTRIES / 2; i++) {
      if (!l2[i].valid()) continue;
      saw_table(l2[i].phys());
      Pte *l1 = phys_to_ptr<Pte>(l2[i].phys());
      for (int j = 0; j < PT_ENTRIES; j++)
        if (l1[j].valid()) saw_table(l1[j].phys());
    }
  }
  // Second pass: a writable mapping must be the frame's only one, and a
  // shared leaf table has no writable entry at all.
  void check_writable(AddressSpace &as) {
    if (as.page_table().is_null()) return;
    as.page_table().for_each_leaf_table([&](VirtAddr base, Pte *table) {
      bool shared = frames.record(ptr_to_phys(table)).audit_count > 1;
      for (int k = 0; k < PT_ENTRIES; k++) {
        PhysAddr pa = table[k].phys();
        if (!table[k].valid() || !table[k].has(pte::Write) || !frames.contains(pa)) continue;
        VirtAddr va(base.value + k * PAGE_SIZE);
        if (shared) fail("writable page in a shared leaf table", pa, va);
        Mapping *m = as.find_region(va.value);
        if (m && m->shared) continue; // MAP_SHARED: writable wherever it is mapped
        if (frames.record(pa).audit_count > 1) fail("shared frame mapped writable", pa, va);
      }
    });
  }
};
} // namespace

uint64 audit(AddressSpace *const *spaces, int n, AuditReport report) {
  Auditor a{report};
  // The caller keeps every address space still; holding the free lists too
  // keeps kernel allocations (pipes, exec arguments) from moving frames
  // between free and allocated while we count.
  frames.lock_all();
  for (uint64 i = 0; i < frames.total(); i++) frames.record(frames.frame_at(i)).audit_count = 0;
  for (int s = 0; s < n; s++)
    if (spaces[s]) a.walk(*spaces[s]);
  for (int s = 0; s < n; s++)
    if (spaces[s]) a.check_writable(*spaces[s]);

  for (uint64 i = 0; i < frames.total(); i++) {
    PhysAddr pa = frames.frame_at(i);
    Frame &f = frames.record(pa);
    uint64 count = f.count.load();
    uint64 maps = count & MAPS_MASK, holds = count >> 32;
    switch (f.kind.load()) {
    case FrameKind::Free:
      if (count != 0 || f.audit_count != 0) a.fail("free frame still referenced", pa);
      break;
    case FrameKind::Anon:
      if (maps != f.audit_count) a.fail("reference count differs from mappings", pa);
      if (holds != 0) a.fail("anonymous frame held outside page tables", pa);
      break;
    case FrameKind::PageTable:
      if (count != f.audit_count) a.fail("reference count differs from mappings", pa);
      break;
    case FrameKind::File:
      if (maps != f.audit_count) a.fail("file page's maps differ from mappings", pa);
      if ((f.flags.load() & page_flag::Cached) && holds == 0) a.fail("cached page not held by the cache", pa);
      break;
    case FrameKind::Zero:
      if (maps != f.audit_count) a.fail("zero frame's maps differ from mappings", pa);
      if (holds == 0) a.fail("zero frame not held", pa);
      break;
    case FrameKind::Kernel: break; // held by kernel objects (pipes, disk rings, slabs): not page tables
    }
  }
  if (frames.count_free_lists() != frames.free_count())
    a.fail("free lists disagree with free count", PhysAddr());
  // Every slot's count is the entries that name it, plus its cache page,
  // plus a shared anonymous object's table that names it.
  {
    uint64 cached = 0;
    for (uint64 i = 0; i < frames.total(); i++)
      if (swap::is_cache_page(frames.frame_at(i))) cached++;
    uint64 counted = 0, used = 0;
    for (uint64 s = 0; s < swap::total_slots(); s++) {
      counted += swap::count(s);
      used += swap::count(s) != 0;
    }
    if (counted != a.swap_entries + cached + shmem::slots_held())
      a.fail("swap slot counts differ from entries, cache and shared memory", PhysAddr());
    if (swap::total_slots() - used != swap::free_slots()) a.fail("free swap slots miscounted", PhysAddr());
  }
  frames.unlock_all();
  return a.violations;
}

} // namespace mm

// Shared leaf page tables: fork (Cow, CowAhead) points parent and child at
// the same last-level tables. These are the awkward cases: shrinking and
// growing the heap while a table is shared, a sharer exiting in the middle of
// a family, sharers forking again (Cow and Eager), running out of memory in
// the fused copy-ahead path, and all of it at once on many harts. Each test
// checks what a process would see (its own contents and nobody else's, pages
// there or gone), that frames come back, and that the audit stays clean.
#include <atomic>
#include <map>
#include <string>
#include <thread>

#include "mm_fixture.h"
#include "team.h"

namespace mmtest {
namespace {

using mm::Access;
using mm::ForkMode;
using mm::FrameKind;
using mm::frames;
using mm::RegionKind;
namespace prot = mm::prot;
namespace pte = mm::pte;
using namespace layout;

constexpr uint64 kTablePages = mm::PT_ENTRIES; // pages mapped by one leaf table
constexpr uint64 kTableSpan = kTablePages * P; // 2 MiB

// The address of heap page i of the standard layout (the heap starts at page 8).
constexpr uint64 heap_page(uint64 i) { return heap + i * P; }

class SharedTable : public MmTest {
protected:
  // va -> frame for every page mapped in `as`.
  static std::map<uint64, PhysAddr> frames_by_va(const AddressSpace &as) {
    std::map<uint64, PhysAddr> m;
    for (auto &[va, p] : leaves(as)) m[va] = p.phys();
    return m;
  }

  // Whether va is mapped in `as` and holds the pattern of `seed`.
  static bool holds(AddressSpace &as, uint64 va, uint64 seed) {
    uint8 *f = frame_of(as, va);
    return f && frame_has(f, seed);
  }

  static bool unmapped(AddressSpace &as, uint64 va) {
    Pte *p = pte_of(as, va);
    return !p || !p->valid();
  }

  static bool privately_writable(AddressSpace &as, uint64 va) {
    Pte *p = pte_of(as, va);
    return p && p->has(pte::Valid | pte::Write) && !(p->raw & pte::Cow);
  }

  // A store by the process: the fault the MMU would raise, then the store
  // itself (the pattern of `seed` over the whole page).
  static void write(AddressSpace &as, uint64 va, uint64 seed) {
    ASSERT_TRUE(as.handle_fault(VirtAddr(va), Access::Write).ok()) << "va " << std::hex << va;
    ASSERT_TRUE(privately_writable(as, va)) << "va " << std::hex << va;
    fill_frame(frame_of(as, va), seed);
  }

  // The standard text, data and stack, and a heap of `pages` starting at
  // heap_start (which may leave a gap after the stack), every page holding
  // the pattern of its address.
  void build_with_heap_at(AddressSpace &as, uint64 heap_start, uint64 pages) {
    ASSERT_TRUE(as.add_region(text, text_end, prot::Read | prot::Exec, RegionKind::Text).ok());
    ASSERT_TRUE(as.add_region(data, data_end, prot::Read | prot::Write, RegionKind::Data).ok());
    ASSERT_TRUE(as.add_region(stack, stack_end, prot::Read | prot::Write, RegionKind::Stack).ok());
    ASSERT_TRUE(as.add_region(heap_start, heap_start, prot::Read | prot::Write, RegionKind::Heap).ok());
    as.set_heap_start(heap_start);
    ASSERT_TRUE(as.resize_heap(static_cast<long>(pages * P)).ok());
    for (auto &[va, p] : leaves(as)) fill_frame(mm::phys_to_ptr(p.phys()), va);
  }
};

// sbrk shrink in a child whose heap tables are all shared with its parent.
// 1100 heap pages span three leaf tables: table 0 (pages 0..511 of the
// address space: text, data, stack and the start of the heap), table 1
// (512..1023) and table 2 (1024..1107). The child first shrinks inside table
// 2, then past the whole of table 1: its pages above the break are gone, its
// pages below still show the parent's data, and the parent keeps every page
// mapped with its contents. Then both exit, in either order: the frames go
// when their last holder exits, and every frame comes back.
TEST_F(SharedTable, ChildShrinksTheHeapWhileItsTablesAreShared) {
  constexpr uint64 kHeapPages = 1100;
  const uint64 end = heap_page(kHeapPages);
  for (bool child_exits_first : {true, false}) {
    SCOPED_TRACE(child_exits_first ? "child exits first" : "parent exits first");
    const uint64 free0 = frames.free_count();
    AddressSpace &parent = new_as();
    build_standard(parent, kHeapPages);
    const auto orig = frames_by_va(parent);
    AddressSpace &child = new_as();
    ASSERT_TRUE(parent.clone_into(child, ForkMode::Cow).ok());
    for (uint64 t = 0; t < 3; t++) {
      ASSERT_EQ(leaf_table_of(child, t * kTableSpan), leaf_table_of(parent, t * kTableSpan));
      ASSERT_EQ(frames.refcount(leaf_table_of(parent, t * kTableSpan)), 2u);
    }

    // Partial: the last 50 pages, all in table 2.
    const uint64 cut1 = end - 50 * P;
    auto r = child.resize_heap(-static_cast<long>(50 * P));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value(), end) << "sbrk returns the old break";
    EXPECT_EQ(child.size(), cut1);
    EXPECT_EQ(parent.size(), end);
    for (uint64 va = cut1; va < end; va += P) {
      EXPECT_TRUE(unmapped(child, va)) << std::hex << va;
      auto f = child.handle_fault(VirtAddr(va), Access::Read);
      ASSERT_TRUE(f.is_error());
      EXPECT_EQ(f.error(), Error::BadAddress) << "beyond the child's break";
    }
    EXPECT_NE(leaf_table_of(child, 2 * kTableSpan), leaf_table_of(parent, 2 * kTableSpan))
        << "the child changed table 2, so it has its own";
    EXPECT_EQ(frames.refcount(leaf_table_of(parent, 2 * kTableSpan)), 1u);
    for (uint64 t = 0; t < 2; t++)
      EXPECT_EQ(leaf_table_of(child, t * kTableSpan), leaf_table_of(parent, t * kTableSpan))
          << "table " << t << " is untouched and still shared";
    for (auto &[va, pa] : orig) {
      ASSERT_EQ(pte_of(parent, va)->phys(), pa);
      ASSERT_TRUE(holds(parent, va, va)) << "the parent lost page " << std::hex << va;
      if (va < cut1) {
        ASSERT_TRUE(holds(child, va, va)) << std::hex << va;
      }
    }
    EXPECT_EQ(audit_live(), 0u);

    // Whole table: down to 300 heap pages. All of table 1 is above the new
    // break, so the child lets go of it; of table 0 it keeps what is below.
    const uint64 cut2 = heap_page(300);
    ASSERT_TRUE(child.resize_heap(-static_cast<long>(cut1 - cut2)).ok());
    EXPECT_EQ(child.size(), cut2);
    EXPECT_EQ(parent.size(), end);
    EXPECT_EQ(pte_of(child, kTableSpan), nullptr) << "the child no longer has table 1 at all";
    for (uint64 va = cut2; va < end; va += P) ASSERT_TRUE(unmapped(child, va)) << std::hex << va;
    for (uint64 t = 0; t < 3; t++)
      EXPECT_EQ(frames.refcount(leaf_table_of(parent, t * kTableSpan)), 1u)
          << "the parent's table " << t << " is the parent's alone now";
    for (auto &[va, pa] : orig) {
      ASSERT_EQ(pte_of(parent, va)->phys(), pa) << std::hex << va;
      ASSERT_TRUE(holds(parent, va, va)) << "the parent lost page " << std::hex << va;
      EXPECT_EQ(frames.kind(pa), FrameKind::Anon) << "the parent still maps it";
      if (va < cut2) {
        ASSERT_EQ(pte_of(child, va)->phys(), pa) << "still shared: " << std::hex << va;
        ASSERT_TRUE(holds(child, va, va));
      } else {
        EXPECT_EQ(frames.refcount(pa), 1u) << std::hex << va;
      }
    }
    EXPECT_EQ(audit_live(), 0u);

    if (child_exits_first) {
      child.destroy();
      EXPECT_EQ(audit_live(), 0u);
      for (auto &[va, pa] : orig) {
        ASSERT_TRUE(holds(parent, va, va)) << std::hex << va;
        ASSERT_EQ(frames.refcount(pa), 1u) << std::hex << va;
      }
      // Alone again, the parent writes without copying, below and above the
      // child's old break.
      Snap s0 = Snap::now();
      ASSERT_NO_FATAL_FAILURE(write(parent, heap_page(0), 1));
      ASSERT_NO_FATAL_FAILURE(write(parent, end - P, 2));
      Snap d = Snap::now().since(s0);
      EXPECT_EQ(d.cow_copies, 0u);
      EXPECT_EQ(d.cow_reuses, 2u);
      parent.destroy();
    } else {
      parent.destroy();
      EXPECT_EQ(audit_live(), 0u);
      for (auto &[va, pa] : orig) {
        if (va < cut2) {
          ASSERT_TRUE(holds(child, va, va)) << "the child lost page " << std::hex << va;
          ASSERT_EQ(frames.refcount(pa), 1u) << std::hex << va;
        } else {
          EXPECT_EQ(frames.kind(pa), FrameKind::Free) << "its last holder exited: " << std::hex << va;
        }
      }
      Snap s0 = Snap::now();
      ASSERT_NO_FATAL_FAILURE(write(child, heap_page(0), 1));
      ASSERT_NO_FATAL_FAILURE(write(child, cut2 - P, 2));
      Snap d = Snap::now().since(s0);
      EXPECT_EQ(d.cow_copies, 0u);
      EXPECT_EQ(d.cow_reuses, 2u);
      child.destroy();
    }
    EXPECT_EQ(audit_live(), 0u);
    EXPECT_EQ(frames.free_count(), free0) << "every frame of the family came back";
  }
}

// The same shrink when it cannot get the memory to copy the shared tables it
// changes: sbrk fails with NoMemory and nothing was unmapped; with memory
// back it succeeds.
TEST_F(SharedTable, ShrinkOutOfMemoryUnmapsNothing) {
  AddressSpace &parent = new_as();
  build_standard(parent, 600); // heap pages 8..607: tables 0 and 1
  const auto orig = frames_by_va(parent);
  AddressSpace &child = new_as();
  ASSERT_TRUE(parent.clone_into(child, ForkMode::Cow).ok());
  const uint64 end = child.size(), cut = heap_page(300);

  int failures = 0;
  for (long k = 0;; k++) {
    ASSERT_LT(k, 10) << "the shrink never succeeded";
    frames.fail_after(k);
    auto r = child.resize_heap(-static_cast<long>(end - cut));
    frames.fail_after(-1);
    EXPECT_EQ(audit_live(), 0u) << "k=" << k;
    for (auto &[va, pa] : orig) ASSERT_TRUE(holds(parent, va, va)) << "k=" << k << std::hex << " va " << va;
    if (r.ok()) break;
    failures++;
    EXPECT_EQ(r.error(), Error::NoMemory);
    EXPECT_EQ(child.size(), end);
    for (auto &[va, pa] : orig) {
      ASSERT_EQ(pte_of(child, va)->phys(), pa) << "k=" << k << std::hex << " va " << va;
      ASSERT_TRUE(holds(child, va, va));
    }
  }
  EXPECT_GE(failures, 1);
  EXPECT_EQ(child.size(), cut);
  for (auto &[va, pa] : orig) {
    if (va < cut)
      EXPECT_EQ(pte_of(child, va)->phys(), pa);
    else
      EXPECT_TRUE(unmapped(child, va));
  }
}

// A shrink that drops whole shared leaf tables and cuts none needs no
// memory: the tables are let go as they are, not copied first. With no frame
// to be had it still succeeds; the parent keeps every page, the child keeps
// the pages below its new break, and exiting returns every frame.
TEST_F(SharedTable, ShrinkByWholeSharedTablesNeedsNoMemory) {
  AddressSpace &parent = new_as();
  build_standard(parent, 1100); // heap pages 8..1107: tables 0, 1 and 2
  const auto orig = frames_by_va(parent);
  AddressSpace &child = new_as();
  ASSERT_TRUE(parent.clone_into(child, ForkMode::Cow).ok());
  const uint64 cut = kTableSpan; // the break at the start of table 1
  const uint64 free0 = frames.free_count();

  frames.fail_after(0);
  auto r = child.resize_heap(-static_cast<long>(child.size() - cut));
  frames.fail_after(-1);
  ASSERT_TRUE(r.ok()) << "dropping whole shared tables needs no frame";
  EXPECT_EQ(child.size(), cut);
  EXPECT_EQ(frames.free_count(), free0) << "the tables stay with the parent: nothing is freed";
  EXPECT_EQ(frames.refcount(leaf_table_of(parent, cut)), 1u);
  EXPECT_EQ(frames.refcount(leaf_table_of(parent, 0)), 2u) << "table 0 is still shared";
  EXPECT_TRUE(tlb_covered(1));
  for (auto &[va, pa] : orig) {
    ASSERT_TRUE(holds(parent, va, va)) << std::hex << va;
    if (va < cut)
      EXPECT_EQ(pte_of(child, va)->phys(), pa) << std::hex << va;
    else
      EXPECT_TRUE(unmapped(child, va)) << std::hex << va;
  }
  EXPECT_EQ(audit_live(), 0u);
}

// Lazy sbrk in the parent, then fork: a page nobody has touched yet is
// missing from the shared tables. The child's first touch of it (read or
// write) gives the child a zero page in a table of its own; the parent still
// has nothing there, and every page the parent had is unchanged. When the
// parent touches the same page later it gets its own zero page.
TEST_F(SharedTable, ChildDemandZeroInASharedTableIsInvisibleToTheParent) {
  AddressSpace &parent = new_as();
  build_standard(parent, 2);
  // Heap pages 0..1101 (addresses 8..1109): tables 0, 1 and 2, nearly all lazy.
  ASSERT_TRUE(parent.resize_heap(static_cast<long>(1100 * P), AddressSpace::Growth::Lazy).ok());
  const uint64 a = heap_page(100), b = heap_page(600); // the parent touches these: tables 0, 1
  ASSERT_NO_FATAL_FAILURE(write(parent, a, 1000 + a));
  ASSERT_NO_FATAL_FAILURE(write(parent, b, 1000 + b));
  const auto before = frames_by_va(parent);
  ASSERT_EQ(pte_of(parent, 2 * kTableSpan), nullptr) << "nothing in table 2 yet";

  AddressSpace &child = new_as();
  ASSERT_TRUE(parent.clone_into(child, ForkMode::Cow).ok());
  ASSERT_EQ(leaf_table_of(child, a), leaf_table_of(parent, a));
  ASSERT_EQ(leaf_table_of(child, b), leaf_table_of(parent, b));

  Snap s0 = Snap::now();
  // A read of a lazy page in shared table 0.
  const uint64 r = heap_page(200);
  ASSERT_TRUE(child.handle_fault(VirtAddr(r + 16), Access::Read).ok());
  ASSERT_NE(frame_of(child, r), nullptr);
  EXPECT_TRUE(frame_is_zero(frame_of(child, r)));
  EXPECT_EQ(pte_of(child, r)->phys(), mm::page_cache::zero_frame()) << "a load maps the zero frame";
  EXPECT_TRUE(unmapped(parent, r)) << "the parent never touched it";
  ASSERT_NO_FATAL_FAILURE(write(child, r, 2000 + r)); // the store copies the zero frame
  // A write to a lazy page in shared table 1.
  const uint64 w = heap_page(700);
  ASSERT_TRUE(child.handle_fault(VirtAddr(w), Access::Write).ok());
  ASSERT_TRUE(privately_writable(child, w));
  EXPECT_TRUE(frame_is_zero(frame_of(child, w)));
  fill_frame(frame_of(child, w), 2000 + w);
  EXPECT_TRUE(unmapped(parent, w));
  // A lazy page in table 2, where neither has a table.
  const uint64 z = heap_page(1050);
  ASSERT_TRUE(child.handle_fault(VirtAddr(z), Access::Write).ok());
  EXPECT_TRUE(frame_is_zero(frame_of(child, z)));
  fill_frame(frame_of(child, z), 2000 + z);
  EXPECT_EQ(pte_of(parent, z), nullptr) << "the parent still has no table 2";

  Snap d = Snap::now().since(s0);
  EXPECT_EQ(d.table_copies, 2u) << "tables 0 and 1 became the child's";
  EXPECT_EQ(d.cow_faults, 1u) << "only the store into the zero frame";
  EXPECT_NE(leaf_table_of(child, a), leaf_table_of(parent, a));
  EXPECT_NE(leaf_table_of(child, b), leaf_table_of(parent, b));

  // The parent: exactly the pages it had, same frames, same contents.
  EXPECT_EQ(frames_by_va(parent), before);
  for (auto &[va, pa] : before) {
    const uint64 seed = va == a || va == b ? 1000 + va : va;
    EXPECT_TRUE(holds(parent, va, seed)) << std::hex << va;
    EXPECT_TRUE(holds(child, va, seed)) << "still shared: " << std::hex << va;
    EXPECT_EQ(pte_of(child, va)->phys(), pa);
  }

  // The parent touches the page the child made: a zero page of its own.
  ASSERT_TRUE(parent.handle_fault(VirtAddr(r), Access::Read).ok());
  ASSERT_NE(frame_of(parent, r), nullptr);
  EXPECT_TRUE(frame_is_zero(frame_of(parent, r))) << "the child's data must not show through";
  EXPECT_NE(frame_of(parent, r), frame_of(child, r));
  ASSERT_NO_FATAL_FAILURE(write(parent, w, 1000 + w));
  EXPECT_TRUE(holds(child, r, 2000 + r));
  EXPECT_TRUE(holds(child, w, 2000 + w));
  EXPECT_TRUE(holds(child, z, 2000 + z));
  EXPECT_EQ(audit_live(), 0u);
}

// Eager sbrk in the child into a shared table (and on into a table neither
// has): the new pages are zero and the child's alone; the parent's break and
// pages are unchanged. The parent then grows too and gets its own zero
// pages; the child shrinks back and its new pages are freed.
TEST_F(SharedTable, ChildGrowsTheHeapEagerlyIntoASharedTable) {
  AddressSpace &parent = new_as();
  build_standard(parent, 300); // addresses 8..307: all in table 0
  const auto before = frames_by_va(parent);
  AddressSpace &child = new_as();
  ASSERT_TRUE(parent.clone_into(child, ForkMode::Cow).ok());
  const uint64 old_break = child.size(), new_break = old_break + 300 * P; // into table 1

  Snap s0 = Snap::now();
  auto r = child.resize_heap(static_cast<long>(300 * P));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), old_break);
  EXPECT_EQ(child.size(), new_break);
  EXPECT_EQ(parent.size(), old_break);
  EXPECT_EQ(Snap::now().since(s0).table_copies, 1u) << "table 0 became the child's";
  EXPECT_EQ(frames.refcount(leaf_table_of(parent, 0)), 1u);
  std::map<uint64, PhysAddr> grown;
  for (uint64 va = old_break; va < new_break; va += P) {
    ASSERT_TRUE(privately_writable(child, va)) << std::hex << va;
    ASSERT_TRUE(frame_is_zero(frame_of(child, va))) << std::hex << va;
    ASSERT_TRUE(unmapped(parent, va)) << std::hex << va;
    grown[va] = pte_of(child, va)->phys();
    fill_frame(frame_of(child, va), 2000 + va);
  }
  EXPECT_EQ(pte_of(parent, kTableSpan), nullptr) << "the parent has no table 1";
  EXPECT_EQ(frames_by_va(parent), before);
  for (auto &[va, pa] : before) {
    EXPECT_TRUE(holds(parent, va, va)) << std::hex << va;
    EXPECT_EQ(pte_of(child, va)->phys(), pa) << "the old pages stay shared";
  }
  EXPECT_EQ(audit_live(), 0u);

  // The parent grows as well: zero pages of its own, the child's untouched.
  ASSERT_TRUE(parent.resize_heap(static_cast<long>(300 * P)).ok());
  for (uint64 va = old_break; va < new_break; va += P) {
    ASSERT_TRUE(frame_is_zero(frame_of(parent, va))) << std::hex << va;
    ASSERT_NE(pte_of(parent, va)->phys(), grown[va]);
    ASSERT_TRUE(holds(child, va, 2000 + va));
  }
  EXPECT_EQ(audit_live(), 0u);

  // The child shrinks back: the pages it grew are freed, the parent's stay.
  ASSERT_TRUE(child.resize_heap(-static_cast<long>(300 * P)).ok());
  for (auto &[va, pa] : grown) {
    EXPECT_EQ(frames.kind(pa), FrameKind::Free) << std::hex << va;
    EXPECT_TRUE(unmapped(child, va));
    EXPECT_TRUE(frame_is_zero(frame_of(parent, va)));
  }
  EXPECT_EQ(audit_live(), 0u);
}

// P1 forks P2, P2 forks P3: one leaf table, three sharers. The middle
// generation exits first: only its root and L1 table are freed, and the two
// others still read the original data. Then the survivors write every
// writable page: the first to write copies the table and every page (7
// copies), the other is then the last holder of the table and of every
// frame, and reuses them all (7 reuses, no copy, no allocation). Either
// survivor may write first.
TEST_F(SharedTable, MiddleSharerExitsFirst) {
  for (bool youngest_writes_first : {true, false}) {
    SCOPED_TRACE(youngest_writes_first ? "P3 writes first" : "P1 writes first");
    AddressSpace &p1 = new_as();
    build_standard(p1, 2);
    const auto orig = frames_by_va(p1);
    AddressSpace &p2 = new_as();
    ASSERT_TRUE(p1.clone_into(p2, ForkMode::Cow).ok());
    AddressSpace &p3 = new_as();
    ASSERT_TRUE(p2.clone_into(p3, ForkMode::Cow).ok());
    const PhysAddr table = leaf_table_of(p1, 0);
    ASSERT_EQ(leaf_table_of(p3, 0), table);
    ASSERT_EQ(frames.refcount(table), 3u);

    uint64 free0 = frames.free_count();
    p2.destroy();
    EXPECT_EQ(frames.free_count() - free0, 2u) << "P2's root and L1 table: the leaf table and pages live on";
    EXPECT_EQ(frames.refcount(table), 2u);
    for (auto &[va, pa] : orig) {
      EXPECT_EQ(frames.kind(pa), FrameKind::Anon);
      EXPECT_EQ(frames.refcount(pa), 1u);
      EXPECT_EQ(pte_of(p1, va)->phys(), pa);
      EXPECT_EQ(pte_of(p3, va)->phys(), pa);
      EXPECT_TRUE(holds(p1, va, va)) << std::hex << va;
      EXPECT_TRUE(holds(p3, va, va)) << std::hex << va;
    }
    EXPECT_EQ(audit_live(), 0u);

    AddressSpace &first = youngest_writes_first ? p3 : p1;
    AddressSpace &second = youngest_writes_first ? p1 : p3;
    const auto pages = writable_pages(first);
    ASSERT_EQ(pages.size(), 7u);

    Snap s0 = Snap::now();
    free0 = frames.free_count();
    for (uint64 va : pages) ASSERT_NO_FATAL_FAILURE(write(first, va, 1000 + va));
    Snap d = Snap::now().since(s0);
    EXPECT_EQ(d.cow_faults, 7u);
    EXPECT_EQ(d.cow_copies, 7u);
    EXPECT_EQ(d.cow_reuses, 0u);
    EXPECT_EQ(d.table_copies, 1u);
    EXPECT_EQ(free0 - frames.free_count(), 8u) << "seven pages and one leaf table";
    EXPECT_EQ(frames.refcount(table), 1u);
    for (uint64 va : pages) EXPECT_TRUE(holds(second, va, va)) << "not yet written by the second";

    Snap s1 = Snap::now();
    free0 = frames.free_count();
    for (uint64 va : pages) ASSERT_NO_FATAL_FAILURE(write(second, va, 2000 + va));
    d = Snap::now().since(s1);
    EXPECT_EQ(d.cow_faults, 7u);
    EXPECT_EQ(d.cow_copies, 0u);
    EXPECT_EQ(d.cow_reuses, 7u);
    EXPECT_EQ(d.table_copies, 0u) << "the second keeps the original table";
    EXPECT_EQ(frames.free_count(), free0) << "reuse allocates nothing";
    EXPECT_EQ(leaf_table_of(second, 0), table);

    for (uint64 va : pages) {
      EXPECT_EQ(pte_of(second, va)->phys(), orig.at(va)) << "the last holder keeps the original frame";
      EXPECT_TRUE(holds(first, va, 1000 + va));
      EXPECT_TRUE(holds(second, va, 2000 + va));
      EXPECT_EQ(frames.refcount(pte_of(first, va)->phys()), 1u);
      EXPECT_EQ(frames.refcount(pte_of(second, va)->phys()), 1u);
    }
    for (uint64 va : {text, text + P}) {
      EXPECT_EQ(sharers(orig.at(va)), 2u) << "text stays shared";
      EXPECT_EQ(frames.refcount(orig.at(va)), 2u) << "by two leaf tables now";
    }
    EXPECT_EQ(audit_live(), 0u);
    p1.destroy();
    p3.destroy();
  }
}

// P forks C, C forks G while C still shares its table with P: G links the
// same table (its refcount is 3) and no page changes. Then C writes: C gets
// its own table and page, the table's refcount drops to 2, and P and G still
// share it and see the original. G writes the same page (its own table, the
// shared one is P's alone), then P writes it and reuses the original frame.
// Each of the three sees its own data.
TEST_F(SharedTable, GrandchildLinksTheSameTableThenTheChildWrites) {
  AddressSpace &p = new_as();
  build_standard(p, 2);
  const auto orig = frames_by_va(p);
  AddressSpace &c = new_as();
  ASSERT_TRUE(p.clone_into(c, ForkMode::Cow).ok());
  const PhysAddr table = leaf_table_of(p, 0);
  const auto p_ptes = leaves(p);

  Snap s0 = Snap::now();
  uint64 free0 = frames.free_count();
  AddressSpace &g = new_as();
  ASSERT_TRUE(c.clone_into(g, ForkMode::Cow).ok());
  Snap d = Snap::now().since(s0);
  EXPECT_EQ(d.table_shares, 1u);
  EXPECT_EQ(d.fork_shared, orig.size());
  EXPECT_EQ(free0 - frames.free_count(), 2u) << "G's root and L1 table: no leaf table, no page";
  EXPECT_EQ(leaf_table_of(g, 0), table);
  EXPECT_EQ(leaf_table_of(c, 0), table);
  EXPECT_EQ(frames.refcount(table), 3u);
  for (size_t i = 0; i < p_ptes.size(); i++)
    EXPECT_EQ(leaves(p)[i].second.raw, p_ptes[i].second.raw) << "forking a sharer changes nothing";
  for (auto &[va, pa] : orig) {
    EXPECT_EQ(frames.refcount(pa), 1u);
    EXPECT_EQ(sharers(pa), 3u);
  }
  EXPECT_EQ(audit_live(), 0u);

  const uint64 x = data + P, y = data + 2 * P;
  Snap s1 = Snap::now();
  ASSERT_NO_FATAL_FAILURE(write(c, x, 2000 + x));
  d = Snap::now().since(s1);
  EXPECT_EQ(d.table_copies, 1u);
  EXPECT_EQ(d.cow_copies, 1u);
  EXPECT_EQ(frames.refcount(table), 2u) << "P and G";
  EXPECT_NE(leaf_table_of(c, 0), table);
  EXPECT_EQ(frames.refcount(leaf_table_of(c, 0)), 1u);
  EXPECT_EQ(leaf_table_of(g, 0), table);
  EXPECT_EQ(frames.refcount(orig.at(x)), 1u) << "only the shared table maps the old page";
  EXPECT_EQ(sharers(orig.at(x)), 2u);
  for (auto &[va, pa] : orig) {
    if (va == x) continue;
    EXPECT_EQ(frames.refcount(pa), 2u) << "the shared table and C's: " << std::hex << va;
    EXPECT_EQ(sharers(pa), 3u);
  }
  EXPECT_TRUE(holds(c, x, 2000 + x));
  EXPECT_TRUE(holds(p, x, x));
  EXPECT_TRUE(holds(g, x, x));
  EXPECT_EQ(audit_live(), 0u);

  // G writes the same page.
  ASSERT_NO_FATAL_FAILURE(write(g, x, 3000 + x));
  EXPECT_EQ(frames.refcount(table), 1u) << "P's alone";
  EXPECT_NE(leaf_table_of(g, 0), table);
  EXPECT_TRUE(holds(p, x, x));
  EXPECT_TRUE(holds(c, x, 2000 + x));
  // P, now the only holder of the table and of the page, reuses it.
  Snap s2 = Snap::now();
  uint64 free2 = frames.free_count();
  ASSERT_NO_FATAL_FAILURE(write(p, x, 1000 + x));
  d = Snap::now().since(s2);
  EXPECT_EQ(d.cow_reuses, 1u);
  EXPECT_EQ(d.cow_copies, 0u);
  EXPECT_EQ(d.table_copies, 0u);
  EXPECT_EQ(frames.free_count(), free2);
  EXPECT_EQ(pte_of(p, x)->phys(), orig.at(x));
  // C writes another page: three tables map it, so it copies.
  ASSERT_NO_FATAL_FAILURE(write(c, y, 2000 + y));
  EXPECT_EQ(frames.refcount(orig.at(y)), 2u) << "P's and G's tables";

  EXPECT_TRUE(holds(p, x, 1000 + x));
  EXPECT_TRUE(holds(c, x, 2000 + x));
  EXPECT_TRUE(holds(g, x, 3000 + x));
  EXPECT_TRUE(holds(p, y, y));
  EXPECT_TRUE(holds(c, y, 2000 + y));
  EXPECT_TRUE(holds(g, y, y));
  EXPECT_EQ(audit_live(), 0u);
}

// An eager fork of a process whose tables are (partly) shared: P forks C
// (Cow), C writes one page in table 1 (so its table 1 is its own, table 0
// still shared), then C forks G eagerly. G gets tables and pages of its own
// with C's view of the data; P and C are untouched; G's stores need no
// copy-on-write fault and nobody else sees them.
TEST_F(SharedTable, EagerForkOfASharerCopiesEverything) {
  AddressSpace &p = new_as();
  build_standard(p, 600); // addresses 8..607: tables 0 and 1
  AddressSpace &c = new_as();
  ASSERT_TRUE(p.clone_into(c, ForkMode::Cow).ok());
  const uint64 w = kTableSpan + 10 * P;
  ASSERT_NO_FATAL_FAILURE(write(c, w, 2000 + w));
  const PhysAddr t0 = leaf_table_of(p, 0);
  ASSERT_EQ(leaf_table_of(c, 0), t0);
  ASSERT_NE(leaf_table_of(c, w), leaf_table_of(p, w));
  const auto p_before = leaves(p), c_before = leaves(c);
  auto seed_of = [&](uint64 va) { return va == w ? 2000 + va : va; };

  Snap s0 = Snap::now();
  AddressSpace &g = new_as();
  ASSERT_TRUE(c.clone_into(g, ForkMode::Eager).ok());
  Snap d = Snap::now().since(s0);
  EXPECT_EQ(d.fork_copied, c_before.size());
  EXPECT_EQ(d.fork_shared, 0u);
  EXPECT_EQ(d.table_shares, 0u);

  for (uint64 base : {uint64(0), kTableSpan}) {
    PhysAddr gt = leaf_table_of(g, base);
    EXPECT_NE(gt, leaf_table_of(p, base));
    EXPECT_NE(gt, leaf_table_of(c, base));
    EXPECT_EQ(frames.refcount(gt), 1u);
  }
  auto g_leaves = leaves(g);
  ASSERT_EQ(g_leaves.size(), c_before.size());
  for (size_t i = 0; i < c_before.size(); i++) {
    auto [va, cp] = c_before[i];
    Pte gp = g_leaves[i].second;
    SCOPED_TRACE(::testing::Message() << "va " << std::hex << va);
    ASSERT_EQ(g_leaves[i].first, va);
    EXPECT_NE(gp.phys(), cp.phys());
    EXPECT_NE(gp.phys(), pte_of(p, va)->phys());
    EXPECT_EQ(frames.refcount(gp.phys()), 1u);
    EXPECT_TRUE(frame_has(mm::phys_to_ptr(gp.phys()), seed_of(va))) << "G starts with C's data";
    EXPECT_FALSE(gp.raw & pte::Cow);
    if (va < text_end)
      EXPECT_FALSE(gp.raw & pte::Write) << "text stays read-only";
    else
      EXPECT_TRUE(gp.has(pte::Write));
  }
  // P and C: not one entry changed, and table 0 still shared by exactly them.
  auto p_after = leaves(p), c_after = leaves(c);
  ASSERT_EQ(p_after.size(), p_before.size());
  ASSERT_EQ(c_after.size(), c_before.size());
  for (size_t i = 0; i < p_before.size(); i++) EXPECT_EQ(p_after[i].second.raw, p_before[i].second.raw);
  for (size_t i = 0; i < c_before.size(); i++) EXPECT_EQ(c_after[i].second.raw, c_before[i].second.raw);
  EXPECT_EQ(frames.refcount(t0), 2u);
  EXPECT_EQ(audit_live(), 0u);

  Snap s1 = Snap::now();
  for (uint64 va : writable_pages(g)) ASSERT_NO_FATAL_FAILURE(write(g, va, 5000 + va));
  EXPECT_EQ(Snap::now().since(s1).cow_faults, 0u);
  for (auto &[va, pp] : p_before) {
    EXPECT_TRUE(holds(p, va, va)) << std::hex << va;
    EXPECT_TRUE(holds(c, va, seed_of(va))) << std::hex << va;
  }
  EXPECT_EQ(audit_live(), 0u);
}

// A read, an instruction fetch, or a refused store in a shared table changes
// nothing: the table stays shared and no frame is allocated.
TEST_F(SharedTable, ReadsAndRefusedStoresKeepTheTableShared) {
  AddressSpace &p = new_as();
  build_standard(p, 2);
  AddressSpace &c = new_as();
  ASSERT_TRUE(p.clone_into(c, ForkMode::Cow).ok());
  const uint64 free0 = frames.free_count();
  Snap s0 = Snap::now();
  EXPECT_TRUE(c.handle_fault(VirtAddr(data), Access::Read).ok());
  EXPECT_TRUE(c.handle_fault(VirtAddr(heap), Access::Read).ok());
  EXPECT_TRUE(c.handle_fault(VirtAddr(text), Access::Exec).ok());
  auto r = c.handle_fault(VirtAddr(text), Access::Write);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), Error::Protection);
  auto g = c.handle_fault(VirtAddr(guard), Access::Write);
  ASSERT_TRUE(g.is_error());
  EXPECT_EQ(g.error(), Error::BadAddress);
  EXPECT_EQ(frames.free_count(), free0);
  EXPECT_EQ(Snap::now().since(s0).table_copies, 0u);
  EXPECT_EQ(leaf_table_of(c, 0), leaf_table_of(p, 0));
  EXPECT_EQ(frames.refcount(leaf_table_of(p, 0)), 2u);
}

// The kernel writing into the child (read() into a buffer) across the
// boundary of two shared tables: the child gets both pages (and both
// tables), the parent sees nothing of it.
TEST_F(SharedTable, KernelWriteAcrossTwoSharedTables) {
  AddressSpace &p = new_as();
  build_standard(p, 600);
  AddressSpace &c = new_as();
  ASSERT_TRUE(p.clone_into(c, ForkMode::Cow).ok());
  const uint64 lo = kTableSpan - P, hi = kTableSpan;
  std::vector<uint8> buf(2 * P);
  fill_frame(buf.data(), 7000 + lo);
  fill_frame(buf.data() + P, 7000 + hi);
  Snap s0 = Snap::now();
  ASSERT_TRUE(mm::copy_to_user(c, VirtAddr(lo), buf.data(), buf.size()).ok());
  Snap d = Snap::now().since(s0);
  EXPECT_EQ(d.table_copies, 2u);
  EXPECT_EQ(d.cow_copies, 2u);
  EXPECT_TRUE(holds(c, lo, 7000 + lo));
  EXPECT_TRUE(holds(c, hi, 7000 + hi));
  EXPECT_TRUE(holds(p, lo, lo));
  EXPECT_TRUE(holds(p, hi, hi));
  EXPECT_TRUE(holds(c, lo - P, lo - P)) << "the neighbours still show the parent's data";
  EXPECT_TRUE(holds(c, hi + P, hi + P));
  EXPECT_EQ(audit_live(), 0u);
}

// ForkMode::CowAhead, out of memory at every possible point of a write fault
// in a shared table that continues a sequential streak, so that the table
// copy and a copy-ahead run are done in one pass (copy_shared_run with a run
// of more than one page). The child writes the last pages of table 0 (the
// streak), then the first page of table 1 with only k frames to be had.
// Either the store succeeds (the page is the child's own copy; the run may
// have stopped short, the pages it did not reach still map the parent's
// frames), or it fails with NoMemory and nothing changed: the table is still
// shared, the entry is as it was, no frame was kept. The audit is clean,
// exiting the child returns every frame, and the parent's data is intact
// throughout. Finally, with no limit, the same fault copies a run ahead.
TEST_F(SharedTable, OutOfMemoryInACopyAheadFaultOnASharedTable) {
  AddressSpace &parent = new_as();
  build_standard(parent, 600); // addresses 8..607: tables 0 and 1
  const auto orig = frames_by_va(parent);
  const uint64 va = kTableSpan; // the first page of table 1

  // One child: fork, the streak, then the fault with `limit` frames to be
  // had (-1: no limit). Sets `ok` to whether the fault succeeded.
  auto attempt = [&](long limit, bool &ok) {
    SCOPED_TRACE(::testing::Message() << "fail after " << limit);
    const uint64 free0 = frames.free_count();
    AddressSpace child;
    ASSERT_TRUE(child.init().ok());
    ASSERT_TRUE(parent.clone_into(child, ForkMode::CowAhead).ok());
    // The streak: va - 3P (a new streak), va - 2P (continues, resolves va - P
    // ahead), so the fault at va continues it with a run of several pages.
    EXPECT_TRUE(child.handle_fault(VirtAddr(va - 3 * P), Access::Write).ok());
    EXPECT_TRUE(child.handle_fault(VirtAddr(va - 2 * P), Access::Write).ok());
    EXPECT_TRUE(privately_writable(child, va - P)) << "the streak resolved ahead";
    EXPECT_TRUE(child.page_table().shares_leaf_table(VirtAddr(va)));
    const Pte entry = *pte_of(child, va);
    const PhysAddr table1 = leaf_table_of(parent, va);

    const uint64 free1 = frames.free_count();
    frames.fail_after(limit);
    auto r = child.handle_fault(VirtAddr(va), Access::Write);
    frames.fail_after(-1);
    ok = r.ok();
    AddressSpace *both[] = {&parent, &child};
    EXPECT_EQ(mm::audit(both, 2, report_violation), 0u);
    if (r.ok()) {
      EXPECT_TRUE(privately_writable(child, va));
      EXPECT_NE(pte_of(child, va)->phys(), orig.at(va));
      EXPECT_TRUE(holds(child, va, va)) << "the copy has the parent's data";
      EXPECT_NE(leaf_table_of(child, va), table1);
      EXPECT_EQ(frames.refcount(table1), 1u) << "the parent's alone";
      // The run: a prefix of the pages after va, each a private copy; the
      // rest still the parent's frames, write-protected.
      bool in_run = true;
      for (uint64 p = va + P; p < heap_page(600); p += P) {
        EXPECT_TRUE(holds(child, p, p)) << std::hex << p;
        in_run = in_run && privately_writable(child, p);
        if (in_run) {
          EXPECT_NE(pte_of(child, p)->phys(), orig.at(p)) << std::hex << p;
        } else {
          EXPECT_FALSE(privately_writable(child, p)) << "a gap in the run at " << std::hex << p;
          EXPECT_EQ(pte_of(child, p)->phys(), orig.at(p)) << "not copied: still the parent's frame";
        }
      }
      if (limit < 0) {
        EXPECT_TRUE(privately_writable(child, va + P)) << "with memory, the run was copied ahead";
      }
    } else {
      EXPECT_EQ(r.error(), Error::NoMemory);
      EXPECT_EQ(frames.free_count(), free1) << "a failed fault keeps no frame";
      EXPECT_EQ(pte_of(child, va)->raw, entry.raw);
      EXPECT_EQ(leaf_table_of(child, va), table1) << "still shared";
      EXPECT_EQ(frames.refcount(table1), 2u);
    }
    child.destroy();
    EXPECT_EQ(frames.free_count(), free0) << "the child's exit returned every frame";
    for (auto &[v, pa] : orig) {
      ASSERT_EQ(pte_of(parent, v)->phys(), pa) << std::hex << v;
      ASSERT_TRUE(holds(parent, v, v)) << std::hex << v;
    }
    AddressSpace *just_parent[] = {&parent};
    EXPECT_EQ(mm::audit(just_parent, 1, report_violation), 0u);
  };

  int failures = 0;
  for (long k = 0;; k++) {
    ASSERT_LT(k, 64) << "the fault never succeeded";
    bool ok = false;
    attempt(k, ok);
    ASSERT_FALSE(HasFatalFailure());
    if (ok) break;
    failures++;
  }
  EXPECT_GE(failures, 2) << "the page and the table copy each need a frame";
  bool ok = false;
  attempt(-1, ok);
  EXPECT_TRUE(ok);
}

// Copy-ahead (copy_ahead.h) promises that a run "stops quietly if memory runs
// out (the fault itself is resolved regardless)". So a store that continues
// a streak must succeed whenever the memory for the store alone is there: in
// a private table one page, in a shared table one page and the table copy.
// The run gets what is left, possibly nothing.
//
// KERNEL BUG found by this test (it fails at eb49be5 and 5956a2b, passes
// from 5b61954 on): kernel/mm/address_space.cpp,
// AddressSpace::copy_shared_run filled a FrameTable::Supply with the frames
// of the whole run (1 + ahead, up to 64 at once) before unshare_leaf_table
// allocated the table copy. With memory short, the speculative run took the
// last frames, the table allocation failed, and the store failed with
// NoMemory (the process would be killed) although a page and a table were
// there. Here: two frames left, a continuing store at the start of a shared
// table (a run of 4 or more planned) failed; with one frame left the same
// kind of store in a private table succeeded, as resolve_cow goes first
// there and resolve_ahead gets the rest.
TEST_F(SharedTable, CopyAheadNeverCostsTheFaultItsMemory) {
  AddressSpace &parent = new_as();
  build_standard(parent, 600);
  AddressSpace &child = new_as();
  ASSERT_TRUE(parent.clone_into(child, ForkMode::CowAhead).ok());

  // Private table: a streak in table 0, then a continuing fault with one
  // frame left. The fault gets it; the run stops quietly.
  const uint64 a = kTableSpan - 10 * P;
  ASSERT_TRUE(child.handle_fault(VirtAddr(a), Access::Write).ok()); // new streak; table 0 copied
  ASSERT_TRUE(child.handle_fault(VirtAddr(a + P), Access::Write).ok());
  ASSERT_TRUE(privately_writable(child, a + 3 * P)) << "resolved ahead";
  ASSERT_FALSE(privately_writable(child, a + 4 * P));
  frames.fail_after(1);
  auto r1 = child.handle_fault(VirtAddr(a + 4 * P), Access::Write);
  frames.fail_after(-1);
  EXPECT_TRUE(r1.ok()) << "private table, one frame left";
  EXPECT_TRUE(privately_writable(child, a + 4 * P));
  EXPECT_TRUE(holds(child, a + 4 * P, a + 4 * P));

  // Shared table: a streak ending at table 0's end, then a continuing fault
  // at the start of table 1 with two frames left: the page and the table.
  const uint64 b = kTableSpan;
  for (uint64 v = a + 5 * P; v < b; v += P) {
    if (!privately_writable(child, v)) {
      ASSERT_TRUE(child.handle_fault(VirtAddr(v), Access::Write).ok());
    }
  }
  ASSERT_TRUE(child.page_table().shares_leaf_table(VirtAddr(b)));
  frames.fail_after(2);
  auto r2 = child.handle_fault(VirtAddr(b), Access::Write);
  frames.fail_after(-1);
  EXPECT_TRUE(r2.ok()) << "shared table, a page and a table's worth of memory left: the store should "
                          "succeed and the copy-ahead run stop quietly (the bug: NoMemory)";
  if (r2.ok()) {
    EXPECT_TRUE(privately_writable(child, b));
    EXPECT_TRUE(holds(child, b, b));
    EXPECT_NE(leaf_table_of(child, b), leaf_table_of(parent, b));
    EXPECT_FALSE(privately_writable(child, b + P)) << "no memory was left for the run";
    EXPECT_EQ(pte_of(child, b + P)->phys(), pte_of(parent, b + P)->phys());
  }
  EXPECT_EQ(audit_live(), 0u);
}

// ForkMode::CowAhead: a child writing all of a heap that spans three leaf
// tables, page after page (faulting only where the MMU would: the page is
// not writable). The heap starts 64 pages below the first 2 MiB boundary:
// 64 pages in table 0, all 512 of table 1, 64 in table 2. The runs double
// within a table and carry on across the boundary, where the table copy and
// the run are one pass: few faults, one table copy per table, every page a
// private copy that starts with the parent's data; the parent keeps its own
// frames, each mapped once again (refcount 1) once the child has copied.
TEST_F(SharedTable, CopyAheadCopiesEachSharedTableOnceWithItsRun) {
  constexpr uint64 kHeapStart = kTableSpan - 64 * P, kPages = 640;
  AddressSpace &parent = new_as();
  build_with_heap_at(parent, kHeapStart, kPages);
  const auto orig = frames_by_va(parent);
  AddressSpace &child = new_as();
  ASSERT_TRUE(parent.clone_into(child, ForkMode::CowAhead).ok());
  for (uint64 t = 0; t < 3; t++)
    ASSERT_EQ(leaf_table_of(child, t * kTableSpan), leaf_table_of(parent, t * kTableSpan));

  Snap s0 = Snap::now();
  const uint64 ahead0 = mm::counters.cow_ahead.load();
  uint64 faults = 0;
  for (uint64 i = 0; i < kPages; i++) {
    const uint64 va = kHeapStart + i * P;
    SCOPED_TRACE(::testing::Message() << "heap page " << i);
    Pte *p = pte_of(child, va);
    ASSERT_TRUE(p && p->valid());
    if (!p->has(pte::Write)) {
      const bool shared = child.page_table().shares_leaf_table(VirtAddr(va));
      ASSERT_TRUE(child.handle_fault(VirtAddr(va), Access::Write).ok());
      faults++;
      // At a boundary the streak carries on: the fault in the next (shared)
      // table copies the table and a run in one go.
      if (shared && va % kTableSpan == 0) {
        EXPECT_TRUE(privately_writable(child, va + P)) << "the table copy came with a run";
      }
    }
    ASSERT_TRUE(privately_writable(child, va));
    EXPECT_NE(pte_of(child, va)->phys(), orig.at(va)) << "still the parent's frame";
    EXPECT_TRUE(holds(child, va, va)) << "the copy lost the parent's data";
    fill_frame(frame_of(child, va), 50000 + va); // the child's store
  }
  Snap d = Snap::now().since(s0);
  EXPECT_EQ(d.table_copies, 3u) << "one per table written in";
  EXPECT_EQ(d.cow_faults, faults);
  EXPECT_LE(faults, 16u) << "runs double: about log2(512) faults per table, fewer after the first";
  EXPECT_EQ(d.cow_copies, kPages) << "the parent still maps every frame: all copies";
  EXPECT_EQ(d.cow_reuses, 0u);
  EXPECT_EQ(mm::counters.cow_ahead.load() - ahead0, kPages - faults);

  for (uint64 t = 0; t < 3; t++) {
    EXPECT_NE(leaf_table_of(child, t * kTableSpan), leaf_table_of(parent, t * kTableSpan));
    EXPECT_EQ(frames.refcount(leaf_table_of(parent, t * kTableSpan)), 1u);
  }
  for (auto &[va, pa] : orig) {
    EXPECT_EQ(pte_of(parent, va)->phys(), pa);
    EXPECT_TRUE(holds(parent, va, va)) << "the child's stores showed in the parent: " << std::hex << va;
    if (va >= kHeapStart) {
      EXPECT_EQ(frames.refcount(pa), 1u) << std::hex << va;
      EXPECT_TRUE(holds(child, va, 50000 + va));
      EXPECT_EQ(frames.refcount(pte_of(child, va)->phys()), 1u);
    } else {
      EXPECT_EQ(frames.refcount(pa), 2u) << "text, data, stack: mapped by both tables 0";
      EXPECT_EQ(sharers(pa), 2u);
    }
  }
  EXPECT_EQ(audit_live(), 0u);
}

// Many harts, one family sharing its leaf tables (a data region straddling
// a 2 MiB boundary, so two shared tables plus the text's). Each thread owns
// one member (in the kernel its vm_lock; here only that thread touches it)
// and at the same time:
//  - writers store to every page;
//  - forkers store to a page, fork a child of their own (Cow or CowAhead),
//    check it sees their data, let it store to a page, and destroy it,
//    several times;
//  - exiters check their pages, maybe store to one, and destroy themselves.
// Afterwards every survivor holds exactly its own data, the audit is clean,
// and destroying the family returns every frame. The family's own fork mode
// alternates between Cow and CowAhead (then writers take the fused path).
TEST_F(SharedTable, WritesForksAndExitsAtOnce) {
  constexpr int kThreads = NCPU; // the main thread plus NCPU - 1 others
  constexpr uint64 kPages = 24;
  constexpr uint64 kData = kTableSpan - 12 * P; // 12 pages in table 0, 12 in table 1
  constexpr int kRounds = 4, kForks = 4;
  enum Role { Writer, Forker, Exiter };
  auto role = [](int t) { return Role(t % 3); };
  auto va_of = [](uint64 page) { return kData + page * P; };
  auto forker_page = [](int t, int f) { return uint64(f * 5 + t) % kPages; };

  Team team;
  for (int round = 0; round < kRounds; round++) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    const ForkMode family_mode = round % 2 ? ForkMode::CowAhead : ForkMode::Cow;
    const uint64 free_before = frames.free_count();
    auto seed = [&](int t, uint64 page) { return 1000000 * (round + 1) + 1000 * (t + 1) + page; };
    // What member t should hold at `page` once every thread is done.
    auto expected = [&](int t, uint64 page) {
      if (role(t) == Writer) return seed(t, page);
      for (int f = 0; f < kForks; f++)
        if (forker_page(t, f) == page) return seed(t, page);
      return va_of(page);
    };

    std::vector<AddressSpace *> fam;
    AddressSpace &parent = new_as();
    ASSERT_TRUE(parent.add_region(0, P, prot::Read | prot::Exec, RegionKind::Text).ok());
    ASSERT_TRUE(
        parent.add_region(kData, kData + kPages * P, prot::Read | prot::Write, RegionKind::Data).ok());
    for (auto &[va, p] : leaves(parent)) fill_frame(mm::phys_to_ptr(p.phys()), va);
    fam.push_back(&parent);
    for (int i = 1; i < kThreads; i++) {
      AddressSpace &c = new_as();
      ASSERT_TRUE(parent.clone_into(c, family_mode).ok());
      fam.push_back(&c);
    }
    ASSERT_EQ(frames.refcount(leaf_table_of(parent, kData)), uint32(kThreads));
    ASSERT_EQ(frames.refcount(leaf_table_of(parent, kTableSpan)), uint32(kThreads));

    team.run(kThreads, [&](int t, std::vector<std::string> &err) {
      AddressSpace &as = *fam[t];
      auto check = [&](AddressSpace &a, uint64 page, uint64 s, const char *what) {
        uint8 *f = frame_of(a, va_of(page));
        if (!f || !frame_has(f, s)) err.push_back(std::string(what) + ", page " + std::to_string(page));
      };
      switch (role(t)) {
      case Writer:
        for (uint64 j = 0; j < kPages; j++) {
          uint64 page = (j + 3 * t) % kPages; // sequential, from different places
          check(as, page, va_of(page), "shared page changed under a writer");
          store(as, va_of(page), seed(t, page), err);
        }
        break;
      case Forker:
        for (int f = 0; f < kForks; f++) {
          uint64 mine = forker_page(t, f);
          store(as, va_of(mine), seed(t, mine), err);
          AddressSpace kid;
          if (kid.init().is_error()) {
            err.push_back("kid init failed");
            continue;
          }
          if (as.clone_into(kid, f % 2 ? ForkMode::CowAhead : ForkMode::Cow).is_error()) {
            err.push_back("fork failed");
          } else {
            // The kid sees this member's data as of the fork.
            for (uint64 page = 0; page < kPages; page++) {
              bool written = false;
              for (int g = 0; g <= f; g++) written |= forker_page(t, g) == page;
              check(kid, page, written ? seed(t, page) : va_of(page), "kid sees the wrong data");
            }
            uint64 theirs = (mine + 1 + f) % kPages;
            store(kid, va_of(theirs), 999000 + theirs, err);
            check(kid, theirs, 999000 + theirs, "kid lost its store");
          }
          kid.destroy();
        }
        break;
      case Exiter:
        for (uint64 page = 0; page < kPages; page++)
          check(as, page, va_of(page), "shared page changed under an exiter");
        if ((t / 3) % 2) store(as, va_of(uint64(t) % kPages), 777, err); // a table of its own first
        as.destroy();
        break;
      }
    });

    for (int t = 0; t < kThreads; t++) {
      if (role(t) == Exiter) {
        EXPECT_TRUE(fam[t]->is_null());
        continue;
      }
      for (uint64 page = 0; page < kPages; page++) {
        EXPECT_TRUE(holds(*fam[t], va_of(page), expected(t, page))) << "member " << t << " page " << page;
        EXPECT_GE(frames.refcount(pte_of(*fam[t], va_of(page))->phys()), 1u);
      }
      EXPECT_TRUE(holds(*fam[t], 0, 0)) << "member " << t << " text";
    }
    EXPECT_EQ(audit_live(), 0u);
    for (AddressSpace *as : fam) as->destroy();
    EXPECT_EQ(frames.free_count(), free_before);
    EXPECT_EQ(frames.count_free_lists(), free_before);
  }
}

} // namespace
} // namespace mmtest

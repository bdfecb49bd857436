// fork: copy-on-write sharing, the single COW resolution, eager copying, and
// running out of memory halfway.
#include <map>

#include "mm_fixture.h"

namespace mm {
// Test names and failure messages say "Cow"/"Eager", not raw bytes.
inline void PrintTo(ForkMode m, std::ostream *os) { *os << (m == ForkMode::Cow ? "Cow" : "Eager"); }
} // namespace mm

namespace mmtest {
namespace {

using mm::Access;
using mm::ForkMode;
using mm::frames;
using mm::RegionKind;
namespace prot = mm::prot;
namespace pte = mm::pte;
using namespace layout;

class Cow : public MmTest {
protected:
  // Build a parent with the standard layout (2 heap pages) and fork it.
  void fork_family(AddressSpace *&parent, AddressSpace *&child, ForkMode mode = ForkMode::Cow) {
    parent = &new_as();
    build_standard(*parent, 2);
    child = &new_as();
    ASSERT_TRUE(parent->clone_into(*child, mode).ok());
  }
  static bool is_text(uint64 va) { return va < text_end; }
};

TEST_F(Cow, ForkSharesEveryFrameAndCopiesNothing) {
  AddressSpace &parent = new_as();
  build_standard(parent, 2);
  auto before = leaves(parent);
  ASSERT_EQ(before.size(), 9u);
  uint64 free0 = frames.free_count();
  Snap s0 = Snap::now();
  hostfake::reset_counters();

  AddressSpace &child = new_as();
  ASSERT_TRUE(parent.clone_into(child, ForkMode::Cow).ok());

  EXPECT_EQ(free0 - frames.free_count(), 2u)
      << "only the child's root and L1 table: the leaf table is shared";
  Snap d = Snap::now().since(s0);
  EXPECT_EQ(d.fork_shared, 9u);
  EXPECT_EQ(d.table_shares, 1u);
  EXPECT_EQ(leaf_table_of(child, 0), leaf_table_of(parent, 0));
  EXPECT_EQ(frames.refcount(leaf_table_of(parent, 0)), 2u);
  EXPECT_EQ(d.fork_copied, 0u);
  EXPECT_EQ(d.cow_faults, 0u);
  EXPECT_TRUE(tlb_covered(7)) << "the parent's seven writable PTEs lost W: their TLB entries must go";

  auto after_p = leaves(parent), after_c = leaves(child);
  ASSERT_EQ(after_p.size(), before.size());
  ASSERT_EQ(after_c.size(), before.size());
  for (size_t i = 0; i < before.size(); i++) {
    uint64 va = before[i].first;
    Pte orig = before[i].second, p = after_p[i].second, c = after_c[i].second;
    SCOPED_TRACE(::testing::Message() << "va " << std::hex << va);
    EXPECT_EQ(after_p[i].first, va);
    EXPECT_EQ(after_c[i].first, va);
    EXPECT_EQ(p.phys(), orig.phys());
    EXPECT_EQ(c.phys(), orig.phys());
    EXPECT_EQ(sharers(orig.phys()), 2u);
    EXPECT_EQ(frames.refcount(orig.phys()), 1u) << "one leaf table maps it";
    EXPECT_FALSE(p.raw & pte::Write);
    EXPECT_FALSE(c.raw & pte::Write);
    if (is_text(va)) {
      EXPECT_EQ(p.raw, orig.raw) << "text is shared as it is";
      EXPECT_EQ(c.raw, orig.raw);
      EXPECT_FALSE(c.raw & pte::Cow);
    } else {
      EXPECT_TRUE(p.has(pte::Cow | pte::Read | pte::User | pte::Valid));
      EXPECT_TRUE(c.has(pte::Cow | pte::Read | pte::User | pte::Valid));
      EXPECT_EQ(p.raw, (orig.raw & ~pte::Write) | pte::Cow);
      EXPECT_EQ(c.raw, p.raw);
    }
    EXPECT_TRUE(frame_has(mm::phys_to_ptr(c.phys()), va));
  }
  EXPECT_EQ(child.size(), parent.size());
  EXPECT_EQ(child.heap_start(), parent.heap_start());
  ASSERT_NE(child.find_region(stack), nullptr);
  EXPECT_EQ(child.find_region(stack)->kind, RegionKind::Stack);
  EXPECT_EQ(child.find_region(guard), nullptr);
  EXPECT_EQ(audit_live(), 0u);
}

TEST_F(Cow, ChildWriteCopiesThenParentWriteReuses) {
  AddressSpace *parent, *child;
  fork_family(parent, child);
  const uint64 va = data + P;
  PhysAddr shared = pte_of(*parent, va)->phys();

  Snap s0 = Snap::now();
  uint64 free0 = frames.free_count();
  hostfake::reset_counters();
  ASSERT_TRUE(child->handle_fault(VirtAddr(va + 8), Access::Write).ok());
  Pte c = *pte_of(*child, va);
  EXPECT_TRUE(c.has(pte::Valid | pte::Read | pte::Write | pte::User));
  EXPECT_FALSE(c.raw & pte::Cow);
  EXPECT_NE(c.phys(), shared);
  EXPECT_EQ(frames.refcount(c.phys()), 1u);
  EXPECT_EQ(frames.refcount(shared), 1u);
  EXPECT_EQ(free0 - frames.free_count(), 2u) << "the page, and the child's own copy of the leaf table";
  EXPECT_TRUE(tlb_covered(1));
  Snap d = Snap::now().since(s0);
  EXPECT_EQ(d.table_copies, 1u);
  EXPECT_NE(leaf_table_of(*child, va), leaf_table_of(*parent, va));
  EXPECT_EQ(frames.refcount(leaf_table_of(*parent, va)), 1u);
  EXPECT_EQ(d.cow_faults, 1u);
  EXPECT_EQ(d.cow_copies, 1u);
  EXPECT_EQ(d.cow_reuses, 0u);
  EXPECT_TRUE(frame_has(frame_of(*child, va), va)) << "the copy starts with the old contents";

  // Isolation, child -> parent.
  fill_frame(frame_of(*child, va), 777);
  EXPECT_TRUE(frame_has(frame_of(*parent, va), va));

  // The parent now holds the only reference: its store reuses the frame.
  Snap s1 = Snap::now();
  uint64 free1 = frames.free_count();
  ASSERT_TRUE(parent->handle_fault(VirtAddr(va), Access::Write).ok());
  Pte p = *pte_of(*parent, va);
  EXPECT_EQ(p.phys(), shared);
  EXPECT_TRUE(p.has(pte::Write));
  EXPECT_FALSE(p.raw & pte::Cow);
  EXPECT_EQ(frames.free_count(), free1) << "reuse allocates nothing";
  d = Snap::now().since(s1);
  EXPECT_EQ(d.cow_copies, 0u);
  EXPECT_EQ(d.cow_reuses, 1u);

  // Isolation, parent -> child.
  fill_frame(frame_of(*parent, va), 888);
  EXPECT_TRUE(frame_has(frame_of(*child, va), 777));

  // The other pages are still shared.
  for (uint64 other : {data, data + 2 * P, stack, heap}) {
    EXPECT_EQ(pte_of(*child, other)->phys(), pte_of(*parent, other)->phys());
    EXPECT_EQ(frames.refcount(pte_of(*child, other)->phys()), 2u) << "two leaf tables map it now";
  }
  EXPECT_EQ(audit_live(), 0u);
}

TEST_F(Cow, ParentReusesEveryPageOnceTheChildHasExited) {
  AddressSpace *parent, *child;
  fork_family(parent, child);
  child->destroy();
  Snap s0 = Snap::now();
  uint64 free0 = frames.free_count();
  for (uint64 va : writable_pages(*parent))
    ASSERT_TRUE(parent->handle_fault(VirtAddr(va), Access::Write).ok());
  Snap d = Snap::now().since(s0);
  EXPECT_EQ(d.cow_copies, 0u);
  EXPECT_EQ(d.cow_reuses, 7u);
  EXPECT_EQ(frames.free_count(), free0);
}

// P1 forks P2, P2 forks P3: every writable frame has three sharers. P3's
// store copies, P1's store copies, and P2, left alone, reuses.
TEST_F(Cow, ThreeGenerations) {
  AddressSpace &p1 = new_as();
  build_standard(p1, 2);
  std::map<uint64, PhysAddr> orig;
  for (auto &[va, p] : leaves(p1)) orig[va] = p.phys();
  AddressSpace &p2 = new_as();
  ASSERT_TRUE(p1.clone_into(p2, ForkMode::Cow).ok());
  AddressSpace &p3 = new_as();
  ASSERT_TRUE(p2.clone_into(p3, ForkMode::Cow).ok());
  for (auto &[va, pa] : orig) EXPECT_EQ(sharers(pa), 3u);
  EXPECT_EQ(frames.refcount(leaf_table_of(p1, 0)), 3u) << "one leaf table, three sharers";
  EXPECT_EQ(audit_live(), 0u);

  auto pages = writable_pages(p1);
  const uint64 n = pages.size();
  ASSERT_EQ(n, 7u);
  Snap s0 = Snap::now();
  auto write_all = [&](AddressSpace &as, uint64 seed) {
    for (uint64 va : pages) {
      ASSERT_TRUE(as.handle_fault(VirtAddr(va), Access::Write).ok());
      ASSERT_TRUE(pte_of(as, va)->has(pte::Write));
      fill_frame(frame_of(as, va), seed + va);
    }
  };
  write_all(p3, 3000);
  Snap d = Snap::now().since(s0);
  EXPECT_EQ(d.cow_copies, n);
  EXPECT_EQ(d.cow_reuses, 0u);
  write_all(p1, 1000);
  d = Snap::now().since(s0);
  EXPECT_EQ(d.cow_copies, 2 * n);
  EXPECT_EQ(d.cow_reuses, 0u);
  write_all(p2, 2000);
  d = Snap::now().since(s0);
  EXPECT_EQ(d.cow_copies, 2 * n);
  EXPECT_EQ(d.cow_reuses, n);
  EXPECT_EQ(d.cow_faults, 3 * n);

  for (uint64 va : pages) {
    EXPECT_EQ(pte_of(p2, va)->phys(), orig[va]) << "the last sharer keeps the original frame";
    EXPECT_TRUE(frame_has(frame_of(p1, va), 1000 + va));
    EXPECT_TRUE(frame_has(frame_of(p2, va), 2000 + va));
    EXPECT_TRUE(frame_has(frame_of(p3, va), 3000 + va));
    for (AddressSpace *as : {&p1, &p2, &p3}) EXPECT_EQ(frames.refcount(pte_of(*as, va)->phys()), 1u);
  }
  for (uint64 va : {text, text + P}) EXPECT_EQ(sharers(orig[va]), 3u) << "text stays shared";
  EXPECT_EQ(audit_live(), 0u);
}

TEST_F(Cow, EagerForkCopiesEveryPage) {
  AddressSpace &parent = new_as();
  build_standard(parent, 2);
  auto before = leaves(parent);
  uint64 free0 = frames.free_count();
  Snap s0 = Snap::now();
  AddressSpace &child = new_as();
  ASSERT_TRUE(parent.clone_into(child, ForkMode::Eager).ok());
  Snap d = Snap::now().since(s0);
  EXPECT_EQ(d.fork_copied, before.size());
  EXPECT_EQ(d.fork_shared, 0u);
  EXPECT_EQ(free0 - frames.free_count(), 3u + before.size());

  auto after_p = leaves(parent), after_c = leaves(child);
  ASSERT_EQ(after_c.size(), before.size());
  for (size_t i = 0; i < before.size(); i++) {
    uint64 va = before[i].first;
    SCOPED_TRACE(::testing::Message() << "va " << std::hex << va);
    EXPECT_EQ(after_p[i].second.raw, before[i].second.raw) << "the parent is untouched";
    Pte c = after_c[i].second;
    EXPECT_EQ(after_c[i].first, va);
    EXPECT_NE(c.phys(), before[i].second.phys());
    EXPECT_EQ(c.flags(), before[i].second.flags());
    EXPECT_EQ(frames.refcount(c.phys()), 1u);
    EXPECT_EQ(frames.refcount(before[i].second.phys()), 1u);
    EXPECT_TRUE(frame_has(mm::phys_to_ptr(c.phys()), va));
  }
  // Stores need no COW fault in either.
  Snap s1 = Snap::now();
  for (uint64 va : writable_pages(child)) {
    ASSERT_TRUE(child.handle_fault(VirtAddr(va), Access::Write).ok());
    fill_frame(frame_of(child, va), 5000 + va);
    EXPECT_TRUE(frame_has(frame_of(parent, va), va));
  }
  EXPECT_EQ(Snap::now().since(s1).cow_faults, 0u);
  EXPECT_EQ(audit_live(), 0u);
}

TEST_F(Cow, EagerForkOfACowPageGivesAPrivateWritablePage) {
  AddressSpace *parent, *child;
  fork_family(parent, child); // every writable page now Cow, refs 2
  AddressSpace &grandchild = new_as();
  ASSERT_TRUE(child->clone_into(grandchild, ForkMode::Eager).ok());
  for (uint64 va : writable_pages(grandchild)) {
    Pte g = *pte_of(grandchild, va);
    EXPECT_TRUE(g.has(pte::Write));
    EXPECT_FALSE(g.raw & pte::Cow);
    EXPECT_EQ(frames.refcount(g.phys()), 1u);
    EXPECT_EQ(pte_of(*child, va)->phys(), pte_of(*parent, va)->phys()) << "parent and child still share";
    EXPECT_TRUE(frame_has(frame_of(grandchild, va), va));
  }
  for (uint64 va : {text, text + P}) EXPECT_FALSE(pte_of(grandchild, va)->raw & pte::Write);
  EXPECT_EQ(audit_live(), 0u);
}

// Out of memory in a COW fault, at either of its two allocations (the page,
// and the child's copy of the shared leaf table): the store fails with
// NoMemory and everything stays as it was, shared and intact. Then the same
// in a leaf table of its own, where only the page is needed.
TEST_F(Cow, OutOfMemoryInACowFaultLeavesThePageShared) {
  AddressSpace *parent, *child;
  fork_family(parent, child);
  const uint64 va = data + 2 * P;
  Pte pc = *pte_of(*child, va), pp = *pte_of(*parent, va);
  uint64 free0 = frames.free_count();

  for (long k : {0, 1}) {
    SCOPED_TRACE(::testing::Message() << "fail after " << k);
    frames.fail_after(k);
    auto r = child->handle_fault(VirtAddr(va), Access::Write);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error(), Error::NoMemory);
    const char byte = 'x';
    frames.fail_after(k);
    auto w = mm::copy_to_user(*child, VirtAddr(va + 3), &byte, 1);
    ASSERT_TRUE(w.is_error());
    EXPECT_EQ(w.error(), Error::NoMemory);
    frames.fail_after(-1);
    EXPECT_EQ(leaf_table_of(*child, va), leaf_table_of(*parent, va)) << "the leaf table is still shared";
    EXPECT_EQ(pte_of(*child, va)->raw, pc.raw);
    EXPECT_EQ(frames.free_count(), free0);
    EXPECT_TRUE(frame_has(frame_of(*parent, va), va)) << "nothing was written through the shared frame";
    EXPECT_EQ(audit_live(), 0u);
  }

  // The child writes another page: it now has a leaf table of its own.
  ASSERT_TRUE(child->handle_fault(VirtAddr(data), Access::Write).ok());
  ASSERT_NE(leaf_table_of(*child, va), leaf_table_of(*parent, va));
  EXPECT_EQ(frames.refcount(pc.phys()), 2u) << "mapped by both leaf tables";
  uint64 free1 = frames.free_count();
  frames.fail_after(0);
  auto r = child->handle_fault(VirtAddr(va), Access::Write);
  frames.fail_after(-1);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), Error::NoMemory);
  EXPECT_EQ(pte_of(*child, va)->raw, pc.raw);
  EXPECT_EQ(pte_of(*parent, va)->raw, pp.raw);
  EXPECT_EQ(frames.refcount(pc.phys()), 2u);
  EXPECT_EQ(frames.free_count(), free1);
  EXPECT_EQ(audit_live(), 0u);

  // With memory back, the same store works.
  ASSERT_TRUE(child->handle_fault(VirtAddr(va), Access::Write).ok());
  EXPECT_NE(pte_of(*child, va)->phys(), pc.phys());
  EXPECT_TRUE(frame_has(frame_of(*child, va), va));
  EXPECT_EQ(audit_live(), 0u);
}

// fork that runs out of memory after k successful allocations, for every k
// until it succeeds: the error is NoMemory, parent and partial child pass the
// audit together, destroying the child returns every frame it took, and the
// parent still holds its data and can write it.
class CowOom : public Cow, public ::testing::WithParamInterface<ForkMode> {};

TEST_P(CowOom, CloneIntoFailingAnywhereLeavesTheParentConsistent) {
  const ForkMode mode = GetParam();
  AddressSpace &parent = new_as();
  build_standard(parent, 2);
  // Spread the parent over several last-level tables and two gigabytes, so
  // the child needs several table allocations.
  ASSERT_TRUE(
      parent.add_region(4UL << 20, (4UL << 20) + 2 * P, prot::Read | prot::Write, RegionKind::Data).ok());
  ASSERT_TRUE(
      parent.add_region(1UL << 30, (1UL << 30) + 2 * P, prot::Read | prot::Write, RegionKind::Data).ok());
  for (auto &[va, p] : leaves(parent)) fill_frame(mm::phys_to_ptr(p.phys()), va);
  std::map<uint64, PhysAddr> frame_at_va;
  for (auto &[va, p] : leaves(parent)) frame_at_va[va] = p.phys();

  int failures = 0;
  for (long k = 0;; k++) {
    ASSERT_LT(k, 100) << "clone_into never succeeded";
    auto before = leaves(parent);
    uint64 free0 = frames.free_count();
    AddressSpace child;
    ASSERT_TRUE(child.init().ok());
    frames.fail_after(k);
    auto r = parent.clone_into(child, mode);
    frames.fail_after(-1);
    AddressSpace *both[] = {&parent, &child};
    EXPECT_EQ(mm::audit(both, 2, report_violation), 0u) << "k=" << k;
    child.destroy();
    EXPECT_EQ(frames.free_count(), free0) << "k=" << k << ": the partial child leaked";
    AddressSpace *just_parent[] = {&parent};
    EXPECT_EQ(mm::audit(just_parent, 1, report_violation), 0u) << "k=" << k;
    auto after = leaves(parent);
    ASSERT_EQ(after.size(), before.size());
    for (size_t i = 0; i < after.size(); i++) {
      EXPECT_EQ(after[i].second.phys(), frame_at_va[after[i].first]);
      EXPECT_TRUE(frame_has(mm::phys_to_ptr(after[i].second.phys()), after[i].first));
      if (mode == ForkMode::Eager) {
        EXPECT_EQ(after[i].second.raw, before[i].second.raw);
      }
    }
    if (r.ok()) break;
    EXPECT_EQ(r.error(), Error::NoMemory) << "k=" << k;
    failures++;
  }
  // Cow: one L1 table per gigabyte (the leaf tables are shared); Eager: the
  // L1 and leaf tables and every page.
  EXPECT_GE(failures, mode == ForkMode::Cow ? 2 : 5) << "allocations the child needed";

  // The parent, alone again, writes everything without copying.
  Snap s0 = Snap::now();
  for (auto &[va, p] : leaves(parent)) {
    if (va < text_end) continue;
    ASSERT_TRUE(parent.handle_fault(VirtAddr(va), Access::Write).ok());
    EXPECT_EQ(pte_of(parent, va)->phys(), frame_at_va[va]);
  }
  EXPECT_EQ(Snap::now().since(s0).cow_copies, 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, CowOom, ::testing::Values(ForkMode::Cow, ForkMode::Eager),
                         [](const auto &info) { return info.param == ForkMode::Cow ? "Cow" : "Eager"; });

// FORK_COW_AHEAD: a child writing its heap page after page is resolved in
// runs, with fewer faults than pages; every page still ends private with the
// right contents, and the parent sees none of it. Plain Cow resolves exactly
// the pages written (checked by the tests above).
TEST_F(Cow, CopyAheadResolvesRunsOfSequentialWrites) {
  constexpr uint64 pages = 100;
  AddressSpace &parent = new_as();
  build_standard(parent, pages);
  AddressSpace &child = new_as();
  ASSERT_TRUE(parent.clone_into(child, ForkMode::CowAhead).ok());

  Snap s0 = Snap::now();
  uint64 ahead0 = mm::counters.cow_ahead.load();
  uint64 faults = 0;
  for (uint64 i = 0; i < pages; i++) {
    uint64 va = heap + i * P;
    Pte *p = pte_of(child, va);
    ASSERT_TRUE(p && p->valid());
    if (!p->has(pte::Write)) { // what the MMU would fault on
      ASSERT_TRUE(child.handle_fault(VirtAddr(va), Access::Write).ok());
      faults++;
    }
    p = pte_of(child, va);
    ASSERT_TRUE(p->has(pte::Write) && !(p->raw & pte::Cow)) << "page " << i;
    EXPECT_TRUE(frame_has(frame_of(child, va), va)) << "page " << i << " lost its contents";
    EXPECT_NE(frame_of(child, va), frame_of(parent, va)) << "page " << i << " still shared";
  }
  Snap d = Snap::now().since(s0);
  EXPECT_EQ(d.cow_faults, faults);
  EXPECT_LT(faults, pages / 4) << "runs should grow: 1, 2, 4, ... pages per fault";
  EXPECT_EQ(d.cow_copies + d.cow_reuses, pages);
  EXPECT_EQ(mm::counters.cow_ahead.load() - ahead0, pages - faults);
  for (uint64 i = 0; i < pages; i++) EXPECT_TRUE(frame_has(frame_of(parent, heap + i * P), heap + i * P));
  EXPECT_EQ(audit_live(), 0u);

  // A write that does not continue the run resolves just its own page.
  Snap s1 = Snap::now();
  ASSERT_TRUE(parent.handle_fault(VirtAddr(data), Access::Write).ok());
  Snap d1 = Snap::now().since(s1);
  EXPECT_EQ(d1.cow_faults, 1u);
  EXPECT_EQ(d1.cow_copies + d1.cow_reuses, 1u);
}

} // namespace
} // namespace mmtest

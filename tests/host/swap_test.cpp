// Swap slots, the swap cache, the reverse map and reclaim, with a fake disk.
#include <set>

#include "fake_swap.h"
#include "mm/rmap.h"
#include "mm_fixture.h"

namespace mmtest {
namespace {

using mm::frames;
using mm::FrameKind;
namespace swap = mm::swap;

class Swap : public MmTest {
protected:
  static constexpr uint64 kSlots = 512;

  void SetUp() override {
    MmTest::SetUp();
    ASSERT_TRUE(swap::init(&disk_).ok());
    start_free_ = frames.free_count(); // the slot counts' frames stay
  }
  void TearDown() override {
    MmTest::TearDown();
    EXPECT_EQ(swap::free_slots(), kSlots) << "swap slots leaked";
    EXPECT_TRUE(swap::init(nullptr).ok());
  }

  // The distinct entries that map `pa`, as the reverse map finds them.
  std::set<Pte *> rmap_entries(PhysAddr pa) {
    std::set<Pte *> seen;
    mm::rmap::walk(&pa, 1, [&](uint64 i, mm::rmap::Entry e) {
      EXPECT_EQ(i, 0u);
      EXPECT_EQ(e.pte.phys(), pa);
      EXPECT_EQ(pte_of(e.as, e.va.value), &e.pte);
      seen.insert(&e.pte);
    });
    return seen;
  }

  FakeSwapDisk disk_{kSlots};
};

TEST_F(Swap, SlotsCountEntriesAndTheCache) {
  EXPECT_EQ(swap::total_slots(), kSlots);
  EXPECT_EQ(swap::free_slots(), kSlots);
  AddressSpace &as = new_as();
  build_standard(as, 1);
  PhysAddr pa = pte_of(as, layout::heap)->phys();
  {
    std::lock_guard g(lock_of(as)); // as reclaim would hold it
    auto s = swap::add_to_cache(pa);
    ASSERT_TRUE(s.ok());
    EXPECT_TRUE(swap::is_cache_page(pa));
    EXPECT_EQ(swap::slot_of(pa), s.value());
    EXPECT_EQ(swap::count(s.value()), 1u); // the cache's
    EXPECT_EQ(swap::free_slots(), kSlots - 1);
  }
  // Still mapped, no entry names the slot: write_out gives the page back
  // to anonymous memory instead of writing it.
  frames.hold(pa);
  EXPECT_FALSE(swap::write_out(pa));
  EXPECT_EQ(frames.kind(pa), FrameKind::Anon);
  EXPECT_EQ(swap::free_slots(), kSlots);
  EXPECT_EQ(disk_.writes(), 0);
}

TEST_F(Swap, ReverseMapFindsEveryEntryOnceThroughSharedTables) {
  AddressSpace &parent = new_as();
  build_standard(parent, 4);
  AddressSpace &a = new_as();
  AddressSpace &b = new_as();
  ASSERT_TRUE(parent.clone_into(a, mm::ForkMode::Cow).ok());
  ASSERT_TRUE(parent.clone_into(b, mm::ForkMode::Cow).ok());
  uint64 va = layout::heap + 2 * PAGE_SIZE;
  PhysAddr pa = pte_of(parent, va)->phys();
  // One leaf table, shared by all three: one entry.
  EXPECT_EQ(leaf_table_of(parent, va), leaf_table_of(a, va));
  EXPECT_EQ(rmap_entries(pa).size(), 1u);
  EXPECT_EQ(frames.mapcount(pa), 1u);
  // a writes another page of the table: it gets a table of its own, whose
  // entry for va maps the same frame. Two entries now.
  ASSERT_TRUE(a.handle_fault(VirtAddr(layout::heap), mm::Access::Write).ok());
  EXPECT_NE(leaf_table_of(parent, va), leaf_table_of(a, va));
  EXPECT_EQ(rmap_entries(pa).size(), 2u);
  EXPECT_EQ(frames.mapcount(pa), 2u);
  // A text page is private file-less memory here too (build_standard maps
  // anonymous frames): found at its own address.
  PhysAddr text = pte_of(parent, layout::text)->phys();
  EXPECT_EQ(rmap_entries(text).size(), frames.mapcount(text));
  // Busy address spaces are skipped, not waited for.
  {
    std::lock_guard g1(lock_of(parent)), g2(lock_of(b));
    EXPECT_EQ(rmap_entries(pa).size(), 1u); // only a's own table
  }
}

} // namespace
} // namespace mmtest

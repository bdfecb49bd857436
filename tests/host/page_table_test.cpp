// Sv39 page tables: walks, the user/kernel split, freeing.
#include "mm_fixture.h"

namespace mmtest {
namespace {

using mm::FrameKind;
using mm::frames;
using mm::PageTable;
namespace pte = mm::pte;

using PageTableTest = MmTest;

TEST_F(PageTableTest, CreateGivesAZeroedRoot) {
  auto pt = PageTable::create();
  ASSERT_TRUE(pt.ok());
  EXPECT_FALSE(pt.value().is_null());
  EXPECT_EQ(frames.kind(pt.value().root()), FrameKind::PageTable);
  EXPECT_TRUE(frame_is_zero(mm::phys_to_ptr(pt.value().root())));
  EXPECT_EQ(pt.value().satp() >> 60, 8u); // Sv39 mode
  EXPECT_EQ(pt.value().satp() & ((1UL << 44) - 1), pt.value().root().value >> 12);
  pt.value().destroy();
  EXPECT_TRUE(pt.value().is_null());
}

TEST_F(PageTableTest, MapThenFind) {
  PageTable pt = PageTable::create().value();
  const uint64 va = 0x12345000;
  EXPECT_EQ(pt.find(VirtAddr(va)), nullptr) << "no intermediate tables yet";

  auto slot = pt.find_or_create(VirtAddr(va));
  ASSERT_TRUE(slot.ok());
  EXPECT_FALSE(slot.value()->valid());
  PhysAddr pa = frames.alloc_zeroed(FrameKind::Anon).value();
  *slot.value() = Pte::make(pa, pte::Valid | pte::Read | pte::User);

  EXPECT_EQ(pt.find(VirtAddr(va)), slot.value());
  EXPECT_EQ(pt.find(VirtAddr(va + 0x123)), slot.value()) << "any address in the page";
  EXPECT_EQ(pt.find(VirtAddr(va))->phys(), pa);
  // A neighbour in the same last-level table: an entry exists but is invalid.
  Pte *next = pt.find(VirtAddr(va + PAGE_SIZE));
  ASSERT_NE(next, nullptr);
  EXPECT_FALSE(next->valid());
  // Another gigabyte: no tables there.
  EXPECT_EQ(pt.find(VirtAddr(va + (1UL << 30))), nullptr);
  // find_or_create again returns the same slot, allocating nothing.
  uint64 free_before = frames.free_count();
  EXPECT_EQ(pt.find_or_create(VirtAddr(va)).value(), slot.value());
  EXPECT_EQ(frames.free_count(), free_before);

  *slot.value() = Pte{};
  frames.unref(pa);
  pt.destroy();
}

TEST_F(PageTableTest, NonUserAddressesAreRejected) {
  PageTable pt = PageTable::create().value();
  uint64 free_before = frames.free_count();
  for (uint64 va : {USER_TOP, USER_TOP + PAGE_SIZE, kKernelVa, ~0UL & ~(PAGE_SIZE - 1), 1UL << 63}) {
    EXPECT_EQ(pt.find(VirtAddr(va)), nullptr) << std::hex << va;
    auto r = pt.find_or_create(VirtAddr(va));
    ASSERT_TRUE(r.is_error()) << std::hex << va;
    EXPECT_EQ(r.error(), Error::BadAddress);
  }
  EXPECT_EQ(frames.free_count(), free_before) << "a rejected walk must allocate nothing";
  // The last user page is fine, and lives under root entry 255.
  auto last = pt.find_or_create(VirtAddr(USER_TOP - PAGE_SIZE));
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(mm::phys_to_ptr<Pte>(pt.root())[255].valid());
  EXPECT_EQ(pt.find(VirtAddr(USER_TOP - 1)), last.value());
  pt.destroy();
}

TEST_F(PageTableTest, DestroyFreesEveryTableFrame) {
  PageTable pt = PageTable::create().value();
  uint64 free_before = frames.free_count();
  // Scattered addresses: different last-level tables and different gigabytes.
  for (uint64 va :
       {0UL, PAGE_SIZE, 2UL << 20, 5UL << 20, 1UL << 30, (7UL << 30) + (3UL << 21), USER_TOP - PAGE_SIZE})
    ASSERT_TRUE(pt.find_or_create(VirtAddr(va)).ok());
  // L1 tables for gigabytes 0, 1, 7, 255; L0 tables for 0/2M/4M in GiB 0, one each in 1, 7, 255.
  EXPECT_EQ(free_before - frames.free_count(), 4u + 6u);
  pt.destroy();
  EXPECT_EQ(frames.free_count(), start_free_);
}

TEST_F(PageTableTest, ForEachLeafVisitsMappedPagesInOrderWithinRange) {
  AddressSpace &as = new_as();
  PageTable &pt = as.page_table();
  std::vector<uint64> vas = {0,         3 * PAGE_SIZE, (2UL << 20) - PAGE_SIZE,
                             2UL << 20, 1UL << 30,     USER_TOP - PAGE_SIZE};
  // One mapping over everything, so that the audit finds each page inside one.
  mm::Mapping all;
  all.start = VirtAddr(0);
  all.end = VirtAddr(USER_TOP);
  all.prot = mm::prot::Read;
  ASSERT_TRUE(as.map(all).ok());
  for (uint64 va : vas) {
    Pte *slot = pt.find_or_create(VirtAddr(va)).value();
    *slot = Pte::make(frames.alloc(FrameKind::Anon).value(), pte::Valid | pte::Read | pte::User);
  }
  std::vector<uint64> seen;
  pt.for_each_leaf(VirtAddr(0), VirtAddr(USER_TOP), [&](VirtAddr va, Pte &) { seen.push_back(va.value); });
  EXPECT_EQ(seen, vas);

  seen.clear();
  pt.for_each_leaf(VirtAddr(3 * PAGE_SIZE), VirtAddr(1UL << 30),
                   [&](VirtAddr va, Pte &) { seen.push_back(va.value); });
  EXPECT_EQ(seen, (std::vector<uint64>{3 * PAGE_SIZE, (2UL << 20) - PAGE_SIZE, 2UL << 20}));

  int tables = 0;
  pt.for_each_leaf_table([&](VirtAddr base, Pte *) {
    EXPECT_EQ(base.value % (2UL << 20), 0u);
    tables++;
  });
  EXPECT_EQ(tables, 4); // 0, 2M, 1G, top
  // The fixture's destroy() unmaps these leaves and drops their frames.
}

TEST_F(PageTableTest, NewRootsShareTheKernelHalfOnly) {
  PhysAddr kroot = frames.alloc_zeroed(FrameKind::Kernel).value();
  Pte *k = mm::phys_to_ptr<Pte>(kroot);
  for (int i = 0; i < mm::PT_ENTRIES; i++) k[i] = Pte{0x1000UL * i | pte::Valid | pte::Read};
  PageTable::set_kernel_root(kroot);
  PageTable pt = PageTable::create().value();
  PageTable::set_kernel_root(PhysAddr());
  Pte *r = mm::phys_to_ptr<Pte>(pt.root());
  for (int i = 0; i < 256; i++) EXPECT_FALSE(r[i].valid()) << i;
  for (int i = 256; i < mm::PT_ENTRIES; i++) EXPECT_EQ(r[i].raw, k[i].raw) << i;
  // destroy() frees only the root and user-half tables, never kernel ones.
  uint64 free_before = frames.free_count();
  pt.destroy();
  EXPECT_EQ(frames.free_count(), free_before + 1);
  frames.unref(kroot);
}

} // namespace
} // namespace mmtest

// Address spaces: regions, sbrk, page faults.
#include "mm_fixture.h"

namespace mmtest {
namespace {

using mm::Access;
using mm::frames;
using mm::RegionKind;
namespace prot = mm::prot;
namespace pte = mm::pte;
using namespace layout;

using AddressSpaceTest = MmTest;

TEST_F(AddressSpaceTest, InitAndDestroyOfAnEmptySpace) {
  AddressSpace as;
  EXPECT_TRUE(as.is_null());
  ASSERT_TRUE(as.init().ok());
  EXPECT_FALSE(as.is_null());
  EXPECT_EQ(frames.free_count(), start_free_ - 1); // just the root
  as.destroy();
  EXPECT_TRUE(as.is_null());
  as.destroy(); // harmless twice
}

TEST_F(AddressSpaceTest, AddRegionMapsZeroedPagesWithTheRegionsFlags) {
  AddressSpace &as = new_as();
  ASSERT_TRUE(as.add_region(text, text_end, prot::Read | prot::Exec, RegionKind::Text).ok());
  ASSERT_TRUE(as.add_region(data, data_end, prot::Read | prot::Write, RegionKind::Data).ok());

  for (uint64 va = text; va < text_end; va += P) {
    Pte *p = pte_of(as, va);
    ASSERT_TRUE(p && p->valid());
    EXPECT_TRUE(p->has(pte::Read | pte::Exec | pte::User));
    EXPECT_FALSE(p->raw & pte::Write) << "text must not be writable";
    EXPECT_FALSE(p->raw & pte::Cow);
    EXPECT_EQ(frames.kind(p->phys()), mm::FrameKind::Anon);
    EXPECT_EQ(frames.refcount(p->phys()), 1u);
    EXPECT_TRUE(frame_is_zero(frame_of(as, va)));
  }
  for (uint64 va = data; va < data_end; va += P) {
    Pte *p = pte_of(as, va);
    ASSERT_TRUE(p && p->valid());
    EXPECT_TRUE(p->has(pte::Read | pte::Write | pte::User));
    EXPECT_FALSE(p->raw & pte::Exec);
    EXPECT_TRUE(frame_is_zero(frame_of(as, va)));
  }
  EXPECT_EQ(leaves(as).size(), (text_end - text + data_end - data) / P);
  EXPECT_EQ(pte_of(as, guard)->valid(), false);

  ASSERT_NE(as.find_region(data + 5), nullptr);
  EXPECT_EQ(as.find_region(data + 5)->kind, RegionKind::Data);
  EXPECT_EQ(as.find_region(guard), nullptr);
  EXPECT_EQ(audit_live(), 0u);
}

TEST_F(AddressSpaceTest, BadOrOverlappingRegionsAreRejectedAndMapNothing) {
  AddressSpace &as = new_as();
  ASSERT_TRUE(as.add_region(2 * P, 6 * P, prot::Read | prot::Write, RegionKind::Data).ok());
  uint64 free_before = frames.free_count();
  auto expect_invalid = [&](uint64 s, uint64 e) {
    auto r = as.add_region(s, e, prot::Read, RegionKind::Data);
    ASSERT_TRUE(r.is_error()) << std::hex << s << "-" << e;
    EXPECT_EQ(r.error(), Error::Invalid);
  };
  expect_invalid(4 * P, 8 * P);               // overlaps the top
  expect_invalid(0, 3 * P);                   // overlaps the bottom
  expect_invalid(3 * P, 4 * P);               // inside
  expect_invalid(0, 10 * P);                  // around
  expect_invalid(P + 1, 8 * P);               // not page aligned
  expect_invalid(8 * P, 9 * P + 7);           // not page aligned
  expect_invalid(9 * P, 8 * P);               // backwards
  expect_invalid(USER_TOP - P, USER_TOP + P); // beyond MAXVA
  EXPECT_EQ(frames.free_count(), free_before);
  // Touching but not overlapping is fine.
  EXPECT_TRUE(as.add_region(6 * P, 7 * P, prot::Read, RegionKind::Stack).ok());
  EXPECT_TRUE(as.add_region(P, 2 * P, prot::Read, RegionKind::Text).ok());
}

// Mappings are slab objects in a sorted list: no fixed table.
TEST_F(AddressSpaceTest, HundredsOfRegions) {
  AddressSpace &as = new_as();
  for (uint64 i = 0; i < 500; i++)
    ASSERT_TRUE(as.add_region(2 * i * P, (2 * i + 1) * P, prot::Read, RegionKind::Data).ok()) << i;
  EXPECT_EQ(as.mappings().count(), 500u);
  for (uint64 i = 0; i < 500; i++) {
    ASSERT_NE(as.find_region(2 * i * P), nullptr);
    EXPECT_EQ(as.find_region((2 * i + 1) * P), nullptr);
  }
}

TEST_F(AddressSpaceTest, AddRegionOutOfMemoryLeavesNothingBehind) {
  AddressSpace &as = new_as();
  ASSERT_TRUE(as.add_region(0, P, prot::Read, RegionKind::Text).ok()); // tables exist now
  uint64 free_before = frames.free_count();
  frames.fail_after(3);
  auto r = as.add_region(2 * P, 10 * P, prot::Read | prot::Write, RegionKind::Data);
  frames.fail_after(-1);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), Error::NoMemory);
  EXPECT_EQ(frames.free_count(), free_before);
  EXPECT_EQ(as.find_region(2 * P), nullptr);
  EXPECT_EQ(leaves(as).size(), 1u);
  // The range is still free to use.
  EXPECT_TRUE(as.add_region(2 * P, 10 * P, prot::Read | prot::Write, RegionKind::Data).ok());
}

TEST_F(AddressSpaceTest, HeapGrowsAndShrinks) {
  AddressSpace &as = new_as();
  build_standard(as, 0);
  EXPECT_EQ(as.size(), heap);
  EXPECT_EQ(as.heap_start(), heap);

  uint64 free0 = frames.free_count();
  auto old = as.resize_heap(3 * P);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old.value(), heap);
  EXPECT_EQ(as.size(), heap + 3 * P);
  EXPECT_EQ(free0 - frames.free_count(), 3u);
  for (uint64 va = heap; va < heap + 3 * P; va += P) {
    Pte *p = pte_of(as, va);
    ASSERT_TRUE(p && p->valid());
    EXPECT_TRUE(p->has(pte::Read | pte::Write | pte::User));
    EXPECT_TRUE(frame_is_zero(frame_of(as, va)));
  }
  EXPECT_TRUE(as.handle_fault(VirtAddr(heap + 2 * P + 8), Access::Write).ok());

  // Unaligned growth maps the page that holds the new break.
  ASSERT_EQ(as.resize_heap(100).value(), heap + 3 * P);
  EXPECT_EQ(free0 - frames.free_count(), 4u);
  ASSERT_EQ(as.resize_heap(100).value(), heap + 3 * P + 100); // same page: nothing new
  EXPECT_EQ(free0 - frames.free_count(), 4u);

  // Shrink by a page and a bit: two frames come back, their pages are gone.
  ASSERT_EQ(as.resize_heap(-static_cast<long>(P + 200)).value(), heap + 3 * P + 200);
  EXPECT_EQ(as.size(), heap + 2 * P);
  EXPECT_EQ(free0 - frames.free_count(), 2u);
  EXPECT_FALSE(pte_of(as, heap + 2 * P)->valid());
  EXPECT_FALSE(pte_of(as, heap + 3 * P)->valid());
  EXPECT_TRUE(pte_of(as, heap + P)->valid());
  EXPECT_EQ(as.handle_fault(VirtAddr(heap + 2 * P), Access::Read).error(), Error::BadAddress);
  EXPECT_FALSE(pte_of(as, heap + 2 * P)->valid()) << "a rejected fault maps nothing";

  // All the way back down.
  ASSERT_TRUE(as.resize_heap(-static_cast<long>(2 * P)).ok());
  EXPECT_EQ(as.size(), heap);
  EXPECT_EQ(frames.free_count(), free0);
}

// Pages given back by sbrk must leave the TLB: a stale translation would
// reach a frame that now belongs to someone else.
TEST_F(AddressSpaceTest, LazyHeapGrowthMapsPagesOnFirstTouch) {
  AddressSpace &as = new_as();
  build_standard(as, 0);
  uint64 free0 = frames.free_count();
  constexpr uint64 pages = 1000;
  auto old = as.resize_heap(static_cast<long>(pages * P), AddressSpace::Growth::Lazy);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old.value(), heap);
  EXPECT_EQ(as.size(), heap + pages * P);
  EXPECT_EQ(frames.free_count(), free0) << "lazy growth took frames";
  Pte *untouched = pte_of(as, heap + 500 * P);
  EXPECT_TRUE(untouched == nullptr || !untouched->valid());

  // A load or a store makes one zeroed page; nothing else appears.
  ASSERT_TRUE(as.handle_fault(VirtAddr(heap + 500 * P + 8), Access::Read).ok());
  ASSERT_TRUE(pte_of(as, heap + 500 * P) && pte_of(as, heap + 500 * P)->valid());
  EXPECT_TRUE(frame_is_zero(frame_of(as, heap + 500 * P)));
  ASSERT_TRUE(as.handle_fault(VirtAddr(heap + 3 * P), Access::Write).ok());
  EXPECT_TRUE(pte_of(as, heap + 3 * P)->has(pte::Read | pte::Write | pte::User));
  Pte *next = pte_of(as, heap + 4 * P);
  EXPECT_TRUE(next == nullptr || !next->valid());

  // Beyond the break is still a bad address; shrinking returns every frame.
  EXPECT_EQ(as.handle_fault(VirtAddr(heap + pages * P), Access::Write).error(), Error::BadAddress);
  ASSERT_TRUE(as.resize_heap(-static_cast<long>(pages * P)).ok());
  EXPECT_EQ(frames.free_count(), free0);
}

TEST_F(AddressSpaceTest, HeapShrinkFlushesTheTlb) {
  AddressSpace &as = new_as();
  build_standard(as, 0);
  for (uint64 pages : {1UL, 2UL, 40UL, 200UL}) {
    SCOPED_TRACE(::testing::Message() << pages << " pages");
    ASSERT_TRUE(as.resize_heap(static_cast<long>(pages * P)).ok());
    hostfake::reset_counters();
    ASSERT_TRUE(as.resize_heap(-static_cast<long>(pages * P)).ok());
    EXPECT_TRUE(tlb_covered(pages));
    EXPECT_EQ(as.size(), heap);
  }
}

TEST_F(AddressSpaceTest, HeapCannotShrinkBelowItsStart) {
  AddressSpace &as = new_as();
  build_standard(as, 1);
  uint64 free0 = frames.free_count();
  for (long n : {-static_cast<long>(P) - 1, -static_cast<long>(2 * P), -static_cast<long>(heap + P)}) {
    auto r = as.resize_heap(n);
    ASSERT_TRUE(r.is_error()) << n;
    EXPECT_EQ(r.error(), Error::Invalid);
    EXPECT_EQ(as.size(), heap + P);
  }
  // Past address 0 the break would wrap: ignored, the old break returned (xv6).
  for (long n : {-static_cast<long>(heap + P + 1), static_cast<long>(-(1L << 62))}) {
    auto r = as.resize_heap(n);
    ASSERT_TRUE(r.ok()) << n;
    EXPECT_EQ(r.value(), heap + P);
    EXPECT_EQ(as.size(), heap + P);
  }
  EXPECT_EQ(frames.free_count(), free0);
  EXPECT_TRUE(pte_of(as, heap)->valid());
  EXPECT_TRUE(pte_of(as, stack)->valid()) << "shrinking must never reach below the heap";
}

TEST_F(AddressSpaceTest, HeapGrowthBeyondMaxvaOrWithoutMemoryFailsCleanly) {
  AddressSpace &as = new_as();
  build_standard(as, 1);
  uint64 free0 = frames.free_count();
  EXPECT_EQ(as.resize_heap(static_cast<long>(USER_TOP)).error(), Error::TooBig);
  EXPECT_EQ(as.resize_heap(0x7fffffffffffffffL).error(), Error::TooBig);
  frames.fail_after(2);
  EXPECT_EQ(as.resize_heap(static_cast<long>(5 * P)).error(), Error::NoMemory);
  frames.fail_after(-1);
  EXPECT_EQ(as.size(), heap + P);
  EXPECT_EQ(frames.free_count(), free0);
  EXPECT_FALSE(pte_of(as, heap + P)->valid());
  EXPECT_EQ(as.handle_fault(VirtAddr(heap + P), Access::Read).error(), Error::BadAddress);
}

// Regions never overlap: a region declared above the heap (as an mmap-style
// region would be) stops the break, and sbrk fails instead of running into it.
TEST_F(AddressSpaceTest, HeapGrowthStopsAtTheNextRegion) {
  AddressSpace &as = new_as();
  build_standard(as, 1);
  const uint64 above = heap + 4 * P;
  ASSERT_TRUE(as.add_region(above, above + P, prot::Read | prot::Write, RegionKind::Data).ok());
  fill_frame(frame_of(as, above), 4242);
  PhysAddr above_pa = pte_of(as, above)->phys();
  uint64 free0 = frames.free_count();

  auto r = as.resize_heap(static_cast<long>(4 * P)); // [heap+P, heap+5P) would cover it
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), Error::TooBig); // no room, whatever memory is free
  EXPECT_EQ(as.size(), heap + P);
  EXPECT_EQ(frames.free_count(), free0);
  EXPECT_EQ(pte_of(as, above)->phys(), above_pa);
  EXPECT_TRUE(frame_has(frame_of(as, above), 4242));
  // Up to the region is fine.
  ASSERT_TRUE(as.resize_heap(static_cast<long>(3 * P)).ok());
  EXPECT_EQ(as.size(), above);
  EXPECT_EQ(as.resize_heap(1).error(), Error::TooBig);
  EXPECT_EQ(as.find_region(above - 1)->kind, RegionKind::Heap);
  EXPECT_EQ(as.find_region(above)->kind, RegionKind::Data);
}

TEST_F(AddressSpaceTest, ResizeWithoutAHeapRegionIsInvalid) {
  AddressSpace &as = new_as();
  ASSERT_TRUE(as.add_region(0, P, prot::Read, RegionKind::Text).ok());
  EXPECT_EQ(as.resize_heap(static_cast<long>(P)).error(), Error::Invalid);
}

TEST_F(AddressSpaceTest, FaultsOutsideRegionsOrAgainstProtectionAreErrors) {
  AddressSpace &as = new_as();
  build_standard(as, 1);
  uint64 free0 = frames.free_count();
  auto leaves_before = leaves(as);
  auto expect = [&](uint64 va, Access a, Error e) {
    auto r = as.handle_fault(VirtAddr(va), a);
    ASSERT_TRUE(r.is_error()) << std::hex << va;
    EXPECT_EQ(r.error(), e) << std::hex << va;
  };
  expect(USER_TOP, Access::Read, Error::BadAddress);
  expect(USER_TOP + 5 * P, Access::Write, Error::BadAddress);
  expect(kKernelVa, Access::Read, Error::BadAddress);
  expect(~0UL, Access::Write, Error::BadAddress);
  expect(heap + 10 * P, Access::Read, Error::BadAddress); // beyond the break
  expect(USER_TOP - P, Access::Read, Error::BadAddress);  // never declared
  expect(guard, Access::Read, Error::BadAddress);         // the guard page
  expect(guard + P - 1, Access::Write, Error::BadAddress);
  expect(text, Access::Write, Error::Protection); // store to text
  expect(text_end - 1, Access::Write, Error::Protection);
  expect(data, Access::Exec, Error::Protection); // execute data
  expect(stack, Access::Exec, Error::Protection);
  EXPECT_EQ(frames.free_count(), free0) << "a rejected fault allocates nothing";
  auto leaves_after = leaves(as);
  ASSERT_EQ(leaves_after.size(), leaves_before.size());
  for (size_t i = 0; i < leaves_after.size(); i++)
    EXPECT_EQ(leaves_after[i].second.raw, leaves_before[i].second.raw);
}

TEST_F(AddressSpaceTest, FaultOnAPresentPageOnlyFlushes) {
  AddressSpace &as = new_as();
  build_standard(as, 1);
  uint64 free0 = frames.free_count();
  Pte before = *pte_of(as, data);
  hostfake::reset_counters();
  EXPECT_TRUE(as.handle_fault(VirtAddr(data + 16), Access::Write).ok());
  EXPECT_TRUE(as.handle_fault(VirtAddr(text), Access::Exec).ok());
  EXPECT_TRUE(as.handle_fault(VirtAddr(text), Access::Read).ok());
  EXPECT_EQ(pte_of(as, data)->raw, before.raw);
  EXPECT_EQ(hostfake::flush_page_calls.load(), 3u);
  EXPECT_EQ(frames.free_count(), free0);
}

TEST_F(AddressSpaceTest, DemandZeroFillsAMissingPageInsideARegion) {
  AddressSpace &as = new_as();
  build_standard(as, 1);
  // Take one data page away, as if it had never been populated.
  Pte *p = pte_of(as, data + P);
  PhysAddr gone = p->phys();
  *p = Pte{};
  frames.unref(gone);
  uint64 free0 = frames.free_count();

  // A load maps the shared zero frame, read-only and Cow: no frame used.
  ASSERT_TRUE(as.handle_fault(VirtAddr(data + P + 123), Access::Read).ok());
  p = pte_of(as, data + P);
  ASSERT_TRUE(p->valid());
  EXPECT_EQ(p->phys(), mm::page_cache::zero_frame());
  EXPECT_TRUE(p->has(pte::Read | pte::User | pte::Cow));
  EXPECT_FALSE(p->raw & pte::Write);
  EXPECT_EQ(free0, frames.free_count());
  // The first store copies it into a zeroed frame of this page's own.
  ASSERT_TRUE(as.handle_fault(VirtAddr(data + P + 123), Access::Write).ok());
  p = pte_of(as, data + P);
  EXPECT_TRUE(p->has(pte::Read | pte::Write | pte::User));
  EXPECT_FALSE(p->raw & pte::Cow);
  EXPECT_NE(p->phys(), mm::page_cache::zero_frame());
  EXPECT_EQ(frames.refcount(p->phys()), 1u);
  EXPECT_TRUE(frame_is_zero(frame_of(as, data + P)));
  EXPECT_EQ(free0 - frames.free_count(), 1u);
  // Neighbours untouched.
  EXPECT_TRUE(frame_has(frame_of(as, data), data));
  EXPECT_TRUE(frame_has(frame_of(as, data + 2 * P), data + 2 * P));

  // Under memory pressure the fault fails and maps nothing.
  p = pte_of(as, data + 2 * P);
  gone = p->phys();
  *p = Pte{};
  frames.unref(gone);
  frames.fail_after(0);
  EXPECT_EQ(as.handle_fault(VirtAddr(data + 2 * P), Access::Write).error(), Error::NoMemory);
  frames.fail_after(-1);
  EXPECT_FALSE(pte_of(as, data + 2 * P)->valid());
  EXPECT_EQ(audit_live(), 0u);
}

TEST_F(AddressSpaceTest, ResolveGivesTheBackingFrame) {
  AddressSpace &as = new_as();
  build_standard(as, 1);
  auto r = as.resolve(VirtAddr(data + P + 42), Access::Read);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), pte_of(as, data + P)->phys() + 42);
  EXPECT_EQ(as.resolve(VirtAddr(text + 8), Access::Write).error(), Error::Protection);
  EXPECT_EQ(as.resolve(VirtAddr(guard), Access::Read).error(), Error::BadAddress);
  EXPECT_EQ(as.resolve(VirtAddr(kKernelVa), Access::Read).error(), Error::BadAddress);
}

TEST_F(AddressSpaceTest, SwapExchangesEverything) {
  AddressSpace &a = new_as();
  AddressSpace &b = new_as();
  build_standard(a, 2, 1000);
  ASSERT_TRUE(b.add_region(0, P, prot::Read | prot::Exec, RegionKind::Text).ok());
  PhysAddr a_root = a.page_table().root(), b_root = b.page_table().root();
  a.swap(b);
  EXPECT_EQ(a.page_table().root(), b_root);
  EXPECT_EQ(b.page_table().root(), a_root);
  EXPECT_EQ(b.size(), heap + 2 * P);
  EXPECT_EQ(a.size(), 0u);
  EXPECT_NE(b.find_region(data), nullptr);
  EXPECT_EQ(a.find_region(data), nullptr);
  EXPECT_TRUE(frame_has(frame_of(b, data), 1000 + data));
}

} // namespace
} // namespace mmtest

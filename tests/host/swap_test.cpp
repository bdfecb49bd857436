// Swap slots, the swap cache, the reverse map and reclaim, with a fake disk.
#include <set>

#include "mm/rmap.h"
#include "mm/shmem.h"
#include "mm_fixture.h"
#include "team.h"

namespace mmtest {
namespace {

using mm::frames;
using mm::FrameKind;
using mm::VmObject;
namespace swap = mm::swap;

class Swap : public MmTest {
protected:
  static constexpr uint64 kSlots = 512;
  virtual uint64 slots() const { return kSlots; }

  void SetUp() override {
    MmTest::SetUp();
    hostfake::swap_attach(slots());
    ASSERT_TRUE(swap::init().ok());
    start_free_ = frames.free_count(); // the slot counts' frames stay
  }
  void TearDown() override {
    MmTest::TearDown();
    EXPECT_EQ(swap::free_slots(), slots()) << "swap slots leaked";
    hostfake::swap_attach(0);
    EXPECT_TRUE(swap::init().ok());
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

  // A parent with `pages` heap pages (page va holds pattern va) and
  // `children` Cow children: one shared leaf table for the lot.
  std::vector<AddressSpace *> family(int children, uint64 pages) {
    std::vector<AddressSpace *> fam;
    AddressSpace &parent = new_as();
    build_standard(parent, pages);
    fam.push_back(&parent);
    for (int i = 0; i < children; i++) {
      AddressSpace &c = new_as();
      EXPECT_TRUE(parent.clone_into(c, mm::ForkMode::Cow).ok());
      fam.push_back(&c);
    }
    return fam;
  }

  // Pages of `as` in [lo, hi) whose entry names a swap slot.
  static uint64 swapped(AddressSpace &as, uint64 lo, uint64 hi) {
    uint64 n = 0;
    for (uint64 va = lo; va < hi; va += PAGE_SIZE) {
      Pte *p = pte_of(as, va);
      n += p && p->is_swap();
    }
    return n;
  }

  // Read page va of `as` through the fault path (as a load would).
  static const void *load(AddressSpace &as, uint64 va) {
    auto pa = as.resolve(VirtAddr(va), mm::Access::Read);
    return pa.ok() ? mm::phys_to_ptr(pa.value()) : nullptr;
  }

  // Everything reclaim can take: frames back to the free lists.
  static uint64 reclaim_all() { return mm::reclaim::run(frames.total()); }

  // Shared anonymous memory: `pages` pages of `o` at va (MAP_FIXED).
  static void map_shared(AddressSpace &as, VmObject *o, uint64 va, uint64 pages) {
    AddressSpace::MapRequest req;
    req.addr = VirtAddr(va);
    req.len = pages * PAGE_SIZE;
    req.prot = mm::prot::Read | mm::prot::Write;
    req.shared = true;
    req.fixed = true;
    req.object = o;
    auto r = as.mmap(req);
    ASSERT_TRUE(r.ok()) << error_name(r.error());
  }

  // The fake disk's requests so far.
  static long reads() { return static_cast<long>(hostfake::swap_reads.load()); }
  static long writes() { return static_cast<long>(hostfake::swap_writes.load()); }
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
  EXPECT_EQ(writes(), 0);
}

// Slots are handed out next-fit, every one of them, and a freed slot is
// found again wherever it is (the search skips full chunks of slots).
class SwapSlots : public Swap {
protected:
  static constexpr uint64 kMany = 3000; // three chunks of 1024 slots, the last partial
  uint64 slots() const override { return kMany; }
};

TEST_F(SwapSlots, EverySlotCanBeAllocatedAndFoundAgain) {
  std::vector<uint64> got;
  for (uint64 i = 0; i < kMany; i++) {
    auto s = swap::alloc();
    ASSERT_TRUE(s.ok()) << i;
    EXPECT_EQ(s.value(), i) << "next fit from slot 0";
    got.push_back(s.value());
  }
  EXPECT_EQ(swap::free_slots(), 0u);
  EXPECT_EQ(swap::alloc().error(), Error::NoSpace);
  for (uint64 s : {2999UL, 5UL, 1500UL}) swap::free(s);
  EXPECT_EQ(swap::free_slots(), 3u);
  // From the cursor (past the last slot: slot 0 on), in order.
  for (uint64 want : {5UL, 1500UL, 2999UL}) {
    auto s = swap::alloc();
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s.value(), want);
  }
  EXPECT_EQ(swap::alloc().error(), Error::NoSpace);
  for (uint64 s : got) swap::free(s);
  EXPECT_EQ(swap::free_slots(), kMany);
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

// A parent and three children share every heap page (one shared leaf
// table). Under pressure each page is written to swap once, and comes back
// as one frame shared by all four, read once.
TEST_F(Swap, AFamilyGoesOutOnceAndComesBackShared) {
  constexpr uint64 kPages = 8;
  auto fam = family(3, kPages);
  const uint64 lo = layout::heap, hi = layout::heap + kPages * PAGE_SIZE;
  uint64 free_before = frames.free_count();
  uint64 freed = reclaim_all();
  EXPECT_GE(freed, kPages);
  EXPECT_GE(frames.free_count(), free_before + kPages);
  for (AddressSpace *as : fam) EXPECT_EQ(swapped(*as, lo, hi), kPages);
  long written = writes();
  EXPECT_GE(written, static_cast<long>(kPages));
  EXPECT_EQ(audit_live(), 0u);
  EXPECT_EQ(hostfake::shootdown_calls.load() > 0, true);

  for (uint64 va = lo; va < hi; va += PAGE_SIZE) {
    const void *first = nullptr;
    for (AddressSpace *as : fam) {
      const void *page = load(*as, va);
      ASSERT_NE(page, nullptr);
      EXPECT_TRUE(frame_has(page, va));
      if (!first) first = page;
      EXPECT_EQ(page, first) << "one frame for the whole family";
    }
  }
  EXPECT_EQ(reads(), static_cast<long>(kPages)) << "one read per slot";
  EXPECT_GE(mm::counters.swap_cache_hits.load(), 3 * kPages);
  // Nobody names the slots any more: the pages are anonymous again, and
  // the slots free (text, data and stack are still out).
  for (uint64 va = lo; va < hi; va += PAGE_SIZE) EXPECT_EQ(frames.kind(pte_of(*fam[0], va)->phys()), FrameKind::Anon);
  EXPECT_EQ(audit_live(), 0u);

  // Copy-on-write from there: a child's store is its own.
  std::vector<std::string> err;
  store(*fam[2], lo, 777, err);
  EXPECT_TRUE(err.empty());
  EXPECT_TRUE(frame_has(load(*fam[2], lo), 777));
  for (int i : {0, 1, 3}) EXPECT_TRUE(frame_has(load(*fam[i], lo), lo));
  EXPECT_EQ(writes(), written);
}

// The clock gives referenced pages a second chance: with both sets aged,
// then the hot set touched again (its A bits set, as the hardware would),
// reclaim takes cold pages and leaves every hot one where it is.
TEST_F(Swap, TheClockSparesPagesInUse) {
  constexpr uint64 kHot = 32, kCold = 96;
  AddressSpace &as = new_as();
  build_standard(as, kHot + kCold);
  const uint64 hot = layout::heap, cold = layout::heap + kHot * PAGE_SIZE;
  // Every page was touched since it came (A set). The front hand clears
  // every bit a whole turn ahead, and the flush it asks for makes the
  // next use of a page set its bit again: then only the hot pages are used.
  mm::reclaim::age(frames.total());
  EXPECT_TRUE(hostfake::flush_all_calls.load() > 0) << "aged bits need every TLB flushed";
  for (auto &[va, p] : leaves(as)) EXPECT_FALSE(pte_of(as, va)->raw & mm::pte::Accessed) << va;
  for (uint64 i = 0; i < kHot; i++) pte_of(as, hot + i * PAGE_SIZE)->raw |= mm::pte::Accessed;
  uint64 freed = mm::reclaim::run(16);
  EXPECT_GE(freed, 16u);
  EXPECT_EQ(swapped(as, hot, cold), 0u) << "a hot page went to swap";
  EXPECT_GE(swapped(as, cold, cold + kCold * PAGE_SIZE), 16u);
  // The back hand does not clear bits: the hot pages stay referenced until
  // the front hand passes again. Everything goes only when reclaim wants
  // everything: the front hand moves on with the back one, and on the back
  // hand's second turn the hot pages, untouched since, go too.
  reclaim_all();
  EXPECT_EQ(swapped(as, hot, cold), kHot);
  for (uint64 i = 0; i < kHot + kCold; i++) {
    uint64 va = hot + i * PAGE_SIZE;
    EXPECT_TRUE(frame_has(load(as, va), va));
  }
}

// Without aging ahead (the first reclaim of a boot that filled memory at
// once), the front hand clears and the back hand judges in the same call:
// the result is still correct, and the bits are cleared a spread ahead.
TEST_F(Swap, TheFirstReclaimAgesAndEvicts) {
  constexpr uint64 kPages = 64;
  AddressSpace &as = new_as();
  build_standard(as, kPages);
  for (auto &[va, p] : leaves(as)) pte_of(as, va)->raw |= mm::pte::Accessed;
  EXPECT_GE(mm::reclaim::run(8), 8u);
  uint64 out = swapped(as, layout::heap, layout::heap + kPages * PAGE_SIZE);
  EXPECT_GE(out, 8u);
  for (uint64 i = 0; i < kPages; i++) {
    uint64 va = layout::heap + i * PAGE_SIZE;
    EXPECT_TRUE(frame_has(load(as, va), va));
  }
}

// Shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS) goes to swap like a
// file's pages go to their file: three processes map one object at
// different addresses; every page goes out once, comes back with one read
// for all three (one frame again), goes again unchanged without a write,
// and a changed page is written to the slot it had. The object's last
// mapping frees its slots (the fixture counts them).
TEST_F(Swap, SharedMemoryGoesOutOnceAndComesBackShared) {
  constexpr uint64 kPages = 8;
  constexpr uint64 kAt[3] = {0x40000000, 0x50000000, 0x60000000};
  auto made = mm::VmObject::create_anonymous();
  ASSERT_TRUE(made.ok());
  VmObject *obj = made.value();
  AddressSpace *as[3];
  for (int k = 0; k < 3; k++) {
    as[k] = &new_as();
    map_shared(*as[k], obj, kAt[k], kPages);
  }
  std::vector<std::string> err;
  for (uint64 i = 0; i < kPages; i++) store(*as[i % 3], kAt[i % 3] + i * PAGE_SIZE, 100 + i, err);
  ASSERT_TRUE(err.empty());
  EXPECT_EQ(obj->cached_pages(), kPages);

  uint64 slots_before = swap::free_slots();
  reclaim_all();
  EXPECT_EQ(obj->cached_pages(), 0u) << "every page of the object left memory";
  EXPECT_EQ(writes(), static_cast<long>(kPages)) << "one write per page, whoever mapped it";
  EXPECT_EQ(slots_before - swap::free_slots(), kPages);
  EXPECT_EQ(mm::shmem::slots_held(), kPages);
  EXPECT_EQ(mm::shmem::swapped(obj, 0, kPages), kPages);
  EXPECT_EQ(as[1]->residency(*as[1]->find_region(kAt[1])).swapped, kPages) << "pmap's column";
  EXPECT_EQ(audit_live(), 0u);

  for (uint64 i = 0; i < kPages; i++) {
    const void *first = nullptr;
    for (int k = 0; k < 3; k++) {
      const void *page = load(*as[k], kAt[k] + i * PAGE_SIZE);
      ASSERT_NE(page, nullptr);
      EXPECT_TRUE(frame_has(page, 100 + i)) << "page " << i << " in process " << k;
      if (!first) first = page;
      EXPECT_EQ(page, first) << "one frame for everybody";
    }
  }
  EXPECT_EQ(reads(), static_cast<long>(kPages)) << "one read per page";
  EXPECT_EQ(audit_live(), 0u);

  // Out again unchanged: the slots still hold the pages, nothing is written.
  reclaim_all();
  EXPECT_EQ(obj->cached_pages(), 0u);
  EXPECT_EQ(writes(), static_cast<long>(kPages)) << "clean pages go without a write";
  // One page changed: written once more, to the slot it had.
  store(*as[0], kAt[0] + 2 * PAGE_SIZE, 555, err);
  ASSERT_TRUE(err.empty());
  reclaim_all();
  EXPECT_EQ(writes(), static_cast<long>(kPages) + 1);
  EXPECT_EQ(slots_before - swap::free_slots(), kPages) << "the same slots";
  EXPECT_TRUE(frame_has(load(*as[2], kAt[2] + 2 * PAGE_SIZE), 555));
  EXPECT_TRUE(frame_has(load(*as[1], kAt[1] + 3 * PAGE_SIZE), 103));
  EXPECT_EQ(audit_live(), 0u);

  for (AddressSpace *a : as) a->destroy(); // the last mapping: pages and slots go
  EXPECT_EQ(mm::shmem::slots_held(), 0u);
  EXPECT_EQ(swap::free_slots(), kSlots);
}

// A failed write keeps a shared page in memory, dirty, with its contents;
// a failed read fails the fault and the next one works.
TEST_F(Swap, SharedMemoryDiskErrors) {
  constexpr uint64 kPages = 4, kAt = 0x40000000;
  auto made = mm::VmObject::create_anonymous();
  ASSERT_TRUE(made.ok());
  VmObject *obj = made.value();
  AddressSpace &as = new_as();
  map_shared(as, obj, kAt, kPages);
  std::vector<std::string> err;
  for (uint64 i = 0; i < kPages; i++) store(as, kAt + i * PAGE_SIZE, 7 + i, err);
  ASSERT_TRUE(err.empty());
  hostfake::swap_fail_after(0);
  reclaim_all();
  EXPECT_EQ(writes(), 0);
  EXPECT_EQ(obj->cached_pages(), kPages) << "pages that could not be written stay";
  EXPECT_EQ(mm::shmem::slots_held(), 0u) << "a failed write keeps no slot";
  EXPECT_EQ(swap::free_slots(), kSlots);
  for (uint64 i = 0; i < kPages; i++) EXPECT_TRUE(frame_has(load(as, kAt + i * PAGE_SIZE), 7 + i));
  EXPECT_EQ(audit_live(), 0u);

  hostfake::swap_fail_after(-1);
  reclaim_all();
  EXPECT_EQ(obj->cached_pages(), 0u);
  hostfake::swap_fail_after(0);
  EXPECT_EQ(as.resolve(VirtAddr(kAt), mm::Access::Read).error(), Error::IO);
  hostfake::swap_fail_after(-1);
  for (uint64 i = 0; i < kPages; i++) EXPECT_TRUE(frame_has(load(as, kAt + i * PAGE_SIZE), 7 + i));
  EXPECT_EQ(audit_live(), 0u);
}

// Swap entries survive fork (both modes), munmap, sbrk shrink and exit
// without leaking a slot (the fixture checks slots and frames at the end).
TEST_F(Swap, EntriesAreForkedAndReleased) {
  AddressSpace &parent = new_as();
  build_standard(parent, 6);
  reclaim_all();
  const uint64 heap = layout::heap;
  ASSERT_EQ(swapped(parent, heap, heap + 6 * PAGE_SIZE), 6u);
  AddressSpace &cow = new_as();
  AddressSpace &eager = new_as();
  ASSERT_TRUE(parent.clone_into(cow, mm::ForkMode::Cow).ok());
  ASSERT_TRUE(parent.clone_into(eager, mm::ForkMode::Eager).ok());
  EXPECT_EQ(swapped(eager, heap, heap + 6 * PAGE_SIZE), 6u);
  EXPECT_EQ(audit_live(), 0u);
  ASSERT_TRUE(parent.resize_heap(-static_cast<long>(3 * PAGE_SIZE)).ok());
  ASSERT_TRUE(cow.munmap(VirtAddr(heap), 2 * PAGE_SIZE).ok());
  EXPECT_EQ(audit_live(), 0u);
  EXPECT_TRUE(frame_has(load(eager, heap + 5 * PAGE_SIZE), heap + 5 * PAGE_SIZE));
  EXPECT_TRUE(frame_has(load(cow, heap + 2 * PAGE_SIZE), heap + 2 * PAGE_SIZE));
  EXPECT_TRUE(frame_has(load(parent, heap), heap));
  EXPECT_EQ(audit_live(), 0u);
}

// A store to a page in swap whose slot only this entry names brings the
// page back and reuses it: no copy.
TEST_F(Swap, TheLastUserWritesInPlace) {
  AddressSpace &as = new_as();
  build_standard(as, 1);
  reclaim_all();
  ASSERT_TRUE(pte_of(as, layout::heap)->is_swap());
  uint64 copies = mm::counters.cow_copies.load();
  std::vector<std::string> err;
  store(as, layout::heap, 99, err);
  EXPECT_TRUE(err.empty());
  EXPECT_EQ(mm::counters.cow_copies.load(), copies);
  EXPECT_EQ(frames.kind(pte_of(as, layout::heap)->phys()), FrameKind::Anon);
}

// A failed read fails the fault (the kernel kills the process), changes
// nothing, and the next try works. A failed write keeps the page in memory.
TEST_F(Swap, DiskErrorsFailOneFaultOrKeepThePage) {
  AddressSpace &as = new_as();
  build_standard(as, 4);
  hostfake::swap_fail_after(0); // every request fails
  reclaim_all();
  EXPECT_EQ(writes(), 0);
  EXPECT_EQ(audit_live(), 0u);
  for (uint64 i = 0; i < 4; i++) {
    uint64 va = layout::heap + i * PAGE_SIZE;
    EXPECT_TRUE(frame_has(load(as, va), va)) << "kept in the swap cache";
  }
  hostfake::swap_fail_after(-1);
  reclaim_all();
  ASSERT_TRUE(pte_of(as, layout::heap)->is_swap());
  hostfake::swap_fail_after(0);
  auto r = as.handle_fault(VirtAddr(layout::heap), mm::Access::Read);
  hostfake::swap_fail_after(-1);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), Error::IO);
  EXPECT_TRUE(pte_of(as, layout::heap)->is_swap());
  EXPECT_EQ(audit_live(), 0u);
  EXPECT_TRUE(frame_has(load(as, layout::heap), layout::heap));
}

// Out of frames at every allocation of a swap-in (the frame, a table copy):
// the fault fails cleanly and works once memory is back.
TEST_F(Swap, SwapInOutOfMemoryAtEveryAllocation) {
  auto fam = family(1, 2);
  reclaim_all();
  AddressSpace &child = *fam[1];
  for (long k = 0;; k++) {
    ASSERT_LT(k, 10);
    frames.fail_after(k);
    auto r = child.handle_fault(VirtAddr(layout::heap), mm::Access::Write);
    frames.fail_after(-1);
    EXPECT_EQ(audit_live(), 0u) << "k = " << k;
    if (r.ok()) break;
    EXPECT_EQ(r.error(), Error::NoMemory);
  }
  EXPECT_TRUE(frame_has(load(*fam[0], layout::heap), layout::heap));
}

// Four address spaces fault on the same swapped page at once: one read.
TEST_F(Swap, ConcurrentFaultsOnOneSlotReadItOnce) {
  constexpr int kRounds = 4;
  for (int round = 0; round < kRounds; round++) {
    auto fam = family(3, 4);
    reclaim_all();
    long read_before = reads();
    Team team;
    team.run(4, [&](int t, std::vector<std::string> &err) {
      for (uint64 i = 0; i < 4; i++) {
        uint64 va = layout::heap + i * PAGE_SIZE;
        std::lock_guard g(lock_of(*fam[t]));
        auto pa = fam[t]->resolve(VirtAddr(va), t == 3 ? mm::Access::Write : mm::Access::Read);
        if (pa.is_error() || !frame_has(mm::phys_to_ptr(pa.value().page_base()), va)) err.push_back("bad page");
      }
    });
    EXPECT_EQ(reads() - read_before, 4) << "round " << round;
    EXPECT_EQ(audit_live(), 0u);
    destroy_all();
  }
}

} // namespace
} // namespace mmtest

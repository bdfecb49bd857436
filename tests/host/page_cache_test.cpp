// The page cache (kernel/mm/object.cpp): get_page / find_page, writeback,
// drop_pages, reclaim (and the frame table calling it when memory runs
// dry), read errors, and anonymous shared objects.
#include "file_fixture.h"

namespace mmtest {
namespace {

using mm::counters;
using mm::FrameKind;
using mm::frames;

constexpr uint64 P = PAGE_SIZE;
constexpr uint64 kMap = 0x10000000; // where the tests map files

class PageCache : public FileTest {};

// A miss reads the page in (once), a hit finds it; find_page never reads.
TEST_F(PageCache, GetPageMissThenHit) {
  TestFile &f = new_file(4 * P);
  uint64 hits = counters.cache_hits.load(), misses = counters.cache_misses.load();

  EXPECT_EQ(f.obj.find_page(1).value, 0u) << "find_page does not read";
  EXPECT_EQ(f.pager.reads(), 0);

  auto a = f.obj.get_page(1);
  ASSERT_TRUE(a.ok());
  PhysAddr pa = a.value();
  EXPECT_EQ(counters.cache_misses.load() - misses, 1u);
  EXPECT_EQ(counters.cache_hits.load() - hits, 0u);
  EXPECT_EQ(f.pager.reads(), 1);
  EXPECT_TRUE(frame_has(mm::phys_to_ptr(pa), FakePager::seed(1)));
  EXPECT_EQ(frames.kind(pa), FrameKind::File);
  EXPECT_EQ(flags_of(pa), page_flag::Cached) << "clean, not busy";
  EXPECT_TRUE(mm::page_cache::is_cached(pa));
  EXPECT_EQ(holds_of(pa), 2u) << "the cache's hold and ours";
  EXPECT_EQ(maps_of(pa), 0u);
  EXPECT_EQ(f.obj.cached_pages(), 1u);
  EXPECT_EQ(counters.cache_pages.load(), 1u);

  auto b = f.obj.get_page(1);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.value(), pa) << "one frame per file page";
  EXPECT_EQ(counters.cache_hits.load() - hits, 1u);
  EXPECT_EQ(counters.cache_misses.load() - misses, 1u);
  EXPECT_EQ(f.pager.reads(), 1);
  EXPECT_EQ(holds_of(pa), 3u);

  PhysAddr c = f.obj.find_page(1);
  EXPECT_EQ(c, pa);
  EXPECT_EQ(holds_of(pa), 4u);
  for (int i = 0; i < 3; i++) frames.release(pa);
  EXPECT_EQ(holds_of(pa), 1u) << "only the cache holds it now";
  EXPECT_EQ(f.pager.reads(), 1);
}

// The last page of a file reads zeros past the size; the audit and the
// counters agree on several cached pages.
TEST_F(PageCache, PartialLastPageAndManyPages) {
  TestFile &f = new_file(3 * P + 100);
  std::vector<PhysAddr> got;
  for (uint64 i = 0; i < 4; i++) {
    auto r = f.obj.get_page(i);
    ASSERT_TRUE(r.ok());
    got.push_back(r.value());
  }
  const uint8 *last = mm::phys_to_ptr<uint8>(got[3]);
  std::vector<uint8> want = f.pager.disk_page(3);
  EXPECT_EQ(std::memcmp(last, want.data(), P), 0);
  for (uint64 k = 100; k < P; k++) ASSERT_EQ(last[k], 0) << "byte " << k << " past the end";
  EXPECT_NE(std::memcmp(last, std::vector<uint8>(100, 0).data(), 100), 0) << "the data below the end";
  EXPECT_EQ(f.obj.cached_pages(), 4u);
  EXPECT_EQ(counters.cache_pages.load(), 4u);
  EXPECT_EQ(audit_live(), 0u);
  for (PhysAddr pa : got) frames.release(pa);
  EXPECT_EQ(mm::audit(nullptr, 0, report_violation), 0u);
}

// Writeback writes dirty pages and only those; a page nobody maps becomes
// clean, a mapped one stays dirty (its mapping may store again without a
// fault). A failed write leaves the page dirty.
TEST_F(PageCache, WritebackDirtyOnly) {
  TestFile &f = new_file(4 * P);
  AddressSpace &as = new_as();
  must_map_file(as, f, kMap, 4, RW, true);
  uint64 writebacks = counters.cache_writebacks.load();

  // Page 0: dirtied through the object (as write() would), not mapped.
  PhysAddr p0 = f.obj.get_page(0).value();
  *mm::phys_to_ptr<uint64>(p0) = 0xA0;
  mm::set_page_dirty(p0);
  frames.release(p0);
  // Page 1: mapped, only loaded (clean). Page 2: mapped and stored into.
  EXPECT_EQ(must_load(as, kMap + P), pattern_word(FakePager::seed(1), 0));
  must_store(as, kMap + 2 * P, 0xA2);
  // Page 3: cached, clean, not mapped.
  frames.release(f.obj.get_page(3).value());

  PhysAddr p2 = cached(f, 2);
  EXPECT_TRUE(dirty(p0));
  EXPECT_FALSE(dirty(cached(f, 1)));
  EXPECT_TRUE(dirty(p2));
  EXPECT_FALSE(dirty(cached(f, 3)));
  EXPECT_EQ(counters.cache_dirty.load(), 2u);
  EXPECT_TRUE(pte_of(as, kMap + 2 * P)->has(mm::pte::Write));
  EXPECT_FALSE(pte_of(as, kMap + P)->has(mm::pte::Write)) << "a clean shared page is mapped read-only";

  ASSERT_TRUE(f.obj.writeback(0, 4).ok());
  EXPECT_EQ(f.pager.written(), (std::vector<uint64>{0, 2}));
  EXPECT_EQ(counters.cache_writebacks.load() - writebacks, 2u);
  EXPECT_EQ(f.pager.disk_word(0), 0xA0u);
  EXPECT_EQ(f.pager.disk_word(2), 0xA2u);
  EXPECT_TRUE(f.pager.disk_page_original(1));
  EXPECT_TRUE(f.pager.disk_page_original(3));
  EXPECT_FALSE(dirty(p0)) << "not mapped: clean now";
  EXPECT_TRUE(dirty(p2)) << "still mapped: stays dirty";
  EXPECT_EQ(counters.cache_dirty.load(), 1u);

  // A store without a fault (the PTE is writable) reaches the disk at the
  // next writeback, because the page stayed dirty.
  *mm::phys_to_ptr<uint64>(p2) = 0xB2;
  ASSERT_TRUE(f.obj.writeback(0, 4).ok());
  EXPECT_EQ(f.pager.written(), (std::vector<uint64>{0, 2, 2}));
  EXPECT_EQ(f.pager.disk_word(2), 0xB2u);

  // A failed write: the page stays dirty, and the next writeback succeeds.
  *mm::phys_to_ptr<uint64>(p0) = 0xC0;
  mm::set_page_dirty(p0);
  f.pager.fail_write(1);
  auto r = f.obj.writeback(0, 1);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), Error::IO);
  EXPECT_TRUE(dirty(p0));
  EXPECT_EQ(f.pager.disk_word(0), 0xA0u);
  ASSERT_TRUE(f.obj.writeback(0, 1).ok());
  EXPECT_FALSE(dirty(p0));
  EXPECT_EQ(f.pager.disk_word(0), 0xC0u);

  // munmap writes back what the mapping dirtied, and the page is clean
  // once no mapping is left.
  *mm::phys_to_ptr<uint64>(p2) = 0xD2;
  ASSERT_TRUE(as.munmap(VirtAddr(kMap), 4 * P).ok());
  EXPECT_EQ(f.pager.disk_word(2), 0xD2u);
  EXPECT_FALSE(dirty(p2));
  EXPECT_EQ(counters.cache_dirty.load(), 0u);
  long writes = f.pager.writes();
  ASSERT_TRUE(f.obj.writeback(0, 4).ok());
  EXPECT_EQ(f.pager.writes(), writes) << "nothing dirty, nothing written";
  EXPECT_EQ(f.obj.cached_pages(), 4u) << "writeback keeps pages cached";
}

// drop_pages takes pages out of the cache, mapped ones included: those stay
// with their mappings (same frame, same contents), no longer cached, and
// the next fault elsewhere reads a fresh copy.
TEST_F(PageCache, DropPagesKeepsMappedOnes) {
  TestFile &f = new_file(4 * P);
  AddressSpace &as = new_as();
  must_map_file(as, f, kMap, 3, RW, true);
  for (uint64 i = 0; i < 3; i++) must_load(as, kMap + i * P);
  frames.release(f.obj.get_page(3).value()); // cached, not mapped
  must_store(as, kMap + 2 * P, 0x22);        // mapped and dirty
  PhysAddr p1 = cached(f, 1), p2 = cached(f, 2), p3 = cached(f, 3);
  uint64 free_before = frames.free_count();
  EXPECT_EQ(counters.cache_dirty.load(), 1u);

  f.obj.drop_pages(1);
  EXPECT_EQ(f.obj.cached_pages(), 1u);
  EXPECT_EQ(counters.cache_pages.load(), 1u);
  EXPECT_EQ(counters.cache_dirty.load(), 0u) << "the dirty page left the cache";
  EXPECT_EQ(f.obj.find_page(1).value, 0u);
  EXPECT_EQ(f.obj.find_page(3).value, 0u);
  EXPECT_FALSE(mm::page_cache::is_cached(p1));
  EXPECT_FALSE(mm::page_cache::is_cached(p2));
  EXPECT_EQ(frames.free_count(), free_before + 1) << "only the unmapped page is freed";
  (void)p3;
  EXPECT_EQ(mapped(as, kMap + P), p1) << "still mapped";
  EXPECT_EQ(frames.kind(p1), FrameKind::File);
  EXPECT_EQ(maps_of(p1), 1u);
  EXPECT_EQ(holds_of(p1), 0u);
  EXPECT_EQ(must_load(as, kMap + 2 * P), 0x22u);
  EXPECT_EQ(audit_live(), 0u);

  // A store to a dropped page works (it is the mapping's now) but it can
  // no longer reach the file.
  must_store(as, kMap + P, 0x11);
  EXPECT_EQ(flags_of(p1) & page_flag::Dirty, 0u);
  EXPECT_EQ(audit_live(), 0u);

  // Another address space faulting page 1 reads it again: a new frame.
  AddressSpace &other = new_as();
  must_map_file(other, f, kMap, 3, RO, false);
  long reads = f.pager.reads();
  EXPECT_EQ(must_load(other, kMap + P), pattern_word(FakePager::seed(1), 0));
  EXPECT_EQ(f.pager.reads(), reads + 1);
  EXPECT_NE(mapped(other, kMap + P), p1);
  EXPECT_EQ(audit_live(), 0u);

  // Unmapping the dropped pages frees them, and writes nothing back.
  long writes = f.pager.writes();
  ASSERT_TRUE(as.munmap(VirtAddr(kMap), 3 * P).ok());
  EXPECT_EQ(f.pager.writes(), writes);
  EXPECT_EQ(audit_live(), 0u);
}

// Reclaim gives back only clean pages that only the cache holds.
TEST_F(PageCache, ReclaimOnlyCleanUnmappedUnheld) {
  TestFile &f = new_file(8 * P);
  AddressSpace &as = new_as();
  must_map_file(as, f, kMap, 2, RW, true);           // pages 0, 1: shared
  must_map_file(as, f, kMap + 2 * P, 1, RW, false, 2); // page 2: private, loaded
  must_load(as, kMap);                               // 0: mapped shared, clean
  must_load(as, kMap + 2 * P);                       // 2: mapped private (Cow), clean
  PhysAddr p3 = f.obj.get_page(3).value();           // 3: dirty, unmapped
  mm::set_page_dirty(p3);
  frames.release(p3);
  PhysAddr held = f.obj.get_page(4).value(); // 4: held by a kernel user
  PhysAddr p5 = f.obj.get_page(5).value();   // 5: busy (being read)
  frames.record(p5).flags.fetch_or(page_flag::Busy);
  frames.release(p5);
  PhysAddr p6 = f.obj.get_page(6).value(); // 6: clean, only cached: the one to go
  frames.release(p6);
  uint64 dropped = counters.cache_dropped.load();
  uint64 free_before = frames.free_count();

  EXPECT_EQ(mm::page_cache::reclaim(100), 1u);
  EXPECT_EQ(counters.cache_dropped.load() - dropped, 1u);
  EXPECT_EQ(frames.free_count(), free_before + 1);
  EXPECT_EQ(f.obj.cached_pages(), 5u); // 0, 2, 3, 4, 5
  EXPECT_EQ(f.obj.find_page(6).value, 0u);
  for (uint64 i : {0, 2, 3}) EXPECT_TRUE(cached(f, i).value) << "page " << i;
  EXPECT_TRUE(mm::page_cache::is_cached(held));
  EXPECT_TRUE(mm::page_cache::is_cached(p5));
  EXPECT_EQ(audit_live(), 0u);

  // Once its reader is done and the kernel user lets go, they can go too;
  // a page that is reclaimed is read again on its next use.
  frames.record(p5).flags.fetch_and(~page_flag::Busy);
  frames.release(held);
  EXPECT_EQ(mm::page_cache::reclaim(100), 2u);
  long reads = f.pager.reads();
  PhysAddr again = f.obj.get_page(6).value();
  EXPECT_EQ(f.pager.reads(), reads + 1);
  EXPECT_TRUE(frame_has(mm::phys_to_ptr(again), FakePager::seed(6)));
  frames.release(again);
  EXPECT_EQ(audit_live(), 0u);
}

// The frame table asks the cache for frames when its free lists are empty.
TEST_F(PageCache, FrameTableReclaimsWhenDry) {
  TestFile &f = new_file(8 * P);
  AddressSpace &as = new_as();
  must_map_file(as, f, kMap, 1, RW, true);
  must_store(as, kMap, 0x77); // page 0: mapped and dirty: never reclaimed
  for (uint64 i = 1; i < 4; i++) frames.release(f.obj.get_page(i).value()); // 1..3: clean
  PhysAddr dirty_unmapped = f.obj.get_page(4).value();
  mm::set_page_dirty(dirty_unmapped);
  frames.release(dirty_unmapped);

  std::vector<PhysAddr> hog;
  while (frames.free_count() > 0) hog.push_back(frames.alloc(FrameKind::Kernel).value());
  EXPECT_EQ(f.obj.cached_pages(), 5u) << "nothing reclaimed while frames were free";
  for (int i = 0; i < 3; i++) {
    auto r = frames.alloc(FrameKind::Kernel);
    ASSERT_TRUE(r.ok()) << "clean cached page " << i << " should have been reclaimed";
    hog.push_back(r.value());
  }
  EXPECT_EQ(f.obj.cached_pages(), 2u);
  EXPECT_FALSE(frames.alloc(FrameKind::Kernel).ok()) << "dirty and mapped pages stay";
  EXPECT_EQ(f.obj.cached_pages(), 2u);
  EXPECT_EQ(must_load(as, kMap), 0x77u);
  EXPECT_EQ(audit_live(), 0u);
  for (PhysAddr pa : hog) frames.unref(pa);
}

// A failed read: the page leaves the cache, get_page reports the error,
// nothing leaks; the next attempt reads again.
TEST_F(PageCache, ReadErrorLeavesNothingBehind) {
  TestFile &f = new_file(2 * P);
  uint64 free_before = frames.free_count();
  f.pager.fail_read(1);
  auto r = f.obj.get_page(0);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), Error::IO);
  EXPECT_EQ(f.obj.cached_pages(), 0u);
  EXPECT_EQ(counters.cache_pages.load(), 0u);
  EXPECT_EQ(frames.free_count(), free_before);
  EXPECT_EQ(f.obj.find_page(0).value, 0u);

  auto again = f.obj.get_page(0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(f.pager.reads(), 2);
  EXPECT_TRUE(frame_has(mm::phys_to_ptr(again.value()), FakePager::seed(0)));
  frames.release(again.value());

  // Through a fault: the access fails with the error, no PTE, no table
  // made for nothing, and the retry succeeds.
  AddressSpace &as = new_as();
  must_map_file(as, f, kMap, 2, RW, true);
  free_before = frames.free_count();
  f.pager.fail_read(1);
  auto l = load(as, kMap + P);
  ASSERT_TRUE(l.is_error());
  EXPECT_EQ(l.error(), Error::IO);
  EXPECT_EQ(mapped(as, kMap + P).value, 0u);
  EXPECT_EQ(frames.free_count(), free_before);
  EXPECT_EQ(f.obj.cached_pages(), 1u);
  EXPECT_EQ(audit_live(), 0u);
  f.pager.fail_read(1);
  auto s = store(as, kMap + P, 5);
  ASSERT_TRUE(s.is_error());
  EXPECT_EQ(s.error(), Error::IO);
  EXPECT_EQ(counters.cache_dirty.load(), 0u);
  EXPECT_EQ(must_load(as, kMap + P), pattern_word(FakePager::seed(1), 0));
  EXPECT_EQ(audit_live(), 0u);
}

// Anonymous shared memory: an object whose pages start as zeros, shared by
// every mapping of it, freed (pages and all) with its last reference.
// (Shared memory and swap: swap_test.cpp.)
TEST_F(PageCache, AnonymousObjects) {
  uint64 free_before = frames.free_count();
  auto o = VmObject::create_anonymous();
  ASSERT_TRUE(o.ok());
  VmObject *obj = o.value();
  EXPECT_TRUE(obj->anonymous());
  EXPECT_EQ(obj->refs(), 0u);
  EXPECT_EQ(obj->size(), ~0UL);

  AddressSpace &a = new_as();
  AddressSpace &b = new_as();
  ASSERT_TRUE(map_anon(a, kMap, 4, RW, true, obj).ok());
  ASSERT_TRUE(map_anon(b, 2 * kMap, 4, RW, true, obj).ok());
  EXPECT_EQ(obj->refs(), 2u);

  EXPECT_EQ(must_load(a, kMap + P), 0u);
  PhysAddr pa = mapped(a, kMap + P);
  EXPECT_EQ(frames.kind(pa), FrameKind::File) << "the object's page, not the zero frame";
  EXPECT_TRUE(frame_is_zero(mm::phys_to_ptr(pa)));
  must_store(b, 2 * kMap + P, 0x5A5A);
  EXPECT_EQ(mapped(b, 2 * kMap + P), pa);
  EXPECT_EQ(must_load(a, kMap + P), 0x5A5Au);
  must_store(a, kMap + 3 * P, 0x33);
  EXPECT_EQ(must_load(b, 2 * kMap + 3 * P), 0x33u);
  EXPECT_EQ(obj->cached_pages(), 2u);
  EXPECT_EQ(audit_live(), 0u);

  // Its pager is the swap disk, and there is none here: writeback fails,
  // the pages stay dirty, and reclaim keeps them.
  auto w = obj->writeback(0, 4);
  ASSERT_TRUE(w.is_error());
  EXPECT_EQ(w.error(), Error::NoSpace);
  ASSERT_TRUE(a.munmap(VirtAddr(kMap), 4 * P).ok());
  EXPECT_EQ(mm::page_cache::reclaim(100), 0u);
  EXPECT_EQ(must_load(b, 2 * kMap + 3 * P), 0x33u);
  EXPECT_EQ(obj->refs(), 1u);

  b.destroy(); // the last reference: the object and its pages go
  a.destroy();
  EXPECT_EQ(counters.cache_pages.load(), 0u);
  EXPECT_EQ(frames.free_count(), free_before) << "object, pages, tables: all back";
}

} // namespace
} // namespace mmtest

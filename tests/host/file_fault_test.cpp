// The fault path over file mappings (AddressSpace::fault_in and friends):
// MAP_SHARED coherence and dirtying, MAP_PRIVATE copy-on-write from the
// cache, exec-style data_end, BeyondEnd, fork with shared and private
// mappings, munmap / mprotect / MAP_FIXED splits, and the zero frame.
#include "file_fixture.h"

namespace mmtest {
namespace {

using mm::counters;
using mm::ForkMode;
using mm::FrameKind;
using mm::frames;
namespace pte = mm::pte;

constexpr uint64 P = PAGE_SIZE;
constexpr uint64 kMap = 0x10000000;     // a 2 MiB-aligned place for mappings
constexpr uint64 kSpan = 512 * PAGE_SIZE; // what one leaf table maps

uint64 orig(uint64 index) { return pattern_word(FakePager::seed(index), 0); }

class FileFault : public FileTest {};

// Two address spaces map a file MAP_SHARED: one frame, the cache's; a store
// through one is seen through the other and in the object's page, dirties
// it, and reaches the disk when the address spaces go.
TEST_F(FileFault, SharedMappingIsCoherent) {
  TestFile &f = new_file(4 * P);
  AddressSpace &a = new_as();
  AddressSpace &b = new_as();
  must_map_file(a, f, kMap, 4, RW, true);
  must_map_file(b, f, 3 * kMap, 3, RW, true, 1); // pages 1..3 of the file
  EXPECT_EQ(f.pager.holds(), 2);

  EXPECT_EQ(must_load(a, kMap + 2 * P), orig(2));
  EXPECT_EQ(must_load(b, 3 * kMap + P), orig(2));
  PhysAddr pa = cached(f, 2);
  EXPECT_EQ(mapped(a, kMap + 2 * P), pa);
  EXPECT_EQ(mapped(b, 3 * kMap + P), pa);
  EXPECT_EQ(maps_of(pa), 2u);
  EXPECT_EQ(f.pager.reads(), 1);
  EXPECT_FALSE(pte_of(a, kMap + 2 * P)->has(pte::Write)) << "clean: the first store must fault";
  EXPECT_FALSE(dirty(pa));

  must_store(a, kMap + 2 * P, 0x1234);
  EXPECT_TRUE(dirty(pa));
  EXPECT_TRUE(pte_of(a, kMap + 2 * P)->has(pte::Write));
  EXPECT_EQ(mapped(a, kMap + 2 * P), pa) << "a shared store never copies";
  EXPECT_EQ(must_load(b, 3 * kMap + P), 0x1234u);
  EXPECT_EQ(word_at(pa), 0x1234u);
  // And the other way, straight into a page b faults in for writing.
  must_store(b, 3 * kMap + 2 * P, 0x5678);
  EXPECT_EQ(must_load(a, kMap + 3 * P), 0x5678u);
  EXPECT_EQ(counters.cache_dirty.load(), 2u);
  EXPECT_EQ(audit_live(), 0u);
  EXPECT_TRUE(f.pager.disk_page_original(2)) << "nothing written yet";

  a.destroy(); // b still maps the pages: written, still dirty
  EXPECT_EQ(f.pager.disk_word(2), 0x1234u);
  EXPECT_TRUE(dirty(pa));
  b.destroy();
  EXPECT_FALSE(dirty(pa));
  EXPECT_EQ(counters.cache_dirty.load(), 0u);
  EXPECT_EQ(f.pager.disk_word(3), 0x5678u);
  EXPECT_TRUE(f.pager.disk_page_original(0));
  EXPECT_TRUE(f.pager.disk_page_original(1));
  EXPECT_EQ(f.pager.holds(), 0);
}

// MAP_PRIVATE: a load maps the cache's frame read-only (Cow if the mapping
// is writable); a store copies; the file never changes.
TEST_F(FileFault, PrivateMappingCopiesOnWrite) {
  TestFile &f = new_file(4 * P);
  AddressSpace &as = new_as();
  must_map_file(as, f, kMap, 4, RW, false);
  must_map_file(as, f, kMap + 4 * P, 2, RO, false);

  EXPECT_EQ(must_load(as, kMap + P), orig(1));
  PhysAddr pa = cached(f, 1);
  Pte *p = pte_of(as, kMap + P);
  EXPECT_EQ(p->phys(), pa);
  EXPECT_TRUE(p->has(pte::Cow));
  EXPECT_FALSE(p->has(pte::Write));
  EXPECT_EQ(frames.kind(pa), FrameKind::File);

  must_store(as, kMap + P, 0xBEEF);
  p = pte_of(as, kMap + P);
  EXPECT_NE(p->phys(), pa);
  EXPECT_TRUE(p->has(pte::Write));
  EXPECT_FALSE(p->has(pte::Cow));
  EXPECT_EQ(frames.kind(p->phys()), FrameKind::Anon);
  EXPECT_EQ(word_at(pa), orig(1)) << "the cache's page is untouched";
  EXPECT_EQ(maps_of(pa), 0u);
  uint64 *copy = mm::phys_to_ptr<uint64>(p->phys());
  EXPECT_EQ(copy[0], 0xBEEFu);
  EXPECT_EQ(copy[1], pattern_word(FakePager::seed(1), 1)) << "the rest of the page is the file's";
  EXPECT_FALSE(dirty(pa));

  // A store into a page never touched copies straight away (one read).
  long reads = f.pager.reads();
  must_store(as, kMap + 3 * P, 0xCAFE);
  EXPECT_EQ(f.pager.reads(), reads + 1);
  EXPECT_EQ(frames.kind(mapped(as, kMap + 3 * P)), FrameKind::Anon);
  EXPECT_EQ(word_at(cached(f, 3)), orig(3));

  // Read-only private: the cache's frame, no Cow mark, stores refused.
  EXPECT_EQ(must_load(as, kMap + 4 * P), orig(0));
  p = pte_of(as, kMap + 4 * P);
  EXPECT_EQ(p->phys(), cached(f, 0));
  EXPECT_FALSE(p->has(pte::Cow));
  auto s = store(as, kMap + 4 * P, 1);
  ASSERT_TRUE(s.is_error());
  EXPECT_EQ(s.error(), Error::Protection);
  EXPECT_EQ(audit_live(), 0u);

  as.destroy();
  EXPECT_EQ(f.pager.writes(), 0);
  for (uint64 i = 0; i < 4; i++) EXPECT_TRUE(f.pager.disk_page_original(i));
}

// exec's data segment: file data up to data_end, the page straddling it a
// private copy with its tail zeroed, pages past it demand-zero.
TEST_F(FileFault, ExecDataEnd) {
  TestFile &f = new_file(4 * P);
  AddressSpace &as = new_as();
  Mapping m;
  m.start = VirtAddr(kMap);
  m.end = VirtAddr(kMap + 5 * P);
  m.prot = RW;
  m.kind = mm::MapKind::Data;
  m.object = &f.obj;
  m.pgoff = 0;
  m.data_end = P + 200; // page 1 straddles; pages 2..4 are bss
  ASSERT_TRUE(as.map(m).ok());

  EXPECT_EQ(must_load(as, kMap), orig(0));
  EXPECT_EQ(mapped(as, kMap), cached(f, 0)) << "a whole data page: the cache's frame";
  EXPECT_TRUE(pte_of(as, kMap)->has(pte::Cow));

  EXPECT_EQ(must_load(as, kMap + P), orig(1));
  PhysAddr straddle = mapped(as, kMap + P);
  EXPECT_EQ(frames.kind(straddle), FrameKind::Anon) << "a private copy";
  const uint8 *bytes = mm::phys_to_ptr<uint8>(straddle);
  std::vector<uint8> disk = f.pager.disk_page(1);
  EXPECT_EQ(std::memcmp(bytes, disk.data(), 200), 0);
  for (uint64 k = 200; k < P; k++) ASSERT_EQ(bytes[k], 0) << "byte " << k << " past data_end";
  EXPECT_EQ(word_at(cached(f, 1)), orig(1)) << "the cache keeps the file's bytes";

  long reads = f.pager.reads();
  EXPECT_EQ(must_load(as, kMap + 2 * P), 0u) << "page 2 of the file is past data_end: bss";
  EXPECT_EQ(mapped(as, kMap + 2 * P), mm::page_cache::zero_frame());
  EXPECT_EQ(must_load(as, kMap + 4 * P), 0u) << "past the file's end too";
  EXPECT_EQ(f.pager.reads(), reads) << "bss reads nothing";
  must_store(as, kMap + 3 * P, 9);
  EXPECT_EQ(frames.kind(mapped(as, kMap + 3 * P)), FrameKind::Anon);
  must_store(as, kMap + 2 * P, 8);
  EXPECT_NE(mapped(as, kMap + 2 * P), mm::page_cache::zero_frame());
  must_store(as, kMap + P, 7); // the straddling copy is already private and writable
  EXPECT_EQ(mapped(as, kMap + P), straddle);
  EXPECT_EQ(audit_live(), 0u);

  // A straddling page whose tail is zero already may map the cache's frame.
  TestFile &g = new_file(P + 300); // page 1: 300 bytes, then zeros
  AddressSpace &b = new_as();
  m.object = &g.obj;
  m.data_end = P + 300;
  ASSERT_TRUE(b.map(m).ok());
  EXPECT_EQ(must_load(b, kMap + P), orig(1));
  EXPECT_EQ(mapped(b, kMap + P), cached(g, 1));
  must_store(b, kMap + P, 3);
  EXPECT_EQ(frames.kind(mapped(b, kMap + P)), FrameKind::Anon);
  EXPECT_EQ(audit_live(), 0u);
  as.destroy();
  b.destroy();
  EXPECT_EQ(f.pager.writes() + g.pager.writes(), 0);
}

// A mapping's pages at or past the object's end are an error (SIGBUS), for
// loads and stores, shared and private; nothing is allocated for them.
TEST_F(FileFault, BeyondEnd) {
  TestFile &f = new_file(P + 100);
  AddressSpace &as = new_as();
  must_map_file(as, f, kMap, 4, RW, true);
  must_map_file(as, f, kMap + 4 * P, 4, RW, false);
  must_map_file(as, f, kMap + 8 * P, 1, RW, true, 2);
  EXPECT_EQ(must_load(as, kMap + P), orig(1)); // 100 bytes of data, then zeros
  EXPECT_EQ(must_load(as, kMap + 5 * P), orig(1));
  uint64 free_before = frames.free_count();
  long reads = f.pager.reads();
  for (uint64 va : {kMap + 2 * P, kMap + 3 * P, kMap + 6 * P, kMap + 7 * P, kMap + 8 * P}) {
    auto l = load(as, va);
    ASSERT_TRUE(l.is_error());
    EXPECT_EQ(l.error(), Error::BeyondEnd);
    auto s = store(as, va, 1);
    ASSERT_TRUE(s.is_error());
    EXPECT_EQ(s.error(), Error::BeyondEnd);
    EXPECT_EQ(mapped(as, va).value, 0u);
  }
  EXPECT_EQ(frames.free_count(), free_before);
  EXPECT_EQ(f.pager.reads(), reads);
  EXPECT_EQ(f.obj.cached_pages(), 1u);
}

// fork with private anonymous, private file and shared file mappings. With
// all of them in one 2 MiB the leaf table cannot be shared: private entries
// are copied (Cow), shared ones are left for the child to fault in. In
// separate 2 MiB the private table is shared whole.
class FileFork : public FileFault, public ::testing::WithParamInterface<std::tuple<ForkMode, bool>> {};

TEST_P(FileFork, SharedAndPrivate) {
  auto [mode, separate] = GetParam();
  TestFile &f = new_file(8 * P);
  AddressSpace &parent = new_as();
  const uint64 anon = kMap, priv = kMap + 4 * P;
  const uint64 shared = separate ? kMap + kSpan : kMap + 8 * P;
  ASSERT_TRUE(map_anon(parent, anon, 2, RW).ok());
  must_map_file(parent, f, priv, 2, RW, false);
  must_map_file(parent, f, shared, 4, RW, true, 4);
  must_store(parent, anon, 0xA);
  EXPECT_EQ(must_load(parent, priv), orig(0));
  must_store(parent, priv + P, 0xB);
  must_store(parent, shared, 0xC);
  EXPECT_EQ(must_load(parent, shared + P), orig(5));
  EXPECT_EQ(f.pager.holds(), 2);

  AddressSpace &child = new_as();
  ASSERT_TRUE(parent.clone_into(child, mode).ok());
  EXPECT_EQ(f.pager.holds(), 4);
  EXPECT_EQ(audit_live(), 0u);
  bool cow = mode != ForkMode::Eager;
  if (cow && separate) {
    EXPECT_EQ(leaf_table_of(child, anon), leaf_table_of(parent, anon)) << "a private-only table is shared";
  } else if (pte_of(child, anon)) {
    EXPECT_NE(leaf_table_of(child, anon), leaf_table_of(parent, anon));
  }
  EXPECT_EQ(mapped(child, shared).value, 0u) << "shared entries are not copied";
  EXPECT_EQ(mapped(child, shared + P).value, 0u);
  if (cow) {
    EXPECT_EQ(mapped(child, priv), cached(f, 0));
    EXPECT_TRUE(pte_of(child, anon)->has(pte::Cow));
    EXPECT_TRUE(pte_of(parent, anon)->has(pte::Cow));
  }

  // Shared: the child faults the object's page in, and stores both ways.
  long reads = f.pager.reads();
  EXPECT_EQ(must_load(child, shared), 0xCu);
  EXPECT_EQ(mapped(child, shared), mapped(parent, shared));
  must_store(child, shared + P, 0xD);
  EXPECT_EQ(must_load(parent, shared + P), 0xDu);
  must_store(parent, shared + 2 * P, 0xE);
  EXPECT_EQ(must_load(child, shared + 2 * P), 0xEu);
  EXPECT_EQ(f.pager.reads(), reads + 1) << "only page 6 was new";

  // Private: isolated both ways.
  must_store(child, anon, 0x1A);
  must_store(parent, priv + P, 0x2B);
  must_store(child, priv, 0x3C);
  EXPECT_EQ(must_load(parent, anon), 0xAu);
  EXPECT_EQ(must_load(child, priv + P), 0xBu);
  EXPECT_EQ(must_load(parent, priv), orig(0));
  EXPECT_EQ(word_at(cached(f, 0)), orig(0));
  EXPECT_EQ(audit_live(), 0u);

  // The fork's own results reach the disk only through shared mappings.
  child.destroy();
  parent.destroy();
  EXPECT_TRUE(f.pager.disk_page_original(0));
  EXPECT_TRUE(f.pager.disk_page_original(1));
  EXPECT_EQ(f.pager.disk_word(4), 0xCu);
  EXPECT_EQ(f.pager.disk_word(5), 0xDu);
  EXPECT_EQ(f.pager.disk_word(6), 0xEu);
  EXPECT_TRUE(f.pager.disk_page_original(7));
}

INSTANTIATE_TEST_SUITE_P(Modes, FileFork,
                         ::testing::Combine(::testing::Values(ForkMode::Cow, ForkMode::CowAhead, ForkMode::Eager),
                                            ::testing::Bool()));

// A MAP_SHARED mapping made, after fork, in a 2 MiB whose leaf table is
// still shared with the child: faulting it in gives the parent its own
// table; the child's view does not change.
TEST_F(FileFault, SharedMappingIntoForkSharedTable) {
  TestFile &f = new_file(4 * P);
  AddressSpace &parent = new_as();
  ASSERT_TRUE(map_anon(parent, kMap, 2, RW).ok());
  must_store(parent, kMap, 1);
  AddressSpace &child = new_as();
  ASSERT_TRUE(parent.clone_into(child, ForkMode::Cow).ok());
  ASSERT_EQ(leaf_table_of(child, kMap), leaf_table_of(parent, kMap));

  AddressSpace::MapRequest req; // not MAP_FIXED: no munmap runs first
  req.addr = VirtAddr(kMap + 8 * P);
  req.len = 2 * P;
  req.prot = RW;
  req.shared = true;
  req.object = &f.obj;
  auto at = parent.mmap(req);
  ASSERT_TRUE(at.ok());
  ASSERT_EQ(at.value().value, kMap + 8 * P);
  must_store(parent, kMap + 8 * P, 0x99);
  EXPECT_NE(leaf_table_of(child, kMap), leaf_table_of(parent, kMap));
  EXPECT_EQ(mapped(child, kMap + 8 * P).value, 0u);
  EXPECT_EQ(must_load(child, kMap), 1u);
  EXPECT_EQ(audit_live(), 0u);
  // And a fork now copies entries instead of sharing that table.
  AddressSpace &grandchild = new_as();
  ASSERT_TRUE(parent.clone_into(grandchild, ForkMode::Cow).ok());
  EXPECT_NE(leaf_table_of(grandchild, kMap), leaf_table_of(parent, kMap));
  EXPECT_EQ(must_load(grandchild, kMap + 8 * P), 0x99u);
  EXPECT_EQ(audit_live(), 0u);
}

// munmap in the middle of a file mapping: two mappings, the upper one's
// pgoff advanced; the pages that went are written back if dirty and stay
// cached; the object has one reference per mapping.
TEST_F(FileFault, MunmapSplits) {
  TestFile &f = new_file(8 * P);
  AddressSpace &as = new_as();
  must_map_file(as, f, kMap, 6, RW, true, 1); // file pages 1..6
  for (uint64 i = 0; i < 6; i++) must_load(as, kMap + i * P);
  must_store(as, kMap + 3 * P, 0x44); // file page 4
  ASSERT_TRUE(as.munmap(VirtAddr(kMap + 2 * P), 2 * P).ok());
  EXPECT_EQ(as.mappings().count(), 2u);
  Mapping *up = as.find_region(kMap + 4 * P);
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->pgoff, 5u);
  EXPECT_EQ(f.pager.holds(), 2);
  EXPECT_EQ(f.obj.refs(), 2u);
  EXPECT_EQ(mapped(as, kMap + 2 * P).value, 0u);
  EXPECT_EQ(mapped(as, kMap + 3 * P).value, 0u);
  EXPECT_EQ(f.pager.written(), (std::vector<uint64>{4}));
  EXPECT_FALSE(dirty(cached(f, 4)));
  EXPECT_EQ(f.obj.cached_pages(), 6u);
  EXPECT_EQ(mapped(as, kMap + 4 * P), cached(f, 5));
  EXPECT_EQ(must_load(as, kMap + 5 * P), orig(6));
  auto l = load(as, kMap + 2 * P);
  ASSERT_TRUE(l.is_error());
  EXPECT_EQ(l.error(), Error::BadAddress);
  EXPECT_EQ(audit_live(), 0u);
}

// mprotect back and forth: pieces split and merge again; PTEs follow: a
// private page regains Write only through Cow, a shared one through a fault
// (which dirties it).
TEST_F(FileFault, MprotectBackAndForth) {
  TestFile &f = new_file(8 * P);
  AddressSpace &as = new_as();
  must_map_file(as, f, kMap, 4, RW, false);
  must_map_file(as, f, kMap + 4 * P, 4, RW, true, 4);
  for (uint64 i = 0; i < 8; i++) must_load(as, kMap + i * P);
  must_store(as, kMap + 2 * P, 0x22);     // private: an Anon copy, writable
  must_store(as, kMap + 6 * P, 0x66);     // shared: dirty, writable
  PhysAddr copy = mapped(as, kMap + 2 * P);

  ASSERT_TRUE(as.mprotect(VirtAddr(kMap + P), 6 * P, RO).ok());
  EXPECT_EQ(as.mappings().count(), 4u);
  EXPECT_EQ(f.pager.holds(), 4);
  for (uint64 i = 1; i < 7; i++) {
    Pte *p = pte_of(as, kMap + i * P);
    EXPECT_FALSE(p->has(pte::Write)) << i;
    EXPECT_FALSE(p->raw & pte::Cow) << i;
    auto s = store(as, kMap + i * P, 1);
    ASSERT_TRUE(s.is_error());
    EXPECT_EQ(s.error(), Error::Protection);
  }
  EXPECT_TRUE(pte_of(as, kMap)->has(pte::Cow)) << "outside the range: unchanged";
  EXPECT_EQ(audit_live(), 0u);

  ASSERT_TRUE(as.mprotect(VirtAddr(kMap + P), 6 * P, RW).ok());
  EXPECT_EQ(as.mappings().count(), 2u) << "the pieces joined again";
  EXPECT_EQ(f.pager.holds(), 2);
  EXPECT_TRUE(pte_of(as, kMap + P)->has(pte::Cow));
  EXPECT_TRUE(pte_of(as, kMap + 2 * P)->has(pte::Cow)) << "was writable, now Cow";
  EXPECT_FALSE(pte_of(as, kMap + 5 * P)->has(pte::Write));
  EXPECT_FALSE(pte_of(as, kMap + 5 * P)->raw & pte::Cow) << "shared pages are never Cow";
  uint64 reuses = counters.cow_reuses.load();
  must_store(as, kMap + 2 * P, 0x23);
  EXPECT_EQ(mapped(as, kMap + 2 * P), copy) << "our own copy is reused";
  EXPECT_EQ(counters.cow_reuses.load() - reuses, 1u);
  must_store(as, kMap + P, 0x11);
  EXPECT_EQ(frames.kind(mapped(as, kMap + P)), FrameKind::Anon);
  must_store(as, kMap + 5 * P, 0x55);
  EXPECT_EQ(mapped(as, kMap + 5 * P), cached(f, 5));
  EXPECT_TRUE(dirty(cached(f, 5)));
  EXPECT_EQ(audit_live(), 0u);
  as.destroy();
  EXPECT_EQ(f.pager.disk_word(5), 0x55u);
  EXPECT_EQ(f.pager.disk_word(6), 0x66u);
  EXPECT_TRUE(f.pager.disk_page_original(1));
  EXPECT_TRUE(f.pager.disk_page_original(2));
}

// MAP_FIXED over part of a shared file mapping: the old pages there are
// written back and unmapped, the new mapping takes their place, the rest
// stays.
TEST_F(FileFault, MapFixedOverPart) {
  TestFile &f = new_file(6 * P);
  AddressSpace &as = new_as();
  must_map_file(as, f, kMap, 6, RW, true);
  for (uint64 i = 0; i < 6; i++) must_load(as, kMap + i * P);
  must_store(as, kMap + 2 * P, 0x2);
  ASSERT_TRUE(map_anon(as, kMap + 2 * P, 2, RW).ok());
  EXPECT_EQ(as.mappings().count(), 3u);
  EXPECT_EQ(f.pager.holds(), 2);
  EXPECT_EQ(f.pager.disk_word(2), 0x2u);
  EXPECT_EQ(must_load(as, kMap + 2 * P), 0u);
  EXPECT_EQ(mapped(as, kMap + 2 * P), mm::page_cache::zero_frame());
  EXPECT_EQ(must_load(as, kMap + 3 * P), 0u);
  EXPECT_EQ(mapped(as, kMap + 4 * P), cached(f, 4));
  EXPECT_EQ(mapped(as, kMap + P), cached(f, 1));
  // And a file over anonymous memory.
  must_store(as, kMap + 3 * P, 0x3);
  must_map_file(as, f, kMap + 3 * P, 1, RW, false, 5);
  EXPECT_EQ(must_load(as, kMap + 3 * P), orig(5));
  EXPECT_EQ(as.mappings().count(), 4u);
  EXPECT_EQ(audit_live(), 0u);
}

// The zero frame: loads of untouched anonymous memory map it read-only (Cow
// if writable), stores copy it, it is never writable anywhere.
TEST_F(FileFault, ZeroFrame) {
  AddressSpace &as = new_as();
  PhysAddr zero = mm::page_cache::zero_frame();
  ASSERT_TRUE(map_anon(as, kMap, 4, RW).ok());
  ASSERT_TRUE(map_anon(as, kMap + 4 * P, 1, RO).ok());
  uint64 zero_maps = counters.zero_maps.load();
  for (uint64 i = 0; i < 5; i++) EXPECT_EQ(must_load(as, kMap + i * P), 0u);
  EXPECT_EQ(counters.zero_maps.load() - zero_maps, 5u);
  EXPECT_EQ(maps_of(zero), 5u);
  EXPECT_TRUE(pte_of(as, kMap)->has(pte::Cow));
  EXPECT_FALSE(pte_of(as, kMap + 4 * P)->raw & pte::Cow) << "read-only: no Cow mark";
  EXPECT_FALSE(pte_of(as, kMap + 4 * P)->has(pte::Write));

  must_store(as, kMap + P, 5);
  EXPECT_NE(mapped(as, kMap + P), zero);
  EXPECT_EQ(maps_of(zero), 4u);
  EXPECT_TRUE(frame_is_zero(mm::phys_to_ptr(zero)));

  AddressSpace &child = new_as();
  ASSERT_TRUE(as.clone_into(child, ForkMode::Cow).ok());
  EXPECT_EQ(must_load(child, kMap + 2 * P), 0u);
  must_store(child, kMap + 2 * P, 6);
  EXPECT_EQ(must_load(as, kMap + 2 * P), 0u);
  ASSERT_TRUE(as.mprotect(VirtAddr(kMap), 4 * P, RO).ok());
  ASSERT_TRUE(as.mprotect(VirtAddr(kMap), 4 * P, RW).ok());
  EXPECT_FALSE(pte_of(as, kMap + 3 * P)->has(pte::Write));
  must_store(as, kMap + 3 * P, 7);
  EXPECT_NE(mapped(as, kMap + 3 * P), zero);
  AddressSpace &eager = new_as();
  ASSERT_TRUE(as.clone_into(eager, ForkMode::Eager).ok());
  EXPECT_EQ(must_load(eager, kMap), 0u);
  EXPECT_TRUE(frame_is_zero(mm::phys_to_ptr(zero)));
  EXPECT_EQ(audit_live(), 0u);
  for (auto &s : spaces_)
    for (auto &[va, p] : leaves(*s))
      if (p.phys() == zero) {
        EXPECT_FALSE(p.has(pte::Write)) << std::hex << va;
      }
}

} // namespace
} // namespace mmtest

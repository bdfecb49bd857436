// Shared setup for the tests of memory objects, the page cache and the
// fault path over file mappings (page_cache_test, file_fault_test,
// file_oom_test, file_concurrency_test).
//
// A test file is a FakePager (fake_pager.h) and the VmObject it backs, kept
// by the fixture until every address space is gone. TearDown audits the
// live address spaces, destroys them (writing back what MAP_SHARED dirtied),
// checks that no mapping holds an object any more (the pager's holds and
// the object's refs are 0), drops each object's pages (as an inode being
// freed would), and then runs MmTest's checks: audit, and every frame back.
#pragma once

#include <memory>
#include <vector>

#include "fake_pager.h"
#include "mm/mapping.h"
#include "mm/slab.h"
#include "mm_fixture.h"

namespace mmtest {

using mm::Access;
using mm::Mapping;
using mm::VmObject;
namespace prot = mm::prot;
namespace page_flag = mm::page_flag;

constexpr uint32 RO = prot::Read;
constexpr uint32 RW = prot::Read | prot::Write;

struct TestFile {
  explicit TestFile(uint64 size) : pager(size) { obj.init(&pager); }
  FakePager pager;
  VmObject obj;
};

// A page's first word, as the user sees it / as it is in a frame.
inline uint64 word_at(PhysAddr pa) { return *mm::phys_to_ptr<uint64>(pa); }

class FileTest : public MmTest {
protected:
  void SetUp() override {
    MmTest::SetUp();
    mm::mapping_cache().reset_for_tests(); // the frame table was re-initialised
  }

  void TearDown() override {
    mm::frames.fail_after(-1);
    EXPECT_EQ(audit_live(), 0u) << "audit of the live address spaces at the end of the test";
    for (auto &as : spaces_) as->destroy();
    spaces_.clear();
    for (auto &f : files_) {
      EXPECT_EQ(f->obj.refs(), 0u) << "object references leaked";
      EXPECT_EQ(f->pager.holds(), 0) << "inode holds leaked";
      EXPECT_EQ(f->pager.unlocked_reads(), 0) << "a page was read without lock_io";
      f->obj.drop_pages(0);
      EXPECT_EQ(f->obj.cached_pages(), 0u);
    }
    EXPECT_EQ(mm::counters.cache_pages.load(), 0u);
    EXPECT_EQ(mm::counters.cache_dirty.load(), 0u);
    EXPECT_EQ(mm::mapping_cache().in_use(), 0u);
    MmTest::TearDown();
  }

  // A file of `size` bytes owned by the fixture.
  TestFile &new_file(uint64 size) {
    files_.push_back(std::make_unique<TestFile>(size));
    return *files_.back();
  }

  // mmap of `pages` pages of f from page pgoff at va (MAP_FIXED).
  static Result<VirtAddr> map_file(AddressSpace &as, TestFile &f, uint64 va, uint64 pages, uint32 p,
                                   bool shared, uint64 pgoff = 0) {
    AddressSpace::MapRequest req;
    req.addr = VirtAddr(va);
    req.len = pages * PAGE_SIZE;
    req.prot = p;
    req.shared = shared;
    req.fixed = true;
    req.object = &f.obj;
    req.pgoff = pgoff;
    req.kind = mm::MapKind::File;
    return as.mmap(req);
  }
  void must_map_file(AddressSpace &as, TestFile &f, uint64 va, uint64 pages, uint32 p, bool shared,
                     uint64 pgoff = 0) {
    auto r = map_file(as, f, va, pages, p, shared, pgoff);
    ASSERT_TRUE(r.ok()) << error_name(r.error());
    ASSERT_EQ(r.value().value, va);
  }
  // Private anonymous memory at va (MAP_FIXED), or with `object` shared.
  static Result<VirtAddr> map_anon(AddressSpace &as, uint64 va, uint64 pages, uint32 p, bool shared = false,
                                   VmObject *object = nullptr) {
    AddressSpace::MapRequest req;
    req.addr = VirtAddr(va);
    req.len = pages * PAGE_SIZE;
    req.prot = p;
    req.shared = shared;
    req.fixed = true;
    req.object = object;
    return as.mmap(req);
  }

  // A user load / store of the 64-bit word at va, through the fault path as
  // the hardware and copy-in/out would do it. Errors come back as Results.
  static Result<uint64> load(AddressSpace &as, uint64 va) {
    PhysAddr pa = TRY(as.resolve(VirtAddr(va), Access::Read));
    return *mm::phys_to_ptr<uint64>(pa);
  }
  static Result<void> store(AddressSpace &as, uint64 va, uint64 value) {
    PhysAddr pa = TRY(as.resolve(VirtAddr(va), Access::Write));
    *mm::phys_to_ptr<uint64>(pa) = value;
    return {};
  }
  // The same, expected to succeed.
  static uint64 must_load(AddressSpace &as, uint64 va) {
    auto r = load(as, va);
    EXPECT_TRUE(r.ok()) << "load at " << std::hex << va << ": " << error_name(r.error());
    return r.ok() ? r.value() : ~0UL;
  }
  static void must_store(AddressSpace &as, uint64 va, uint64 value) {
    auto r = store(as, va, value);
    EXPECT_TRUE(r.ok()) << "store at " << std::hex << va << ": " << error_name(r.error());
  }

  // The frame mapped at va (a null PhysAddr if none).
  static PhysAddr mapped(AddressSpace &as, uint64 va) {
    Pte *p = pte_of(as, va);
    return p && p->valid() ? p->phys() : PhysAddr();
  }
  // The cached frame of page `index` of f (null if not cached); no hold kept.
  static PhysAddr cached(TestFile &f, uint64 index) {
    PhysAddr pa = f.obj.find_page(index);
    if (pa.value) mm::frames.release(pa);
    return pa;
  }
  static uint32 flags_of(PhysAddr pa) { return mm::frames.record(pa).flags.load(); }
  static bool dirty(PhysAddr pa) { return flags_of(pa) & page_flag::Dirty; }
  // The mapping count, and the holds, of a frame.
  static uint64 maps_of(PhysAddr pa) { return mm::frames.record(pa).count.load() & mm::MAPS_MASK; }
  static uint64 holds_of(PhysAddr pa) { return mm::frames.record(pa).count.load() >> 32; }

  std::vector<std::unique_ptr<TestFile>> files_;
};

} // namespace mmtest

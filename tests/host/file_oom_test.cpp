// Out of memory at every allocation (frames.fail_after(k), k = 0, 1, ...
// until the operation succeeds) for file faults, mmap / munmap / mprotect
// splits and fork with shared mappings. Each time: an error or success, the
// audit clean, and once everything is destroyed every frame back and no
// reference to the object or its "inode" left.
#include <functional>

#include "file_fixture.h"

namespace mmtest {
namespace {

using mm::ForkMode;
using mm::frames;

constexpr uint64 P = PAGE_SIZE;
constexpr uint64 kMap = 0x10000000;
constexpr long kMaxSteps = 200;

class FileOom : public FileTest {
protected:
  // Run setup(), then op() with allocation k failing, for k = 0, 1, ...
  // until op succeeds; then check(). Returns how many failures were seen.
  long every_allocation(const std::function<void()> &setup, const std::function<Result<void>()> &op,
                        const std::function<void()> &check = [] {}) {
    long failures = 0;
    for (long k = 0; k < kMaxSteps; k++) {
      setup();
      frames.fail_after(k);
      Result<void> r = op();
      frames.fail_after(-1);
      EXPECT_EQ(audit_live(), 0u) << "k = " << k;
      if (r.ok()) check();
      teardown_iteration(k);
      if (r.ok()) return failures;
      EXPECT_EQ(r.error(), Error::NoMemory) << "k = " << k;
      failures++;
    }
    ADD_FAILURE() << "never succeeded";
    return failures;
  }

  void teardown_iteration(long k) {
    for (void *o : filler_) mm::mapping_cache().free(o);
    filler_.clear();
    destroy_all();
    for (auto &f : files_) {
      EXPECT_EQ(f->pager.holds(), 0) << "k = " << k;
      EXPECT_EQ(f->obj.refs(), 0u) << "k = " << k;
      f->obj.drop_pages(0);
    }
    EXPECT_EQ(mm::audit(nullptr, 0, report_violation), 0u) << "k = " << k;
    EXPECT_EQ(frames.free_count(), start_free_) << "frames leaked, k = " << k;
  }

  // Fill the mapping slab's frames, so that the next mapping needs a new one.
  void fill_mapping_slab() {
    auto &c = mm::mapping_cache();
    do {
      auto r = c.alloc();
      ASSERT_TRUE(r.ok());
      filler_.push_back(r.value());
    } while (c.in_use() % c.per_frame() != 0);
  }

  std::vector<void *> filler_;
};

TEST_F(FileOom, FileFaults) {
  TestFile &f = new_file(4 * P);
  for (bool shared : {true, false})
    for (Access access : {Access::Read, Access::Write})
      for (bool warm : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "shared " << shared << " write " << (access == Access::Write)
                                          << " warm " << warm);
        AddressSpace *as = nullptr;
        long failures = every_allocation(
            [&] {
              as = &new_as();
              ASSERT_TRUE(map_file(*as, f, kMap, 4, RW, shared).ok());
              if (warm) frames.release(f.obj.get_page(1).value());
            },
            [&] { return as->handle_fault(VirtAddr(kMap + P), access); },
            [&] {
              EXPECT_EQ(word_at(mapped(*as, kMap + P)), pattern_word(FakePager::seed(1), 0));
              EXPECT_EQ(dirty(cached(f, 1)), shared && access == Access::Write);
            });
        // Tables (3 levels less the root), and for a cold page its frame,
        // and for a private store the copy.
        long want = 2 + !warm + (!shared && access == Access::Write);
        EXPECT_EQ(failures, want);
      }
}

TEST_F(FileOom, MmapMunmapMprotectSplits) {
  TestFile &f = new_file(8 * P);
  AddressSpace *as = nullptr;
  auto setup = [&] {
    as = &new_as();
    ASSERT_TRUE(map_file(*as, f, kMap, 8, RW, true).ok());
    ASSERT_TRUE(map_file(*as, f, kMap + 8 * P, 8, RW, false).ok());
    for (uint64 i = 0; i < 16; i++) ASSERT_TRUE(as->handle_fault(VirtAddr(kMap + i * P), Access::Write).ok());
    fill_mapping_slab();
  };
  auto unchanged_outside = [&] {
    EXPECT_EQ(mapped(*as, kMap + P), cached(f, 1));
    EXPECT_EQ(mm::frames.kind(mapped(*as, kMap + 15 * P)), mm::FrameKind::Anon); // a private copy
  };
  {
    SCOPED_TRACE("mmap MAP_FIXED in the middle");
    long failures = every_allocation(
        setup,
        [&]() -> Result<void> {
          auto r = map_anon(*as, kMap + 2 * P, 2, RW);
          if (r.is_error()) return r.error();
          return {};
        },
        [&] {
          unchanged_outside();
          EXPECT_EQ(as->mappings().count(), 4u);
        });
    EXPECT_GE(failures, 1);
  }
  {
    SCOPED_TRACE("munmap in the middle");
    long failures = every_allocation(
        setup, [&] { return as->munmap(VirtAddr(kMap + 4 * P), 8 * P); },
        [&] {
          unchanged_outside();
          EXPECT_EQ(mapped(*as, kMap + 5 * P).value, 0u);
          EXPECT_EQ(as->mappings().count(), 2u);
        });
    EXPECT_GE(failures, 1);
  }
  {
    SCOPED_TRACE("mprotect in the middle");
    long failures = every_allocation(
        setup, [&] { return as->mprotect(VirtAddr(kMap + 3 * P), 10 * P, RO); },
        [&] {
          unchanged_outside();
          EXPECT_FALSE(pte_of(*as, kMap + 3 * P)->has(mm::pte::Write));
          EXPECT_EQ(as->mappings().count(), 4u);
        });
    EXPECT_GE(failures, 1);
  }
}

TEST_F(FileOom, ForkWithSharedMappings) {
  TestFile &f = new_file(8 * P);
  for (ForkMode mode : {ForkMode::Cow, ForkMode::Eager})
    for (bool separate : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "mode " << int(mode) << " separate " << separate);
      AddressSpace *parent = nullptr, *child = nullptr;
      const uint64 shared = separate ? kMap + 512 * P : kMap + 8 * P;
      long failures = every_allocation(
          [&] {
            parent = &new_as();
            ASSERT_TRUE(map_anon(*parent, kMap, 2, RW).ok());
            ASSERT_TRUE(map_file(*parent, f, kMap + 4 * P, 2, RW, false).ok());
            ASSERT_TRUE(map_file(*parent, f, shared, 4, RW, true, 4).ok());
            for (uint64 va : {kMap, kMap + 4 * P, kMap + 5 * P, shared, shared + P})
              ASSERT_TRUE(parent->handle_fault(VirtAddr(va), Access::Write).ok());
            fill_mapping_slab();
            child = &new_as();
          },
          [&] { return parent->clone_into(*child, mode); },
          [&] {
            EXPECT_TRUE(child->handle_fault(VirtAddr(shared), Access::Write).ok());
            EXPECT_EQ(mapped(*child, shared), mapped(*parent, shared));
            EXPECT_EQ(audit_live(), 0u);
          });
      EXPECT_GE(failures, 1);
    }
}

} // namespace
} // namespace mmtest

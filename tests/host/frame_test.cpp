// The frame table: allocation, reference counts, exhaustion, test hooks.
#include <sys/wait.h>

#include <set>

#include "mm_fixture.h"

namespace mmtest {
namespace {

using mm::FrameKind;
using mm::frames;

using FrameTable = MmTest;

TEST_F(FrameTable, InitPutsEveryFrameOnTheFreeLists) {
  EXPECT_GT(frames.total(), 0u);
  EXPECT_LT(frames.total(), kArenaSize / PAGE_SIZE); // the table itself uses some
  EXPECT_EQ(frames.free_count(), usable_frames());
  EXPECT_EQ(frames.count_free_lists(), usable_frames());
  EXPECT_TRUE(frames.contains(frames.frame_at(0)));
  EXPECT_FALSE(frames.contains(PhysAddr(kPhysBase + kArenaSize)));
  EXPECT_FALSE(frames.contains(PhysAddr(kPhysBase))); // the table's own pages
}

TEST_F(FrameTable, AllocAndFreeCountAndTrackKind) {
  auto a = frames.alloc(FrameKind::Anon);
  ASSERT_TRUE(a.ok());
  PhysAddr pa = a.value();
  EXPECT_TRUE(pa.is_page_aligned());
  EXPECT_TRUE(frames.contains(pa));
  EXPECT_EQ(frames.free_count(), start_free_ - 1);
  EXPECT_EQ(frames.refcount(pa), 1u);
  EXPECT_EQ(frames.kind(pa), FrameKind::Anon);

  auto b = frames.alloc(FrameKind::PageTable);
  ASSERT_TRUE(b.ok());
  EXPECT_NE(b.value(), pa);
  EXPECT_EQ(frames.kind(b.value()), FrameKind::PageTable);
  EXPECT_EQ(frames.free_count(), start_free_ - 2);

  frames.unref(pa);
  EXPECT_EQ(frames.refcount(pa), 0u);
  EXPECT_EQ(frames.kind(pa), FrameKind::Free);
  EXPECT_EQ(frames.free_count(), start_free_ - 1);
  frames.unref(b.value());
  EXPECT_EQ(frames.free_count(), start_free_);
}

TEST_F(FrameTable, ReferencesKeepAFrameUntilTheLastUnref) {
  PhysAddr pa = frames.alloc(FrameKind::Anon).value();
  frames.ref(pa);
  frames.ref(pa);
  EXPECT_EQ(frames.refcount(pa), 3u);
  frames.unref(pa);
  frames.unref(pa);
  EXPECT_EQ(frames.refcount(pa), 1u);
  EXPECT_EQ(frames.kind(pa), FrameKind::Anon);
  EXPECT_EQ(frames.free_count(), start_free_ - 1);
  frames.unref(pa);
  EXPECT_EQ(frames.free_count(), start_free_);
}

// Every frame can be allocated, from one hart, although each hart's list holds
// only a share of them (the others' lists are stolen from); then the table
// says NoMemory, and freeing everything restores it exactly.
TEST_F(FrameTable, AllocatesEveryFrameThenNoMemoryThenRecovers) {
  std::vector<PhysAddr> got;
  std::set<uint64> distinct;
  for (;;) {
    auto r = frames.alloc(FrameKind::Anon);
    if (r.is_error()) {
      EXPECT_EQ(r.error(), Error::NoMemory);
      break;
    }
    got.push_back(r.value());
    distinct.insert(r.value().value);
    ASSERT_LE(got.size(), usable_frames()) << "handed out more frames than exist";
  }
  EXPECT_EQ(got.size(), usable_frames());
  EXPECT_EQ(distinct.size(), got.size()) << "a frame was handed out twice";
  EXPECT_EQ(frames.free_count(), 0u);
  EXPECT_EQ(frames.alloc(FrameKind::Anon).error(), Error::NoMemory);
  EXPECT_EQ(frames.alloc_zeroed(FrameKind::Kernel).error(), Error::NoMemory);
  EXPECT_EQ(mm::audit(nullptr, 0), got.size()) << "audit must flag unmapped User frames";

  for (PhysAddr pa : got) frames.unref(pa);
  EXPECT_EQ(frames.free_count(), usable_frames());
  EXPECT_EQ(frames.count_free_lists(), usable_frames());
  auto again = frames.alloc(FrameKind::Anon);
  ASSERT_TRUE(again.ok());
  frames.unref(again.value());
}

TEST_F(FrameTable, ZeroedAllocIsZero) {
  // Dirty a frame, free it, and ask for a zeroed one (LIFO lists make it very
  // likely to be the same frame; the check holds either way).
  PhysAddr pa = frames.alloc(FrameKind::Anon).value();
  std::memset(mm::phys_to_ptr(pa), 0xEE, PAGE_SIZE);
  frames.unref(pa);
  PhysAddr z = frames.alloc_zeroed(FrameKind::Anon).value();
  EXPECT_TRUE(frame_is_zero(mm::phys_to_ptr(z)));
  EXPECT_EQ(frames.refcount(z), 1u);
  frames.unref(z);
}

TEST_F(FrameTable, FailAfterFailsDeterministically) {
  frames.fail_after(2);
  auto a = frames.alloc(FrameKind::Anon);
  auto b = frames.alloc_zeroed(FrameKind::Anon);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  uint64 free_now = frames.free_count();
  EXPECT_EQ(frames.alloc(FrameKind::Anon).error(), Error::NoMemory);
  EXPECT_EQ(frames.alloc(FrameKind::Anon).error(), Error::NoMemory); // stays failed
  EXPECT_EQ(frames.free_count(), free_now) << "a failed alloc must not consume a frame";
  frames.fail_after(0);
  EXPECT_EQ(frames.alloc(FrameKind::Anon).error(), Error::NoMemory);
  frames.fail_after(-1);
  auto c = frames.alloc(FrameKind::Anon);
  ASSERT_TRUE(c.ok());
  for (PhysAddr pa : {a.value(), b.value(), c.value()}) frames.unref(pa);
}

TEST_F(FrameTable, AuditFlagsAMiscountedFrame) {
  PhysAddr pa = frames.alloc(FrameKind::Anon).value(); // refs 1, mapped nowhere
  EXPECT_EQ(mm::audit(nullptr, 0), 1u);
  frames.unref(pa);
  EXPECT_EQ(mm::audit(nullptr, 0), 0u);
  PhysAddr k = frames.alloc(FrameKind::Kernel).value(); // kernel frames need no mapping
  EXPECT_EQ(mm::audit(nullptr, 0), 0u);
  frames.unref(k);
}

using FrameTableDeathTest = MmTest;

TEST_F(FrameTableDeathTest, DoubleUnrefPanics) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  PhysAddr pa = frames.alloc(FrameKind::Anon).value();
  frames.unref(pa);
  EXPECT_DEATH(frames.unref(pa), "already free");
}

// Taking a reference to a free frame is a kernel bug; it must not go
// unnoticed: either ref() panics on the spot, or the audit flags the frame.
TEST_F(FrameTableDeathTest, RefOfAFreeFrameIsCaught) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  PhysAddr pa = frames.frame_at(3);
  EXPECT_EXIT(
      {
        frames.ref(pa);
        std::exit(mm::audit(nullptr, 0) > 0 ? 3 : 0);
      },
      [](int status) { return !(WIFEXITED(status) && WEXITSTATUS(status) == 0); }, "");
}

} // namespace
} // namespace mmtest

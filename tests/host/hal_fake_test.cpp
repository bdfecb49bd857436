// The host fake of mm/hal.h's swap disk and shootdown (fake_hal.cpp): it
// behaves as the kernel's (dev/virtio_blk.cpp), which tests of the swap
// core rely on.
#include "mm_fixture.h"

namespace mmtest {
namespace {

using mm::FrameKind;
using mm::frames;

using HalFake = MmTest;

TEST_F(HalFake, NoSwapDiskUntilOneIsAttached) {
  PhysAddr page = frames.alloc(FrameKind::Kernel).value();
  EXPECT_EQ(mm::hal::swap_pages(), 0u);
  auto r = mm::hal::swap_write(0, page);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), Error::Invalid);
  frames.unref(page);
}

TEST_F(HalFake, SwapPagesComeBackAndAreCounted) {
  hostfake::swap_attach(16);
  ASSERT_EQ(mm::hal::swap_pages(), 16u);
  PhysAddr page = frames.alloc(FrameKind::Kernel).value();
  for (uint64 slot : {0UL, 7UL, 15UL}) {
    fill_frame(mm::phys_to_ptr(page), slot);
    EXPECT_TRUE(mm::hal::swap_write(slot, page).ok());
  }
  for (uint64 slot : {15UL, 0UL, 7UL}) {
    fill_frame(mm::phys_to_ptr(page), 99);
    EXPECT_TRUE(mm::hal::swap_read(slot, page).ok());
    EXPECT_TRUE(frame_has(mm::phys_to_ptr(page), slot)) << "slot " << slot;
  }
  auto r = mm::hal::swap_read(16, page);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), Error::Invalid);
  EXPECT_EQ(hostfake::swap_writes.load(), 3u);
  EXPECT_EQ(hostfake::swap_reads.load(), 3u);
  frames.unref(page);
}

TEST_F(HalFake, InjectedSwapFailuresNeverReachTheDisk) {
  hostfake::swap_attach(4);
  PhysAddr page = frames.alloc(FrameKind::Kernel).value();
  fill_frame(mm::phys_to_ptr(page), 1);
  ASSERT_TRUE(mm::hal::swap_write(1, page).ok());
  hostfake::swap_fail_after(1);
  EXPECT_TRUE(mm::hal::swap_read(1, page).ok());
  fill_frame(mm::phys_to_ptr(page), 2);
  auto r = mm::hal::swap_write(1, page);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), Error::IO);
  hostfake::swap_fail_after(-1);
  EXPECT_TRUE(mm::hal::swap_read(1, page).ok());
  EXPECT_TRUE(frame_has(mm::phys_to_ptr(page), 1));
  frames.unref(page);
}

TEST_F(HalFake, ShootdownsAreCounted) {
  mm::hal::shootdown();
  mm::hal::shootdown();
  EXPECT_EQ(hostfake::shootdown_calls.load(), 2u);
}

} // namespace
} // namespace mmtest

// The slab allocator: object caches carved from kernel frames.
#include <algorithm>
#include <random>
#include <set>

#include "mm/slab.h"
#include "team.h"

namespace mmtest {
namespace {

using mm::FrameKind;
using mm::frames;
using mm::SlabCache;

class SlabTest : public MmTest {
protected:
  // Fill an object with words derived from seed, and check them.
  static void stamp(void *obj, uint64 size, uint64 seed) {
    auto *w = static_cast<uint64 *>(obj);
    for (uint64 i = 0; i < size / 8; i++) w[i] = pattern_word(seed, i);
  }
  static bool has_stamp(const void *obj, uint64 size, uint64 seed) {
    auto *w = static_cast<const uint64 *>(obj);
    for (uint64 i = 0; i < size / 8; i++)
      if (w[i] != pattern_word(seed, i)) return false;
    return true;
  }
  static uint64 frame_of_obj(const void *p) { return mm::page_round_down(reinterpret_cast<uint64>(p)); }
};

TEST_F(SlabTest, ObjectSizeRoundsUpTo16AndFitsAQuarterPage) {
  SlabCache a("a", 1), b("b", 16), c("c", 24), d("d", PAGE_SIZE / 4);
  EXPECT_EQ(a.object_size(), 16u);
  EXPECT_EQ(b.object_size(), 16u);
  EXPECT_EQ(c.object_size(), 32u);
  EXPECT_EQ(d.object_size(), PAGE_SIZE / 4);
  EXPECT_STREQ(c.name(), "c");
  EXPECT_GE(a.per_frame(), 200u);
  EXPECT_EQ(d.per_frame(), 3u); // the header takes part of the fourth
  EXPECT_EQ(a.in_use(), 0u);
  EXPECT_EQ(a.frames_held(), 0u); // a cache takes no frame until asked
  EXPECT_EQ(frames.free_count(), start_free_);
  EXPECT_DEATH(SlabCache("big", PAGE_SIZE / 4 + 1), "over a quarter of a page");
}

TEST_F(SlabTest, AllocFreeReuse) {
  SlabCache c("t", 40);
  void *a = c.alloc().value();
  void *b = c.alloc().value();
  EXPECT_NE(a, b);
  EXPECT_EQ(c.in_use(), 2u);
  EXPECT_EQ(c.frames_held(), 1u);
  EXPECT_EQ(frames.free_count(), start_free_ - 1);
  EXPECT_EQ(frames.kind(mm::ptr_to_phys(a).page_base()), FrameKind::Kernel);
  stamp(a, c.object_size(), 1);
  stamp(b, c.object_size(), 2);
  EXPECT_TRUE(has_stamp(a, c.object_size(), 1));
  c.free(a);
  EXPECT_TRUE(has_stamp(b, c.object_size(), 2)); // a neighbour's free does not touch b
  EXPECT_EQ(c.alloc().value(), a);               // the freed object comes back first
  c.free(a);
  c.free(b);
  EXPECT_EQ(c.in_use(), 0u);
  EXPECT_EQ(c.frames_held(), 0u);
  EXPECT_EQ(frames.free_count(), start_free_);
}

// Objects of every size lie inside their frame, past its header, 16-byte
// aligned, and never overlap; frames fill one after the other; a cache that
// gives everything back holds no frame.
TEST_F(SlabTest, GrowsAcrossFramesAndGivesThemBack) {
  for (uint64 size : {16UL, 48UL, 200UL, 1000UL, PAGE_SIZE / 4}) {
    SCOPED_TRACE(size);
    SlabCache c("t", size);
    uint64 per = c.per_frame();
    uint64 n = 3 * per + per / 2 + 1; // three full frames and a half
    std::vector<void *> objs;
    for (uint64 i = 0; i < n; i++) {
      auto r = c.alloc();
      ASSERT_TRUE(r.ok());
      void *p = r.value();
      EXPECT_EQ(reinterpret_cast<uint64>(p) % 16, 0u);
      uint64 off = reinterpret_cast<uint64>(p) - frame_of_obj(p);
      EXPECT_GE(off, 32u) << "object over the frame header";
      EXPECT_LE(off + c.object_size(), PAGE_SIZE);
      EXPECT_EQ(c.frames_held(), i / per + 1);
      stamp(p, c.object_size(), i);
      objs.push_back(p);
    }
    EXPECT_EQ(frames.free_count(), start_free_ - 4);
    std::vector<uint64> sorted;
    for (void *p : objs) sorted.push_back(reinterpret_cast<uint64>(p));
    std::sort(sorted.begin(), sorted.end());
    for (uint64 i = 1; i < sorted.size(); i++) EXPECT_GE(sorted[i] - sorted[i - 1], c.object_size());
    for (uint64 i = 0; i < n; i++) EXPECT_TRUE(has_stamp(objs[i], c.object_size(), i)) << i;

    // Free every other object, then the rest: frames go back only when empty.
    for (uint64 i = 0; i < n; i += 2) c.free(objs[i]);
    EXPECT_EQ(c.frames_held(), 4u);
    for (uint64 i = 1; i < n; i += 2) EXPECT_TRUE(has_stamp(objs[i], c.object_size(), i)) << i;
    for (uint64 i = 1; i < n; i += 2) c.free(objs[i]);
    EXPECT_EQ(c.in_use(), 0u);
    EXPECT_EQ(c.frames_held(), 0u);
    EXPECT_EQ(frames.free_count(), start_free_);
  }
}

TEST_F(SlabTest, AnEmptyFrameGoesBackAtOnce) {
  SlabCache c("t", 64);
  std::vector<void *> first;
  for (uint64 i = 0; i < c.per_frame(); i++) first.push_back(c.alloc().value());
  EXPECT_EQ(c.frames_held(), 1u);
  void *extra = c.alloc().value(); // the second frame
  EXPECT_NE(frame_of_obj(extra), frame_of_obj(first[0]));
  EXPECT_EQ(c.frames_held(), 2u);
  c.free(extra);
  EXPECT_EQ(c.frames_held(), 1u);
  EXPECT_EQ(frames.free_count(), start_free_ - 1);
  for (void *p : first) c.free(p);
  EXPECT_EQ(c.frames_held(), 0u);
  EXPECT_EQ(frames.free_count(), start_free_);
}

// A full frame that gets an object back is used again before any new frame.
TEST_F(SlabTest, AFullFrameWithAFreeObjectIsUsedBeforeGrowing) {
  SlabCache c("t", 256);
  uint64 per = c.per_frame();
  std::vector<void *> objs;
  for (uint64 i = 0; i < 2 * per; i++) objs.push_back(c.alloc().value());
  EXPECT_EQ(c.frames_held(), 2u);
  c.free(objs[1]);
  c.free(objs[per + 2]);
  std::set<void *> again{c.alloc().value(), c.alloc().value()};
  EXPECT_EQ(again, (std::set<void *>{objs[1], objs[per + 2]}));
  EXPECT_EQ(c.frames_held(), 2u);
  for (void *p : objs) c.free(p);
  EXPECT_EQ(frames.free_count(), start_free_);
}

// Out of memory at every frame allocation while filling several frames: the
// failing alloc() says NoMemory and changes nothing; what was allocated
// stays usable and frees back to the start.
TEST_F(SlabTest, OutOfMemoryAtEveryAllocation) {
  SlabCache c("t", 128);
  uint64 per = c.per_frame();
  uint64 n = 4 * per + 3;
  for (long k = 0;; k++) {
    SCOPED_TRACE(k);
    frames.fail_after(k);
    std::vector<void *> objs;
    bool failed = false;
    for (uint64 i = 0; i < n; i++) {
      auto r = c.alloc();
      if (r.is_error()) {
        EXPECT_EQ(r.error(), Error::NoMemory);
        EXPECT_EQ(i, static_cast<uint64>(k) * per); // exactly when a frame was needed
        EXPECT_EQ(c.frames_held(), static_cast<uint64>(k));
        EXPECT_EQ(c.in_use(), i);
        EXPECT_TRUE(c.alloc().is_error()); // and it stays so
        failed = true;
        break;
      }
      stamp(r.value(), c.object_size(), i);
      objs.push_back(r.value());
    }
    frames.fail_after(-1);
    for (uint64 i = 0; i < objs.size(); i++) EXPECT_TRUE(has_stamp(objs[i], c.object_size(), i));
    if (!objs.empty()) { // usable again once memory is back
      c.free(objs.back());
      objs.back() = c.alloc().value();
    }
    for (void *p : objs) c.free(p);
    EXPECT_EQ(c.in_use(), 0u);
    EXPECT_EQ(c.frames_held(), 0u);
    ASSERT_EQ(frames.free_count(), start_free_);
    if (!failed) {
      EXPECT_EQ(k, 5);
      break;
    }
    ASSERT_LT(k, 10);
  }
}

TEST_F(SlabTest, ForeignAndDoubleFreesPanic) {
  SlabCache c("t", 32), other("other", 32);
  void *a = c.alloc().value();
  void *b = c.alloc().value();
  void *o = other.alloc().value();
  EXPECT_DEATH(c.free(o), "not one of its objects");
  EXPECT_DEATH(c.free(static_cast<char *>(a) + 16), "not one of its objects");
  c.free(a);
  EXPECT_DEATH(c.free(a), "double free");
  c.free(b);
  other.free(o);
  EXPECT_EQ(frames.free_count(), start_free_);
}

TEST_F(SlabTest, ResetForTestsForgetsEverything) {
  SlabCache c("t", 32);
  void *a = c.alloc().value();
  EXPECT_EQ(c.frames_held(), 1u);
  PhysAddr frame = mm::ptr_to_phys(a).page_base();
  c.reset_for_tests();
  EXPECT_EQ(c.in_use(), 0u);
  EXPECT_EQ(c.frames_held(), 0u);
  frames.unref(frame); // the frame table was not told: give the frame back by hand
}

// Several threads allocate, stamp, check and free objects of one cache at
// once (TSan checks the locking); every object keeps its contents while
// allocated, and everything goes back at the end.
TEST_F(SlabTest, ThreadsAllocAndFreeAtOnce) {
  SlabCache c("t", 48);
  const uint64 size = c.object_size();
  constexpr int kThreads = 6;
  Team team;
  team.run(kThreads, [&](int t, std::vector<std::string> &err) {
    std::mt19937_64 rng(1000 + t);
    std::vector<std::pair<void *, uint64>> mine;
    for (uint64 step = 0; step < 6000; step++) {
      bool grow = mine.empty() || (mine.size() < 600 && rng() % 3 != 0);
      if (grow) {
        auto r = c.alloc();
        if (r.is_error()) {
          err.push_back("alloc failed");
          return;
        }
        uint64 seed = (uint64(t) << 32) | step;
        stamp(r.value(), size, seed);
        mine.emplace_back(r.value(), seed);
      } else {
        uint64 i = rng() % mine.size();
        if (!has_stamp(mine[i].first, size, mine[i].second)) err.push_back("object changed under its owner");
        c.free(mine[i].first);
        mine[i] = mine.back();
        mine.pop_back();
      }
    }
    for (auto &[p, seed] : mine) {
      if (!has_stamp(p, size, seed)) err.push_back("object changed under its owner");
      c.free(p);
    }
  });
  EXPECT_EQ(c.in_use(), 0u);
  EXPECT_EQ(c.frames_held(), 0u);
  EXPECT_EQ(frames.free_count(), start_free_);
}

// The same with one free frame left, fewer objects than one thread wants
// (so memory runs out even if the threads happen to run one at a time):
// alloc() fails with NoMemory, never corrupts, and the frame changes hands.
TEST_F(SlabTest, ThreadsUnderMemoryPressure) {
  std::vector<PhysAddr> hog;
  while (frames.free_count() > 1) hog.push_back(frames.alloc(FrameKind::Anon).value());
  SlabCache c("t", 512);
  ASSERT_LT(c.per_frame(), 8u);
  const uint64 size = c.object_size();
  std::atomic<uint64> failures{0};
  Team team;
  team.run(6, [&](int t, std::vector<std::string> &err) {
    std::mt19937_64 rng(7 + t);
    std::vector<std::pair<void *, uint64>> mine;
    for (uint64 step = 0; step < 4000; step++) {
      if (mine.empty() || (mine.size() < 8 && rng() % 2)) {
        auto r = c.alloc();
        if (r.is_error()) {
          if (r.error() != Error::NoMemory) err.push_back("alloc: not NoMemory");
          failures.fetch_add(1);
          continue;
        }
        uint64 seed = (uint64(t) << 32) | step;
        stamp(r.value(), size, seed);
        mine.emplace_back(r.value(), seed);
      } else {
        auto [p, seed] = mine.back();
        mine.pop_back();
        if (!has_stamp(p, size, seed)) err.push_back("object changed under its owner");
        c.free(p);
      }
    }
    for (auto &[p, seed] : mine) c.free(p);
  });
  EXPECT_GT(failures.load(), 0u) << "memory never ran out: the test did not test";
  EXPECT_EQ(c.in_use(), 0u);
  EXPECT_EQ(c.frames_held(), 0u);
  for (PhysAddr pa : hog) frames.unref(pa);
  EXPECT_EQ(frames.free_count(), start_free_);
}

} // namespace
} // namespace mmtest

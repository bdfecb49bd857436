// Many harts at once (host threads; each is a "hart" of the fake cpu layer).
// These run in both binaries; under ThreadSanitizer they check that the
// frame table and COW resolution need no lock beyond what they take: the
// per-frame atomic reference counts and the per-hart free-list locks.
//
// Each thread touches only its own AddressSpace (in the kernel the owner's
// vm_lock guarantees that); what the threads share is frames.
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "mm_fixture.h"
#include "team.h"

namespace mmtest {
namespace {

using mm::Access;
using mm::ForkMode;
using mm::FrameKind;
using mm::frames;
using mm::RegionKind;
namespace prot = mm::prot;
namespace pte = mm::pte;

// The main thread plus kThreads - 1 others: at most NCPU live "harts".
constexpr int kThreads = NCPU;

class Concurrency : public MmTest {
protected:
  static constexpr uint64 kData = 16 * PAGE_SIZE;

  // parent + (n - 1) COW children, built single-threaded. The parent has one
  // text page and `pages` data pages, data page va holding pattern va.
  std::vector<AddressSpace *> family(int n, uint64 pages) {
    std::vector<AddressSpace *> fam;
    AddressSpace &parent = new_as();
    EXPECT_TRUE(parent.add_region(0, PAGE_SIZE, prot::Read | prot::Exec, RegionKind::Text).ok());
    EXPECT_TRUE(
        parent.add_region(kData, kData + pages * PAGE_SIZE, prot::Read | prot::Write, RegionKind::Data).ok());
    for (auto &[va, p] : leaves(parent)) fill_frame(mm::phys_to_ptr(p.phys()), va);
    fam.push_back(&parent);
    for (int i = 1; i < n; i++) {
      AddressSpace &c = new_as();
      EXPECT_TRUE(parent.clone_into(c, ForkMode::Cow).ok());
      fam.push_back(&c);
    }
    return fam;
  }
};

// Every member of a family of kThreads writes every shared page at once.
TEST_F(Concurrency, SharersWriteEverySharedPageAtOnce) {
  constexpr uint64 kPages = 32;
  constexpr int kRounds = 8;
  Team team;
  for (int round = 0; round < kRounds; round++) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    uint64 free_before = frames.free_count();
    auto fam = family(kThreads, kPages);
    std::map<uint64, PhysAddr> orig;
    for (auto &[va, p] : leaves(*fam[0])) orig[va] = p.phys();
    ASSERT_EQ(frames.refcount(leaf_table_of(*fam[0], kData)), uint32(kThreads)) << "one leaf table, shared";
    Snap s0 = Snap::now();

    team.run(kThreads, [&](int t, std::vector<std::string> &err) {
      AddressSpace &as = *fam[t];
      for (uint64 j = 0; j < kPages; j++) {
        uint64 page = (j + 5 * t + round) % kPages; // vary the interleavings
        uint64 va = kData + page * PAGE_SIZE;
        // Until this thread's own store the page shows the parent's data,
        // however many siblings have copied or reused it meanwhile.
        if (!frame_has(frame_of(as, va), va)) err.push_back("shared page changed under a sharer");
        store(as, va, 1000 * (t + 1) + page, err);
      }
    });

    Snap d = Snap::now().since(s0);
    EXPECT_EQ(d.cow_faults, kPages * kThreads);
    EXPECT_EQ(d.cow_copies + d.cow_reuses, kPages * kThreads);
    EXPECT_GE(d.cow_copies, kPages * (kThreads - 1)) << "at most one sharer per page can reuse";
    EXPECT_LE(d.cow_reuses, kPages);
    for (int t = 0; t < kThreads; t++)
      for (uint64 page = 0; page < kPages; page++) {
        uint64 va = kData + page * PAGE_SIZE;
        EXPECT_TRUE(frame_has(frame_of(*fam[t], va), 1000 * (t + 1) + page))
            << "thread " << t << " page " << page;
        EXPECT_EQ(frames.refcount(pte_of(*fam[t], va)->phys()), 1u);
      }
    EXPECT_EQ(frames.refcount(orig[0]), uint32(kThreads)) << "text is never written";
    EXPECT_EQ(audit_live(), 0u);

    for (AddressSpace *as : fam) as->destroy();
    for (auto &[va, pa] : orig) {
      EXPECT_EQ(frames.refcount(pa), 0u) << std::hex << va;
      EXPECT_EQ(frames.kind(pa), FrameKind::Free) << std::hex << va;
    }
    EXPECT_EQ(frames.free_count(), free_before);
    EXPECT_EQ(frames.count_free_lists(), free_before);
  }
}

// Each sharer forks a child of its own (raising the counts of frames its
// siblings are busy copying or reusing), then writes every page in both.
TEST_F(Concurrency, ForkWhileSiblingsFault) {
  constexpr uint64 kPages = 16;
  constexpr int kRounds = 4;
  Team team;
  for (int round = 0; round < kRounds; round++) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    uint64 free_before = frames.free_count();
    auto fam = family(kThreads, kPages);
    std::vector<AddressSpace *> kids;
    for (int t = 0; t < kThreads; t++) kids.push_back(&blank_as());
    Snap s0 = Snap::now();

    team.run(kThreads, [&](int t, std::vector<std::string> &err) {
      AddressSpace &as = *fam[t], &kid = *kids[t];
      if (kid.init().is_error() || as.clone_into(kid, ForkMode::Cow).is_error()) {
        err.push_back("fork failed");
        return;
      }
      for (uint64 j = 0; j < kPages; j++) {
        uint64 page = (j * 7 + t) % kPages;
        uint64 va = kData + page * PAGE_SIZE;
        store(kid, va, 5000 + 100 * t + page, err);
        store(as, va, 1000 + 100 * t + page, err);
      }
    });

    Snap d = Snap::now().since(s0);
    EXPECT_EQ(d.cow_copies + d.cow_reuses, 2 * kPages * kThreads);
    for (int t = 0; t < kThreads; t++)
      for (uint64 page = 0; page < kPages; page++) {
        uint64 va = kData + page * PAGE_SIZE;
        EXPECT_TRUE(frame_has(frame_of(*fam[t], va), 1000 + 100 * t + page));
        EXPECT_TRUE(frame_has(frame_of(*kids[t], va), 5000 + 100 * t + page));
      }
    EXPECT_EQ(audit_live(), 0u);
    for (AddressSpace *as : fam) as->destroy();
    for (AddressSpace *as : kids) as->destroy();
    EXPECT_EQ(frames.free_count(), free_before);
  }
}

// Allocation and freeing from every hart at once, with frames handed between
// harts (freed on a different hart's list than they came from), extra
// references taken and dropped, and zeroed allocations checked.
TEST_F(Concurrency, FrameAllocFreeStorm) {
  constexpr int kIters = 1500;
  std::vector<std::atomic<int>> owner(frames.total());
  std::mutex xlock;
  std::deque<std::pair<PhysAddr, uint64>> exchange; // frame, tag written into it
  Team team;

  auto claim = [&](PhysAddr pa, int t, std::vector<std::string> &err) {
    int prev = owner[frames.index_of(pa)].exchange(t + 1);
    if (prev != 0) err.push_back("frame handed out twice");
  };
  auto release = [&](PhysAddr pa) {
    owner[frames.index_of(pa)].store(0);
    frames.unref(pa);
  };

  team.run(kThreads, [&](int t, std::vector<std::string> &err) {
    std::vector<std::pair<PhysAddr, uint64>> mine;
    uint64 rng = 0x12345 + t;
    auto next = [&] { return rng = rng * 6364136223846793005UL + 1442695040888963407UL, rng >> 33; };
    for (int i = 0; i < kIters; i++) {
      int batch = 1 + next() % 8;
      for (int b = 0; b < batch; b++) {
        bool zeroed = next() % 2;
        auto r = zeroed ? frames.alloc_zeroed(FrameKind::Anon) : frames.alloc(FrameKind::Anon);
        if (r.is_error()) break; // possible when all harts hold many frames
        PhysAddr pa = r.value();
        claim(pa, t, err);
        uint64 *w = mm::phys_to_ptr<uint64>(pa);
        if (zeroed && !frame_is_zero(w)) err.push_back("alloc_zeroed gave a dirty frame");
        if (frames.refcount(pa) != 1) err.push_back("fresh frame with refs != 1");
        uint64 tag = (uint64(t) << 32) | uint32(i * 8 + b);
        w[0] = tag;
        w[PAGE_SIZE / 8 - 1] = ~tag;
        mine.emplace_back(pa, tag);
      }
      // Drop some: own ones, and ones other harts handed over.
      while (mine.size() > 12) {
        auto [pa, tag] = mine.back();
        mine.pop_back();
        uint64 *w = mm::phys_to_ptr<uint64>(pa);
        if (w[0] != tag || w[PAGE_SIZE / 8 - 1] != ~tag) err.push_back("frame contents changed while owned");
        switch (next() % 3) {
        case 0: release(pa); break;
        case 1: {
          frames.ref(pa); // a second holder comes and goes
          frames.unref(pa);
          release(pa);
          break;
        }
        case 2: {
          owner[frames.index_of(pa)].store(0);
          std::lock_guard<std::mutex> g(xlock);
          exchange.emplace_back(pa, tag);
          break;
        }
        }
      }
      std::pair<PhysAddr, uint64> got{};
      bool have = false;
      {
        std::lock_guard<std::mutex> g(xlock);
        if (!exchange.empty()) {
          got = exchange.front();
          exchange.pop_front();
          have = true;
        }
      }
      if (have) {
        claim(got.first, t, err);
        if (mm::phys_to_ptr<uint64>(got.first)[0] != got.second) err.push_back("handed-over frame changed");
        release(got.first);
      }
    }
    for (auto &[pa, tag] : mine) release(pa);
  });
  for (auto &[pa, tag] : exchange) frames.unref(pa);
  EXPECT_EQ(frames.free_count(), usable_frames());
  EXPECT_EQ(frames.count_free_lists(), usable_frames());
}

// Harts together ask for more than there is: some get NoMemory (stealing
// from every list on the way), none gets a frame twice, all comes back.
TEST_F(Concurrency, ExhaustionStorm) {
  const uint64 want = frames.total() / 4; // kThreads * want > total
  std::vector<std::atomic<int>> owner(frames.total());
  std::atomic<uint64> no_memory{0};
  Team team;
  team.run(kThreads, [&](int t, std::vector<std::string> &err) {
    std::vector<PhysAddr> mine;
    for (int round = 0; round < 6; round++) {
      while (mine.size() < want) {
        auto r = frames.alloc(FrameKind::Kernel);
        if (r.is_error()) {
          no_memory.fetch_add(1);
          break;
        }
        if (owner[frames.index_of(r.value())].exchange(t + 1) != 0) err.push_back("frame handed out twice");
        mine.push_back(r.value());
      }
      for (PhysAddr pa : mine) {
        owner[frames.index_of(pa)].store(0);
        frames.unref(pa);
      }
      mine.clear();
    }
  });
  EXPECT_EQ(frames.free_count(), usable_frames());
  EXPECT_EQ(frames.count_free_lists(), usable_frames());
}

TEST_F(Concurrency, SharedReferenceCountsStayExact) {
  PhysAddr pa = frames.alloc(FrameKind::Anon).value();
  Team team;
  team.run(kThreads, [&](int, std::vector<std::string> &) {
    for (int i = 0; i < 20000; i++) {
      frames.ref(pa);
      frames.unref(pa);
    }
  });
  EXPECT_EQ(frames.refcount(pa), 1u);
  EXPECT_EQ(frames.kind(pa), FrameKind::Anon);
  frames.unref(pa);
}

} // namespace
} // namespace mmtest

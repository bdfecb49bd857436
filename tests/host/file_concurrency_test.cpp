// The page cache under concurrency (for ThreadSanitizer, mm_test_tsan):
// several address spaces faulting the same file pages at once (one read
// per page, one frame for everybody), faults while another thread reclaims,
// writeback while others store and unmap. Each address space is used by
// one thread only (the kernel's per-process lock).
#include "file_fixture.h"
#include "team.h"

namespace mmtest {
namespace {

using mm::frames;

constexpr uint64 P = PAGE_SIZE;
constexpr uint64 kMap = 0x10000000;
constexpr int kThreads = 6; // the main thread is one of them (NCPU 8)
constexpr uint64 kPages = 8;

uint64 orig(uint64 index) { return pattern_word(FakePager::seed(index), 0); }

// A user load / store racing with the pager's copies: 8-byte atomics, as
// the hardware's are (the fake pager copies the same way).
Result<uint64> atomic_load(AddressSpace &as, uint64 va) {
  PhysAddr pa = TRY(as.resolve(VirtAddr(va), Access::Read));
  return __atomic_load_n(mm::phys_to_ptr<uint64>(pa), __ATOMIC_RELAXED);
}
Result<void> atomic_store(AddressSpace &as, uint64 va, uint64 v) {
  PhysAddr pa = TRY(as.resolve(VirtAddr(va), Access::Write));
  __atomic_store_n(mm::phys_to_ptr<uint64>(pa), v, __ATOMIC_RELAXED);
  return {};
}

class FileConcurrency : public FileTest {};

// Every thread faults every page of the file, in its own order, with slow
// reads: each page is read once, and all address spaces map its one frame.
TEST_F(FileConcurrency, SamePageManySpaces) {
  TestFile &f = new_file(kPages * P);
  f.pager.set_read_delay(std::chrono::microseconds(2000));
  std::vector<AddressSpace *> as(kThreads), priv(kThreads);
  for (int t = 0; t < kThreads; t++) {
    as[t] = &new_as();
    must_map_file(*as[t], f, kMap, kPages, RW, true);
    must_map_file(*as[t], f, kMap + kPages * P, kPages, RW, false);
  }
  Team team;
  team.run(kThreads, [&](int t, std::vector<std::string> &err) {
    for (uint64 j = 0; j < kPages; j++) {
      uint64 page = (j * 3 + t) % kPages;
      auto r = atomic_load(*as[t], kMap + page * P);
      if (r.is_error() || r.value() != orig(page)) err.push_back("wrong shared page " + std::to_string(page));
      // A private store: a copy of the same cached page.
      uint64 other = (page + t) % kPages;
      if (atomic_store(*as[t], kMap + (kPages + other) * P, 1000 + t).is_error())
        err.push_back("private store failed");
    }
  });
  EXPECT_EQ(f.pager.reads(), static_cast<long>(kPages)) << "one read per page";
  EXPECT_EQ(f.pager.max_concurrent_reads(), 1);
  for (uint64 page = 0; page < kPages; page++) {
    PhysAddr pa = cached(f, page);
    ASSERT_TRUE(pa.value);
    for (int t = 0; t < kThreads; t++) {
      EXPECT_EQ(mapped(*as[t], kMap + page * P), pa);
      EXPECT_NE(mapped(*as[t], kMap + (kPages + page) * P), pa);
    }
    EXPECT_EQ(maps_of(pa), static_cast<uint64>(kThreads));
    EXPECT_EQ(word_at(pa), orig(page));
  }
  EXPECT_EQ(audit_live(), 0u);
}

// Faults (with munmap and mmap again, so pages become reclaimable) while
// another thread reclaims: contents always the file's, audit clean.
TEST_F(FileConcurrency, FaultsWhileReclaiming) {
  TestFile &f = new_file(kPages * P);
  f.pager.set_read_delay(std::chrono::microseconds(50));
  std::vector<AddressSpace *> as(kThreads);
  for (int t = 1; t < kThreads; t++) as[t] = &new_as();
  std::atomic<int> running{kThreads - 1};
  std::atomic<uint64> reclaimed{0};
  Team team;
  team.run(kThreads, [&](int t, std::vector<std::string> &err) {
    if (t == 0) {
      while (running.load() > 0) {
        reclaimed.fetch_add(mm::page_cache::reclaim(3));
        std::this_thread::yield();
      }
      return;
    }
    for (int round = 0; round < 30; round++) {
      if (map_file(*as[t], f, kMap, kPages, round % 2 ? RW : RO, round % 3 == 0).is_error()) {
        err.push_back("mmap failed");
        break;
      }
      for (uint64 j = 0; j < kPages; j++) {
        uint64 page = (j + t + round) % kPages;
        auto r = atomic_load(*as[t], kMap + page * P);
        if (r.is_error() || r.value() != orig(page)) err.push_back("wrong page " + std::to_string(page));
      }
      if (as[t]->munmap(VirtAddr(kMap), kPages * P).is_error()) err.push_back("munmap failed");
      std::this_thread::sleep_for(std::chrono::microseconds(100)); // give the reclaimer a chance
    }
    running.fetch_sub(1);
  });
  RecordProperty("reclaimed", std::to_string(reclaimed.load())); // timing-dependent: not checked
  uint64 left = f.obj.cached_pages();
  EXPECT_EQ(mm::page_cache::reclaim(100), left) << "nothing maps or holds the pages now";
  EXPECT_GE(f.pager.reads(), static_cast<long>(kPages));
  EXPECT_EQ(f.pager.writes(), 0) << "nothing was dirtied";
  EXPECT_EQ(audit_live(), 0u);
}

// Stores through shared mappings (each thread its own page, unmapping and
// mapping again now and then) while another thread writes back over and
// over: in the end the disk holds every page's last value.
TEST_F(FileConcurrency, WritebackDuringStores) {
  TestFile &f = new_file(kPages * P);
  std::vector<AddressSpace *> as(kThreads);
  for (int t = 1; t < kThreads; t++) {
    as[t] = &new_as();
    must_map_file(*as[t], f, kMap, kPages, RW, true);
  }
  constexpr int kRounds = 300;
  std::atomic<int> running{kThreads - 1};
  Team team;
  team.run(kThreads, [&](int t, std::vector<std::string> &err) {
    if (t == 0) {
      while (running.load() > 0)
        if (f.obj.writeback(0, kPages).is_error()) err.push_back("writeback failed");
      return;
    }
    for (int i = 1; i <= kRounds; i++) {
      if (atomic_store(*as[t], kMap + t * P, uint64(t) << 32 | i).is_error()) err.push_back("store failed");
      if (i % 7 == 0) {
        if (as[t]->munmap(VirtAddr(kMap), kPages * P).is_error() ||
            map_file(*as[t], f, kMap, kPages, RW, true).is_error())
          err.push_back("remap failed");
      }
    }
    running.fetch_sub(1);
  });
  EXPECT_EQ(audit_live(), 0u);
  for (auto &s : spaces_) s->destroy();
  for (int t = 1; t < kThreads; t++)
    EXPECT_EQ(f.pager.disk_word(t), uint64(t) << 32 | kRounds) << "page " << t << ": a store was lost";
  EXPECT_EQ(mm::counters.cache_dirty.load(), 0u);
}

} // namespace
} // namespace mmtest

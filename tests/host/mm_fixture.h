// Shared setup for the memory-management tests.
//
// "Physical memory" is a host arena; the direct map points a fake physical
// base (0x80000000, where RAM starts on QEMU virt) at it, so the kernel's
// phys_to_ptr() lands in the arena. Each test gets a freshly initialised
// frame table over the whole arena (filled with junk first, so "zeroed"
// really means the core zeroed it).
//
// Every test ends (TearDown) by auditing the address spaces it still holds,
// destroying them, auditing again with none, and checking that the number of
// free frames is back where it started.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "fakes.h"
#include "mm/address_space.h"
#include "mm/audit.h"
#include "mm/frame.h"
#include "mm/object.h"
#include "mm/page_table.h"
#include "mm/reclaim.h"
#include "mm/swap.h"
#include "mm/stats.h"
#include "mm/uaccess.h"

namespace mmtest {

using mm::AddressSpace;
using mm::PAGE_SIZE;
using mm::PhysAddr;
using mm::Pte;
using mm::USER_TOP;
using mm::VirtAddr;

constexpr uint64 kPhysBase = 0x80000000;
constexpr uint64 kArenaSize = 8UL << 20;           // 2048 frames, less the frame table
constexpr uint64 kKernelVa = 0xffffffc000000000UL; // a kernel (upper-half) address

inline uint8 *arena() {
  static uint8 *a = static_cast<uint8 *>(std::aligned_alloc(PAGE_SIZE, kArenaSize));
  return a;
}

inline void report_violation(const char *what, PhysAddr pa, VirtAddr va) {
  std::fprintf(stderr, "audit: %s (pa %#lx va %#lx)\n", what, pa.value, va.value);
}

// A standard xv6-style layout (addresses in pages):
//   text [0,2) R|X, data [2,6) R|W, guard page 6, stack [7,8) R|W, heap from 8.
namespace layout {
constexpr uint64 P = PAGE_SIZE;
constexpr uint64 text = 0, text_end = 2 * P;
constexpr uint64 data = 2 * P, data_end = 6 * P;
constexpr uint64 guard = 6 * P;
constexpr uint64 stack = 7 * P, stack_end = 8 * P;
constexpr uint64 heap = 8 * P;
} // namespace layout

// A page's worth of recognisable 64-bit words derived from `seed`.
inline uint64 pattern_word(uint64 seed, uint64 i) {
  return (seed + 1) * 0x9E3779B97F4A7C15UL ^ (i * 0x100000001B3UL);
}

inline void fill_frame(void *page, uint64 seed) {
  auto *w = static_cast<uint64 *>(page);
  for (uint64 i = 0; i < PAGE_SIZE / 8; i++) w[i] = pattern_word(seed, i);
}

inline bool frame_has(const void *page, uint64 seed) {
  auto *w = static_cast<const uint64 *>(page);
  for (uint64 i = 0; i < PAGE_SIZE / 8; i++)
    if (w[i] != pattern_word(seed, i)) return false;
  return true;
}

inline bool frame_is_zero(const void *page) {
  auto *w = static_cast<const uint64 *>(page);
  for (uint64 i = 0; i < PAGE_SIZE / 8; i++)
    if (w[i] != 0) return false;
  return true;
}

// The leaf PTE for va (nullptr if no table), and the frame behind it.
inline Pte *pte_of(AddressSpace &as, uint64 va) { return as.page_table().find(VirtAddr(va)); }
inline uint8 *frame_of(AddressSpace &as, uint64 va) {
  Pte *p = pte_of(as, va);
  return p && p->valid() ? mm::phys_to_ptr<uint8>(p->phys()) : nullptr;
}

// Every valid user leaf of `as`: (va, pte copy).
inline std::vector<std::pair<uint64, Pte>> leaves(const AddressSpace &as) {
  std::vector<std::pair<uint64, Pte>> out;
  as.page_table().for_each_leaf(VirtAddr(0), VirtAddr(USER_TOP),
                                [&](VirtAddr va, Pte &p) { out.emplace_back(va.value, p); });
  return out;
}

// The frame of the leaf page table that maps va in `as` (null if none).
inline PhysAddr leaf_table_of(AddressSpace &as, uint64 va) {
  Pte *p = pte_of(as, va);
  return p ? mm::ptr_to_phys(p - mm::vpn(VirtAddr(va), 0)) : PhysAddr();
}

// Frames a test can have: all but the zero frame (page_cache::init holds it).
inline uint64 usable_frames() { return mm::frames.total() - 1; }

// Counter deltas.
struct Snap {
  uint64 cow_faults, cow_copies, cow_reuses, fork_shared, fork_copied, table_shares, table_copies;
  static Snap now() {
    auto &c = mm::counters;
    return {c.cow_faults.load(),  c.cow_copies.load(),   c.cow_reuses.load(),  c.fork_shared.load(),
            c.fork_copied.load(), c.table_shares.load(), c.table_copies.load()};
  }
  Snap since(const Snap &before) const {
    return {cow_faults - before.cow_faults,    cow_copies - before.cow_copies,
            cow_reuses - before.cow_reuses,    fork_shared - before.fork_shared,
            fork_copied - before.fork_copied,  table_shares - before.table_shares,
            table_copies - before.table_copies};
  }
};

// Whether the core asked for enough TLB flushing to cover `pages` changed
// PTEs: one flush per page, or a full flush.
inline bool tlb_covered(uint64 pages) {
  return hostfake::flush_all_calls.load() > 0 || hostfake::flush_page_calls.load() >= pages;
}

class MmTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::memset(arena(), 0xA5, kArenaSize);
    mm::direct_map_base = reinterpret_cast<uint64>(arena()) - kPhysBase;
    mm::frames.init(PhysAddr(kPhysBase), PhysAddr(kPhysBase + kArenaSize));
    mm::page_cache::init(); // the zero frame: before the start count
    mm::PageTable::set_kernel_root(PhysAddr());
    hostfake::reset_counters(); // (and no swap disk unless a test attaches one)
    ASSERT_TRUE(mm::swap::init().ok());
    mm::reclaim::init();
    start_free_ = mm::frames.free_count();
  }

  void TearDown() override {
    mm::frames.fail_after(-1);
    EXPECT_EQ(audit_live(), 0u) << "audit of the live address spaces at the end of the test";
    destroy_all();
    EXPECT_EQ(mm::audit(nullptr, 0, report_violation), 0u) << "audit after destroying everything";
    EXPECT_EQ(mm::frames.free_count(), start_free_) << "frames leaked";
    EXPECT_EQ(mm::frames.count_free_lists(), start_free_);
    EXPECT_EQ(hostfake::push_off_depth(), 0);
  }

  // A new, initialised address space owned by the fixture.
  AddressSpace &new_as() {
    AddressSpace &as = blank_as();
    auto r = as.init();
    EXPECT_TRUE(r.ok());
    return as;
  }

  // An address space the fixture tracks but that is not initialised yet.
  // Every one is registered for the reverse map, with a lock of its own.
  AddressSpace &blank_as() {
    spaces_.push_back(std::make_unique<AddressSpace>());
    locks_.push_back(std::make_unique<std::mutex>());
    hostfake::register_address_space(spaces_.back().get(), locks_.back().get());
    return *spaces_.back();
  }

  // Destroy and forget every address space the fixture holds.
  void destroy_all() {
    for (auto &as : spaces_) {
      hostfake::unregister_address_space(as.get());
      as->destroy();
    }
    spaces_.clear();
    locks_.clear();
  }

  // The lock reclaim takes to visit `as` (tests that fault while reclaim
  // runs on another thread take it too).
  std::mutex &lock_of(const AddressSpace &as) {
    for (size_t i = 0; i < spaces_.size(); i++)
      if (spaces_[i].get() == &as) return *locks_[i];
    std::abort();
  }

  // How many of the live address spaces map the frame pa (what a user
  // would call its sharers; its refcount counts leaf tables instead).
  uint64 sharers(PhysAddr pa) {
    uint64 n = 0;
    for (auto &as : spaces_) {
      if (as->is_null()) continue;
      as->page_table().for_each_leaf(VirtAddr(0), VirtAddr(USER_TOP), [&](VirtAddr, Pte &p) {
        if (p.phys() == pa) n++;
      });
    }
    return n;
  }

  uint64 audit_live() {
    std::vector<AddressSpace *> v;
    for (auto &as : spaces_)
      if (!as->is_null()) v.push_back(as.get());
    return mm::audit(v.data(), static_cast<int>(v.size()), report_violation);
  }

  // Build the standard layout with `heap_pages` of heap, and give every page
  // (text included, as a loader would) its own contents: seed = base + va.
  void build_standard(AddressSpace &as, uint64 heap_pages = 2, uint64 seed_base = 0) {
    using namespace layout;
    ASSERT_TRUE(as.add_region(text, text_end, mm::prot::Read | mm::prot::Exec, mm::RegionKind::Text).ok());
    ASSERT_TRUE(as.add_region(data, data_end, mm::prot::Read | mm::prot::Write, mm::RegionKind::Data).ok());
    ASSERT_TRUE(
        as.add_region(stack, stack_end, mm::prot::Read | mm::prot::Write, mm::RegionKind::Stack).ok());
    ASSERT_TRUE(as.add_region(heap, heap, mm::prot::Read | mm::prot::Write, mm::RegionKind::Heap).ok());
    as.set_heap_start(heap);
    ASSERT_TRUE(as.resize_heap(static_cast<long>(heap_pages * P)).ok());
    for (auto &[va, p] : leaves(as)) fill_frame(mm::phys_to_ptr(p.phys()), seed_base + va);
  }

  // The writable pages of the standard layout.
  static std::vector<uint64> writable_pages(const AddressSpace &as) {
    std::vector<uint64> v;
    for (auto &[va, p] : leaves(as))
      if (va >= layout::data) v.push_back(va);
    return v;
  }

  uint64 start_free_ = 0;
  std::vector<std::unique_ptr<AddressSpace>> spaces_;
  std::vector<std::unique_ptr<std::mutex>> locks_;
};

} // namespace mmtest

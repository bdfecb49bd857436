// Strong types for addresses, and the direct map.
//
// A PhysAddr is where a byte lives in RAM; a VirtAddr is what a program (user
// or kernel) puts in a register. The two never mix by accident: converting is
// always a named call.
//
// The kernel reaches all of physical memory through the direct map: physical
// address p is at virtual address direct_map_base + p. In the kernel the base
// is KERNEL_DIRECT_MAP (upper half of Sv39); in host tests it points into a
// test arena, so the same code runs in both places.
#pragma once

#include <compare>

#include "lib/types.h"

namespace mm {

constexpr uint64 PAGE_SIZE = 4096;
constexpr uint64 PAGE_SHIFT = 12;
// User addresses are below USER_TOP: xv6's TRAPFRAME, two pages below MAXVA
// (1 << 38). xv6 maps its trampoline and trap frame in those two pages;
// cowix maps neither (its kernel lives in the upper half), but keeps them
// out of user reach so that the user layout is xv6's: a heap grows up to
// TRAPFRAME exactly (usertests' lazy_sbrk checks it).
constexpr uint64 MAXVA = 1UL << 38;
constexpr uint64 USER_TOP = MAXVA - 2 * PAGE_SIZE;

constexpr uint64 page_round_down(uint64 a) { return a & ~(PAGE_SIZE - 1); }
constexpr uint64 page_round_up(uint64 a) { return (a + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1); }

struct PhysAddr {
  uint64 value = 0;
  constexpr PhysAddr() = default;
  constexpr explicit PhysAddr(uint64 v) : value(v) {}
  constexpr PhysAddr page_base() const { return PhysAddr(page_round_down(value)); }
  constexpr bool is_page_aligned() const { return (value & (PAGE_SIZE - 1)) == 0; }
  constexpr PhysAddr operator+(uint64 off) const { return PhysAddr(value + off); }
  constexpr auto operator<=>(const PhysAddr &) const = default;
};

struct VirtAddr {
  uint64 value = 0;
  constexpr VirtAddr() = default;
  constexpr explicit VirtAddr(uint64 v) : value(v) {}
  constexpr VirtAddr page_base() const { return VirtAddr(page_round_down(value)); }
  constexpr uint64 page_offset() const { return value & (PAGE_SIZE - 1); }
  constexpr bool is_page_aligned() const { return page_offset() == 0; }
  constexpr bool is_user() const { return value < USER_TOP; }
  constexpr VirtAddr operator+(uint64 off) const { return VirtAddr(value + off); }
  constexpr auto operator<=>(const VirtAddr &) const = default;
};

// Set once at boot (kernel) or per test (host).
extern uint64 direct_map_base;

template <typename T = void> inline T *phys_to_ptr(PhysAddr pa) {
  return reinterpret_cast<T *>(direct_map_base + pa.value);
}
inline PhysAddr ptr_to_phys(const void *p) { return PhysAddr(reinterpret_cast<uint64>(p) - direct_map_base); }

} // namespace mm

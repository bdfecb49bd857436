// Sv39 page-table entries (RISC-V privileged spec, section "Sv39").
//
//  63    54 53        10 9   8 7 6 5 4 3 2 1 0
// | zero   |    PPN     | RSW |D|A|G|U|X|W|R|V|
//
// R/W/X all clear with V set means "pointer to the next-level table". The two
// RSW bits are ignored by hardware and left to software: cowix uses bit 8 as
// the copy-on-write mark.
//
// With V clear the hardware ignores every other bit, so an entry whose page
// went to swap keeps the slot there (swap.h):
//
//  63    54 53        10 9  8       1 0
// | zero   |   slot     |1| zero     |0|
//
// An entry is empty (raw == 0), present (V), or a swap entry (pte::Swap).
#pragma once

#include "mm/addr.h"

namespace mm {

namespace pte {
constexpr uint64 Valid = 1UL << 0;
constexpr uint64 Read = 1UL << 1;
constexpr uint64 Write = 1UL << 2;
constexpr uint64 Exec = 1UL << 3;
constexpr uint64 User = 1UL << 4;
constexpr uint64 Global = 1UL << 5;
constexpr uint64 Accessed = 1UL << 6;
constexpr uint64 Dirty = 1UL << 7;
constexpr uint64 Cow = 1UL << 8;  // RSW bit 0: shared by fork, copy on store
constexpr uint64 Swap = 1UL << 9; // RSW bit 1, with V clear: the page is in swap slot PPN
constexpr uint64 FlagMask = 0x3ff;
} // namespace pte

struct Pte {
  uint64 raw = 0;

  static constexpr Pte make(PhysAddr pa, uint64 flags) {
    return Pte{((pa.value >> PAGE_SHIFT) << 10) | flags};
  }
  constexpr bool valid() const { return raw & pte::Valid; }
  constexpr bool is_leaf() const { return raw & (pte::Read | pte::Write | pte::Exec); }
  constexpr bool has(uint64 f) const { return (raw & f) == f; }
  constexpr uint64 flags() const { return raw & pte::FlagMask; }
  constexpr PhysAddr phys() const { return PhysAddr((raw >> 10) << PAGE_SHIFT); }

  // Swap entries (see above).
  static constexpr Pte make_swap(uint64 slot) { return Pte{(slot << 10) | pte::Swap}; }
  constexpr bool is_swap() const { return (raw & (pte::Valid | pte::Swap)) == pte::Swap; }
  constexpr uint64 swap_slot() const { return raw >> 10; }
  // Present or swapped: the entry holds a page for its address.
  constexpr bool in_use() const { return raw & (pte::Valid | pte::Swap); }
};

} // namespace mm

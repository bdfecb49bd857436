// Machine-mode setup, run once per hart before paging is on. Everything here
// executes at physical addresses, so it may only use PC-relative addressing:
// no global pointers, no switch jump tables, no virtual calls.
#include "arch/riscv/csr.h"
#include "mm/pte.h"

namespace {

constexpr uint64 GIB = 1UL << 30;
constexpr uint64 DIRECT_MAP_SLOT = 256; // root entry of VA 0xFFFFFFC000000000

constexpr mm::Pte gigapage(uint64 pa) {
  using namespace mm::pte;
  return mm::Pte::make(mm::PhysAddr(pa), Valid | Read | Write | Exec | Global | Accessed | Dirty);
}

} // namespace

struct alignas(4096) RootTable {
  mm::Pte entries[512];
};

// The kernel's root page table: 4 GiB of physical address space (devices and
// RAM) mapped with 1 GiB pages at the direct map. Built at compile time, so
// every hart can load it without waiting for another. Every user address
// space copies entries 256..511 from it.
static constexpr RootTable make_kernel_root() {
  RootTable t{};
  for (uint64 i = 0; i < 4; i++) t.entries[DIRECT_MAP_SLOT + i] = gigapage(i * GIB);
  return t;
}

extern "C" {
constinit RootTable kernel_root_table = make_kernel_root();
}

extern "C" void mstart() {
  // mret goes to supervisor mode.
  uint64 ms = csr_read(mstatus);
  ms = (ms & ~riscv::MSTATUS_MPP_MASK) | riscv::MSTATUS_MPP_S;
  csr_write(mstatus, ms);

  // Delegate all exceptions and interrupts to supervisor mode.
  csr_write(medeleg, 0xffff);
  csr_write(mideleg, 0xffff);

  // Let supervisor mode reach all of physical memory (PMP entry 0: TOR, RWX).
  csr_write(pmpaddr0, 0x3fffffffffffffUL);
  csr_write(pmpcfg0, 0xf);

  // Counters readable from S mode (and U mode, once scounteren allows).
  csr_write(mcounteren, 7);
  // Sstc: supervisor programs its own timer through stimecmp (menvcfg.STCE).
  asm volatile("csrs 0x30a, %0" ::"r"(1UL << 63));

  // Paging on for supervisor mode. M mode ignores satp, so the next
  // instruction still runs at its physical address.
  uint64 root = reinterpret_cast<uint64>(&kernel_root_table); // PC-relative: physical
  csr_write(satp, (8UL << 60) | (root >> 12));
  riscv::flush_all();
}

// Per-hart primitives (lib/cpu.h) and the memory core's hardware interface
// (mm/hal.h) for RISC-V.
#include "arch/riscv/csr.h"
#include "lib/cpu.h"
#include "lib/print.h"
#include "mm/hal.h"
#include "proc/proc.h"

namespace cpu {

int id() { return static_cast<int>(riscv::hart_id()); }

// Each CSR access costs a trip through QEMU's main loop, so these touch
// sstatus only when interrupts actually change state.
void push_off() {
  uint64 s = csr_read(sstatus);
  if (s & riscv::SSTATUS_SIE) csr_clear(sstatus, riscv::SSTATUS_SIE);
  Cpu *c = mycpu();
  if (c->noff == 0) c->intena = s & riscv::SSTATUS_SIE;
  c->noff++;
}

void pop_off() {
  Cpu *c = mycpu();
  if (c->noff < 1) panic("pop_off: unbalanced");
  c->noff--;
  if (c->noff == 0 && c->intena) riscv::intr_on();
}

} // namespace cpu

namespace mm::hal {

void flush_page(VirtAddr va) { riscv::flush_page(va.value); }
void flush_all() { riscv::flush_all(); }

} // namespace mm::hal

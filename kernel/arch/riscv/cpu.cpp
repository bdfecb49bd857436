// Per-hart primitives (lib/cpu.h) and the memory core's hardware interface
// (mm/hal.h) for RISC-V.
#include "arch/riscv/csr.h"
#include "lib/cpu.h"
#include "lib/print.h"
#include "mm/hal.h"
#include "proc/proc.h"

namespace cpu {

int id() { return static_cast<int>(riscv::hart_id()); }

void push_off() {
  bool was_on = riscv::intr_get();
  riscv::intr_off();
  Cpu *c = mycpu();
  if (c->noff == 0) c->intena = was_on;
  c->noff++;
}

void pop_off() {
  Cpu *c = mycpu();
  if (riscv::intr_get()) panic("pop_off: interrupts on");
  if (c->noff < 1) panic("pop_off: unbalanced");
  c->noff--;
  if (c->noff == 0 && c->intena) riscv::intr_on();
}

} // namespace cpu

namespace mm::hal {

void flush_page(VirtAddr va) { riscv::flush_page(va.value); }
void flush_all() { riscv::flush_all(); }

} // namespace mm::hal

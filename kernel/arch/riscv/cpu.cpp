// Per-hart primitives (lib/cpu.h) and the memory core's hardware interface
// (mm/hal.h) for RISC-V.
#include "arch/riscv/csr.h"
#include "arch/riscv/shootdown.h"
#include "arch/riscv/trap.h"
#include "kernel/param.h"
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
  if (c->noff < 1) panic("pop_off: unbalanced (hart %d, noff %d)", id(), c->noff);
  c->noff--;
  if (c->noff == 0 && c->intena) riscv::intr_on();
}

// A hart spinning with interrupts off cannot take its timer interrupt, so
// its timer stays expired and unarmed. Under QEMU -icount the harts run in
// turns on one host thread and a turn ends at the next timer deadline: with
// every hart's timer expired there is none, and the spinner would run for
// ~2^31 instructions before the lock holder gets its turn (the kernel looked
// hung at boot with 2 harts). Re-arming the timer bounds a turn to 1 ms; the
// cost is one timer interrupt postponed by 1 ms while spinning.
// Nor can it take a shootdown's software interrupt: it serves the request
// here instead, so that the hart waiting for it (perhaps holding the lock
// we spin on) goes on (arch/riscv/shootdown.cpp).
void spin_hint() {
  uint64 pending = csr_read(sip);
  if (pending & riscv::SIP_STIP) set_next_timer();
  if (pending & riscv::SIP_SSIP) shootdown_serve();
}

} // namespace cpu

namespace mm::hal {

void flush_page(VirtAddr va) { riscv::flush_page(va.value); }
void flush_all() { riscv::flush_all(); }
bool page_table_live(PhysAddr pa) {
  for (int h = 0; h < NCPU; h++) {
    const Cpu &c = cpus[h];
    if (c.root.load(std::memory_order_relaxed) != pa.value) continue;
    Proc *p = c.proc;
    kprintf("page table %p: live on hart %d (running pid %d, state %d), freed on hart %d by pid %d\n",
            reinterpret_cast<void *>(pa.value), h, p ? p->pid : -1, p ? static_cast<int>(p->state) : -1,
            cpu::id(), myproc() ? myproc()->pid : -1);
    return true;
  }
  return false;
}
void sleep(void *chan, Spinlock &lk) { ::sleep(chan, lk); }
void wake(void *chan) { ::wakeup(chan); }

} // namespace mm::hal

// Trap handling. A trap from user mode arrives through uservec (trapvec.S)
// in usertrap(); one from supervisor mode through kernelvec in kerneltrap().
#include "arch/riscv/trap.h"

#include "arch/riscv/csr.h"
#include "arch/riscv/kernel_map.h"
#include "arch/riscv/plic.h"
#include "arch/riscv/platform.h"
#include "arch/riscv/shootdown.h"
#include "dev/uart.h"
#include "dev/virtio_blk.h"
#include "kernel/param.h"
#include "lib/cpu.h"
#include "lib/print.h"
#include "mm/address_space.h"
#include "mm/reclaim.h"
#include "mm/swap.h"
#include "proc/proc.h"
#include "sys/syscall.h"

extern "C" {
void uservec();
void kernelvec();
[[noreturn]] void userret(TrapFrame *tf);
void usertrap();
void kerneltrap();
}

Spinlock tickslock{"ticks"};
uint ticks = 0;
uint test_panic_tick = 0;

namespace {

// The timer interrupts every millisecond; every hundredth interrupt is a
// tick (xv6's 10 per second: sleep() and uptime() count these) and a chance
// to preempt. Why not interrupt only at ticks? Under QEMU -icount the harts
// take turns on one host thread, and a turn lasts until the next timer
// deadline: a hart spinning on a lock held by a hart that is not running
// would burn 100 ms of virtual time before the holder runs again. A 1 ms
// timer bounds that to 1 ms, at a cost of ~0.05% of the CPU.
constexpr uint64 TIMER_INTERVAL = 10000; // time runs at 10 MHz: 1 ms
constexpr int INTERRUPTS_PER_TICK = 100;
constexpr int STIMECMP = 0x14d; // Sstc supervisor timer compare

int timer_count[NCPU];

} // namespace

void set_next_timer() {
  uint64 next = riscv::read_time() + TIMER_INTERVAL;
  asm volatile("csrw %0, %1" ::"i"(STIMECMP), "r"(next));
}

namespace {

enum class Interrupt { None, Timer, Device };

// Handle an interrupt if scause says it is one.
Interrupt device_interrupt(uint64 scause) {
  if (!(scause & riscv::SCAUSE_INTERRUPT)) return Interrupt::None; // an exception (a page fault: be quick)
  if (scause == (riscv::SCAUSE_INTERRUPT | riscv::IRQ_S_EXTERNAL)) {
    int irq = plic_claim();
    if (irq == platform::UART0_IRQ)
      uart_intr();
    else if (irq >= platform::VIRTIO0_IRQ && irq < platform::VIRTIO0_IRQ + platform::VIRTIO_SLOTS)
      virtio_disk_intr(irq - platform::VIRTIO0_IRQ);
    else if (irq)
      kprintf("unexpected interrupt irq=%d\n", irq);
    if (irq) plic_complete(irq);
    return Interrupt::Device;
  }
  if (scause == (riscv::SCAUSE_INTERRUPT | riscv::IRQ_S_SOFT)) {
    shootdown_serve(); // another hart changed PTEs: flush our TLB
    return Interrupt::Device;
  }
  if (scause == (riscv::SCAUSE_INTERRUPT | riscv::IRQ_S_TIMER)) {
    if (panicked) stop_if_not_panicking(); // another hart panicked: run no more
    set_next_timer();
    int id = cpu::id();
    if (++timer_count[id] < INTERRUPTS_PER_TICK) return Interrupt::Device; // handled, no tick
    timer_count[id] = 0;
    if (id == 0) {
      SpinGuard g(tickslock);
      ticks++;
      if (ticks == test_panic_tick) panic("testpanic=%u: panic at tick %u as asked", test_panic_tick, ticks);
      wakeup(&ticks);
    }
    return Interrupt::Timer;
  }
  return Interrupt::None;
}

// Consecutive faults of one process that found memory and swap exhausted
// before it is taken for out of memory (see mm/reclaim.h).
constexpr int OOM_STALLS = 32;
// Reclaim rounds one fault may wait for before it fails for lack of memory.
constexpr int OOM_ROUNDS = 64;

const char *access_name(mm::Access a) {
  return a == mm::Access::Write ? "store" : a == mm::Access::Exec ? "instruction" : "load";
}

// A page fault in user mode: resolve it through the address space (COW,
// demand zero) or kill the process with a one-line reason.
void user_page_fault(Proc *p, uint64 va, mm::Access access) {
  // The fault may sleep (a file page's read, the address space's lock):
  // interrupts back on, as for a system call.
  riscv::intr_on();
  Result<void> r;
  for (int round = 0;; round++) {
    // Keep free frames above the low watermark (may sleep). Faults that
    // find memory exhausted time after time are thrashing: out of memory.
    p->oom_stalls = mm::reclaim::balance() || !mm::swap::enabled() ? 0 : p->oom_stalls + 1;
    if (p->oom_stalls > OOM_STALLS) {
      r = Error::NoMemory;
    } else {
      SleepGuard g(p->vm_lock);
      r = p->as.handle_fault(mm::VirtAddr(va), access);
    }
    // (Bounded: what reclaim frees, others may take first, again and again.)
    if (r.ok() || r.error() != Error::NoMemory || killed(p) || round == OOM_ROUNDS || !out_of_memory(p)) break;
  }
  if (r.ok()) return;
  if (r.error() == Error::NoMemory && killed(p)) return; // the OOM killer said why
  kprintf("pid %d (%s): killed: %s at %p (%s fault, pc %p)\n", p->pid, p->name, error_name(r.error()),
          reinterpret_cast<void *>(va), access_name(access), reinterpret_cast<void *>(p->trapframe.epc));
  setkilled(p);
}

} // namespace

void trap_init_hart() {
  csr_write(stvec, reinterpret_cast<uint64>(kernelvec));
  csr_write(scounteren, 7); // user mode may read cycle, time, instret
  csr_set(sie, riscv::SIE_SEIE | riscv::SIE_STIE);
  set_next_timer();
}

extern "C" void usertrap() {
  // Only uservec calls us, and stvec points there only in user mode.
  csr_write(stvec, reinterpret_cast<uint64>(kernelvec)); // we are in the kernel now

  Proc *p = myproc();
  p->trapframe.epc = csr_read(sepc);
  uint64 scause = csr_read(scause);
  Interrupt intr = Interrupt::None;

  if (scause == riscv::EXC_ECALL_U) {
    if (killed(p)) exit(-1);
    p->trapframe.epc += 4; // return past the ecall
    riscv::intr_on();      // sstatus.SIE was cleared by the trap
    // A reserve for the kernel's own allocations, which cannot reclaim
    // themselves (they may hold spinlocks): see mm/reclaim.h.
    mm::reclaim::balance();
    syscall();
  } else if ((intr = device_interrupt(scause)) != Interrupt::None) {
    // handled
  } else if (scause == riscv::EXC_STORE_PAGE_FAULT) {
    user_page_fault(p, csr_read(stval), mm::Access::Write);
  } else if (scause == riscv::EXC_LOAD_PAGE_FAULT) {
    user_page_fault(p, csr_read(stval), mm::Access::Read);
  } else if (scause == riscv::EXC_INSTR_PAGE_FAULT) {
    user_page_fault(p, csr_read(stval), mm::Access::Exec);
  } else {
    kprintf("pid %d (%s): killed: unexpected trap scause %p stval %p pc %p\n", p->pid, p->name,
            reinterpret_cast<void *>(scause), reinterpret_cast<void *>(csr_read(stval)),
            reinterpret_cast<void *>(p->trapframe.epc));
    setkilled(p);
  }

  if (killed(p)) exit(-1);
  if (intr == Interrupt::Timer) yield();
  usertrapret();
}

void usertrapret() {
  Proc *p = myproc();
  // One sstatus write: interrupts off until sret (a trap now would go to
  // uservec while we are still in the kernel), sret goes to user mode
  // (SPP = 0) with interrupts enabled (SPIE = 1).
  uint64 s = csr_read(sstatus);
  s &= ~(riscv::SSTATUS_SIE | riscv::SSTATUS_SPP);
  s |= riscv::SSTATUS_SPIE;
  csr_write(sstatus, s);
  csr_write(stvec, reinterpret_cast<uint64>(uservec));

  TrapFrame &tf = p->trapframe;
  tf.kernel_sp = reinterpret_cast<uint64>(p->kstack) + KSTACK_SIZE;
  tf.kernel_trap = reinterpret_cast<uint64>(usertrap);
  tf.kernel_hart = riscv::hart_id();
  csr_write(sepc, tf.epc);
  userret(&tf);
}

// kernelvec found sp outside every kernel stack (trapvec.S): a corrupted
// stack pointer. Say where it happened; the registers are as they were.
extern "C" [[noreturn]] void kernel_stack_lost(uint64 sp, uint64 ra, uint64 s0) {
  panic("kernel trap with sp %p on no kernel stack: scause %p sepc %p stval %p ra %p s0 %p",
        reinterpret_cast<void *>(sp), reinterpret_cast<void *>(csr_read(scause)),
        reinterpret_cast<void *>(csr_read(sepc)), reinterpret_cast<void *>(csr_read(stval)),
        reinterpret_cast<void *>(ra), reinterpret_cast<void *>(s0));
}

extern "C" void kerneltrap() {
  uint64 sepc = csr_read(sepc);
  uint64 sstatus = csr_read(sstatus);
  uint64 scause = csr_read(scause);
  if (!(sstatus & riscv::SSTATUS_SPP)) panic("kerneltrap: not from supervisor mode");
  if (riscv::intr_get()) panic("kerneltrap: interrupts enabled");

  Interrupt intr = device_interrupt(scause);
  if (intr == Interrupt::None) {
    uint64 stval = csr_read(stval);
    // A fault in a guard page: some kernel stack ran over its bottom. (The
    // trap itself was taken on the stack below it, so say so and stop.)
    if (kmap::is_guard(stval))
      panic("kernel stack overflow: pc %p touched guard page %p", reinterpret_cast<void *>(sepc),
            reinterpret_cast<void *>(stval));
    panic("kernel trap: scause %p sepc %p stval %p", reinterpret_cast<void *>(scause),
          reinterpret_cast<void *>(sepc), reinterpret_cast<void *>(stval));
  }

  // Give up the CPU on a timer tick if a process is running here.
  if (intr == Interrupt::Timer && myproc() && myproc()->state == ProcState::Running) yield();

  // yield() may have caused traps: restore what sret needs.
  csr_write(sepc, sepc);
  csr_write(sstatus, sstatus);
}

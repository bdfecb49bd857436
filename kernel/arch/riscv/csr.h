// Access to RISC-V control and status registers, and the bits cowix uses.
// Names follow the privileged spec.
#pragma once

#include "lib/types.h"

#define csr_read(name)                                                                                       \
  ({                                                                                                         \
    uint64 _v;                                                                                               \
    asm volatile("csrr %0, " #name : "=r"(_v));                                                              \
    _v;                                                                                                      \
  })
#define csr_write(name, v) asm volatile("csrw " #name ", %0" ::"r"((uint64)(v)))
#define csr_set(name, v) asm volatile("csrs " #name ", %0" ::"r"((uint64)(v)))
#define csr_clear(name, v) asm volatile("csrc " #name ", %0" ::"r"((uint64)(v)))

namespace riscv {

// mstatus / sstatus
constexpr uint64 MSTATUS_MPP_MASK = 3UL << 11;
constexpr uint64 MSTATUS_MPP_S = 1UL << 11;
constexpr uint64 SSTATUS_SPP = 1UL << 8;  // previous mode: 1 = supervisor
constexpr uint64 SSTATUS_SPIE = 1UL << 5; // interrupts enabled before the trap
constexpr uint64 SSTATUS_SIE = 1UL << 1;  // supervisor interrupts enabled
constexpr uint64 SSTATUS_SUM = 1UL << 18; // supervisor may touch user pages (unused)

// sie / sip
constexpr uint64 SIE_SSIE = 1UL << 1; // software
constexpr uint64 SIE_STIE = 1UL << 5; // timer
constexpr uint64 SIE_SEIE = 1UL << 9; // external (PLIC)

// sip: pending interrupts
constexpr uint64 SIP_SSIP = 1UL << 1; // software (writable: the kernel clears it)
constexpr uint64 SIP_STIP = 1UL << 5; // timer

// scause values
constexpr uint64 SCAUSE_INTERRUPT = 1UL << 63;
constexpr uint64 IRQ_S_SOFT = 1;
constexpr uint64 IRQ_S_TIMER = 5;
constexpr uint64 IRQ_S_EXTERNAL = 9;
constexpr uint64 EXC_INSTR_MISALIGNED = 0;
constexpr uint64 EXC_INSTR_ACCESS = 1;
constexpr uint64 EXC_ILLEGAL = 2;
constexpr uint64 EXC_BREAKPOINT = 3;
constexpr uint64 EXC_LOAD_ACCESS = 5;
constexpr uint64 EXC_STORE_ACCESS = 7;
constexpr uint64 EXC_ECALL_U = 8;
constexpr uint64 EXC_INSTR_PAGE_FAULT = 12;
constexpr uint64 EXC_LOAD_PAGE_FAULT = 13;
constexpr uint64 EXC_STORE_PAGE_FAULT = 15;

inline uint64 hart_id() {
  uint64 x;
  asm volatile("mv %0, tp" : "=r"(x));
  return x;
}
inline void intr_on() { csr_set(sstatus, SSTATUS_SIE); }
inline void intr_off() { csr_clear(sstatus, SSTATUS_SIE); }
inline bool intr_get() { return csr_read(sstatus) & SSTATUS_SIE; }

// Flush the TLB entry for one page / everything on this hart.
inline void flush_page(uint64 va) { asm volatile("sfence.vma %0, zero" ::"r"(va) : "memory"); }
inline void flush_all() { asm volatile("sfence.vma zero, zero" ::: "memory"); }

inline uint64 read_time() {
  uint64 t;
  asm volatile("rdtime %0" : "=r"(t));
  return t;
}

} // namespace riscv

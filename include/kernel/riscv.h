// The parts of xv6's kernel/riscv.h that user programs use.
#pragma once

#define PGSIZE 4096 // bytes per page
#define PGSHIFT 12  // bits of offset within a page

#define PGROUNDUP(sz) (((sz) + PGSIZE - 1) & ~(PGSIZE - 1))
#define PGROUNDDOWN(a) (((a)) & ~(PGSIZE - 1))

// One beyond the highest possible user virtual address. As in xv6, one bit
// less than the max allowed by Sv39, to avoid sign-extension questions.
#define MAXVA (1L << (9 + 9 + 9 + 12 - 1))

#ifndef __ASSEMBLER__
// Register readers that xv6's riscv.h offers and user programs call (usertests
// reads sp to probe the guard page below the stack; backtraces walk fp/ra).
// They read general-purpose registers only, so they work in user mode.
static inline uint64 r_sp(void) {
  uint64 x;
  asm volatile("mv %0, sp" : "=r"(x));
  return x;
}

static inline uint64 r_fp(void) {
  uint64 x;
  asm volatile("mv %0, s0" : "=r"(x));
  return x;
}

static inline uint64 r_ra(void) {
  uint64 x;
  asm volatile("mv %0, ra" : "=r"(x));
  return x;
}

static inline uint64 r_tp(void) {
  uint64 x;
  asm volatile("mv %0, tp" : "=r"(x));
  return x;
}
#endif

// The parts of xv6's kernel/riscv.h that user programs use.
#pragma once

#define PGSIZE 4096 // bytes per page
#define PGSHIFT 12  // bits of offset within a page

#define PGROUNDUP(sz) (((sz) + PGSIZE - 1) & ~(PGSIZE - 1))
#define PGROUNDDOWN(a) (((a)) & ~(PGSIZE - 1))

// One beyond the highest possible user virtual address. As in xv6, one bit
// less than the max allowed by Sv39, to avoid sign-extension questions.
#define MAXVA (1L << (9 + 9 + 9 + 12 - 1))

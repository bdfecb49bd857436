// Physical memory layout of QEMU virt, as xv6 describes it. User programs
// only use these to build addresses they expect to be invalid.
#pragma once

#define KERNBASE 0x80000000L
#define PHYSTOP (KERNBASE + 128 * 1024 * 1024)

// cowix maps the kernel in the upper half of every address space: physical
// address p is visible to the kernel at KERNEL_DIRECT_MAP + p. These pages
// lack PTE_U, so user loads and stores there fault.
#define KERNEL_DIRECT_MAP 0xFFFFFFC000000000UL

// xv6's two top user pages (MAXVA and PGSIZE: kernel/riscv.h). cowix maps
// nothing there (no trampoline: traps switch no page table), but user
// memory ends below TRAPFRAME, as in xv6: sbrk and mmap stop there.
#define TRAMPOLINE (MAXVA - PGSIZE)
#define TRAPFRAME (TRAMPOLINE - PGSIZE)

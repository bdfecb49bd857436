# The first instructions every hart runs. QEMU (-bios none) starts all harts
# here in machine mode, paging off, at physical 0x80000000, with
# a0 = hart id and a1 = physical address of the device tree.
#
# Each hart takes a 16 KiB boot stack (above a 4 KiB guard page, which
# kmain unmaps once paging is on: BOOT_STACK_SLOT apart), lets mstart() (C++, machine mode) set
# up delegation and the boot page table, then drops to supervisor mode
# straight onto the kernel's virtual addresses: kmain(hartid, dtb).

.equ BOOT_STACK_SIZE, 16384
.equ BOOT_STACK_SLOT, 4096 + BOOT_STACK_SIZE
.equ DIRECT_MAP, 0xFFFFFFC000000000

.section .text.entry
.globl _entry
_entry:
        csrr    a0, mhartid
        mv      tp, a0
        mv      s0, a0                  # hart id, kept across mstart
        mv      s1, a1                  # device tree

        la      sp, boot_stacks         # PC-relative: a physical address now
        li      t0, BOOT_STACK_SLOT
        addi    t1, a0, 1
        mul     t0, t0, t1
        add     sp, sp, t0

        call    mstart                  # machine-mode setup, returns here

        # From here on the kernel runs at its linked (virtual) addresses.
        li      t0, DIRECT_MAP
        add     sp, sp, t0
        la      t1, kmain
        add     t1, t1, t0
        csrw    mepc, t1
        mv      a0, s0
        mv      a1, s1
        mret                            # to supervisor mode, paging on

.section .bss
.balign 4096
.globl boot_stacks
boot_stacks:
        .space  BOOT_STACK_SLOT * 8     # NCPU guards and stacks

# Trap entry and exit.
#
# The kernel is mapped in every address space, so entering the kernel from
# user mode needs no page-table switch: uservec saves the user registers in
# the process's TrapFrame (sscratch points to it while the process is in user
# mode), loads the kernel stack and hart id, and calls usertrap().
# Offsets match struct TrapFrame in proc/proc.h.

.section .text
.globl uservec
.balign 4
uservec:
        csrrw   a0, sscratch, a0        # a0 = &trapframe, sscratch = user a0
        sd      ra, 32(a0)
        sd      sp, 40(a0)
        sd      gp, 48(a0)
        sd      tp, 56(a0)
        sd      t0, 64(a0)
        sd      t1, 72(a0)
        sd      t2, 80(a0)
        sd      s0, 88(a0)
        sd      s1, 96(a0)
        sd      a1, 112(a0)
        sd      a2, 120(a0)
        sd      a3, 128(a0)
        sd      a4, 136(a0)
        sd      a5, 144(a0)
        sd      a6, 152(a0)
        sd      a7, 160(a0)
        sd      s2, 168(a0)
        sd      s3, 176(a0)
        sd      s4, 184(a0)
        sd      s5, 192(a0)
        sd      s6, 200(a0)
        sd      s7, 208(a0)
        sd      s8, 216(a0)
        sd      s9, 224(a0)
        sd      s10, 232(a0)
        sd      s11, 240(a0)
        sd      t3, 248(a0)
        sd      t4, 256(a0)
        sd      t5, 264(a0)
        sd      t6, 272(a0)
        csrr    t0, sscratch
        sd      t0, 104(a0)             # user a0 (userret sets sscratch again)

        ld      sp, 0(a0)               # kernel stack
        ld      tp, 16(a0)              # hart id
        ld      t0, 8(a0)               # usertrap
        mv      s0, zero                # end of the frame-pointer chain
        jr      t0

# userret(TrapFrame *tf): restore user registers and return to user mode.
# The caller has set sepc and sstatus (SPP = user).
.globl userret
userret:
        csrw    sscratch, a0
        ld      ra, 32(a0)
        ld      sp, 40(a0)
        ld      gp, 48(a0)
        ld      tp, 56(a0)
        ld      t0, 64(a0)
        ld      t1, 72(a0)
        ld      t2, 80(a0)
        ld      s0, 88(a0)
        ld      s1, 96(a0)
        ld      a1, 112(a0)
        ld      a2, 120(a0)
        ld      a3, 128(a0)
        ld      a4, 136(a0)
        ld      a5, 144(a0)
        ld      a6, 152(a0)
        ld      a7, 160(a0)
        ld      s2, 168(a0)
        ld      s3, 176(a0)
        ld      s4, 184(a0)
        ld      s5, 192(a0)
        ld      s6, 200(a0)
        ld      s7, 208(a0)
        ld      s8, 216(a0)
        ld      s9, 224(a0)
        ld      s10, 232(a0)
        ld      s11, 240(a0)
        ld      t3, 248(a0)
        ld      t4, 256(a0)
        ld      t5, 264(a0)
        ld      t6, 272(a0)
        ld      a0, 104(a0)
        sret

# Traps taken while in supervisor mode (interrupts; any exception is a
# kernel bug): save the caller-saved registers on the current kernel stack
# and call kerneltrap().
#
# Every kernel stack lies in the image's bss. A trap taken with sp outside
# it would push onto whatever sp points at, fault again, and descend
# through memory for ever: instead it goes to kernel_stack_lost() on a small
# stack of its own, which reports it. (sscratch is free to use here: in the
# kernel it holds nothing, and userret sets it before returning to user.)
.globl kernelvec
.balign 4
kernelvec:
        csrw    sscratch, t0
        la      t0, erodata
        bltu    sp, t0, 1f
        la      t0, kernel_end
        bgtu    sp, t0, 1f
        csrr    t0, sscratch
        addi    sp, sp, -144
        sd      ra, 0(sp)
        sd      t0, 8(sp)
        sd      t1, 16(sp)
        sd      t2, 24(sp)
        sd      a0, 32(sp)
        sd      a1, 40(sp)
        sd      a2, 48(sp)
        sd      a3, 56(sp)
        sd      a4, 64(sp)
        sd      a5, 72(sp)
        sd      a6, 80(sp)
        sd      a7, 88(sp)
        sd      t3, 96(sp)
        sd      t4, 104(sp)
        sd      t5, 112(sp)
        sd      t6, 120(sp)
        call    kerneltrap
        ld      ra, 0(sp)
        ld      t0, 8(sp)
        ld      t1, 16(sp)
        ld      t2, 24(sp)
        ld      a0, 32(sp)
        ld      a1, 40(sp)
        ld      a2, 48(sp)
        ld      a3, 56(sp)
        ld      a4, 64(sp)
        ld      a5, 72(sp)
        ld      a6, 80(sp)
        ld      a7, 88(sp)
        ld      t3, 96(sp)
        ld      t4, 104(sp)
        ld      t5, 112(sp)
        ld      t6, 120(sp)
        addi    sp, sp, 144
        sret

1:      # sp is on no kernel stack: report, on this hart's emergency stack.
        mv      a0, sp
        mv      a1, ra
        mv      a2, s0
        la      sp, emergency_stacks
        addi    t0, tp, 1
        slli    t0, t0, 12
        add     sp, sp, t0
        call    kernel_stack_lost       # does not return

.section .bss
.balign 16
emergency_stacks:
        .space  4096 * 8                # NCPU stacks for kernel_stack_lost

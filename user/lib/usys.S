/*
 * System call stubs. Each puts the call number in a7 and traps with ecall;
 * the arguments are already in a0..a5 and the result comes back in a0, so
 * the stub needs nothing else (RISC-V calling convention = syscall ABI).
 *
 * ';' separates instructions on one line in RISC-V assembly, which lets one
 * C-preprocessor macro expand to a whole function.
 */

#include "kernel/syscall.h"

#define SYSCALL(name)                                                   \
  .global name; .type name, @function; .balign 4; name:                 \
  li a7, SYS_##name; ecall; ret; .size name, . - name

/* A stub whose C name differs from the call's name in syscall.h. */
#define SYSCALL_AS(cname, call)                                         \
  .global cname; .type cname, @function; .balign 4; cname:              \
  li a7, SYS_##call; ecall; ret; .size cname, . - cname

.text
SYSCALL(fork)
SYSCALL(exit)
SYSCALL(wait)
SYSCALL(pipe)
SYSCALL(read)
SYSCALL(kill)
SYSCALL(exec)
SYSCALL(fstat)
SYSCALL(chdir)
SYSCALL(dup)
SYSCALL(getpid)
SYSCALL_AS(sys_sbrk, sbrk) /* sbrk and sbrklazy are in ulib.c */
SYSCALL(sleep)
SYSCALL(pause)
SYSCALL(uptime)
SYSCALL(open)
SYSCALL(write)
SYSCALL(mknod)
SYSCALL(unlink)
SYSCALL(link)
SYSCALL(mkdir)
SYSCALL(close)
SYSCALL(memstat)
SYSCALL(vmaudit)
SYSCALL(forkmode)
SYSCALL(shutdown)
SYSCALL(mmap)
SYSCALL(munmap)
SYSCALL(mprotect)
SYSCALL(vmmap)
SYSCALL(faultinject)

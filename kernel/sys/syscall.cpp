// System call dispatch. The number is in a7, arguments in a0..a5, the result
// goes back in a0. Numbers are xv6's (include/kernel/syscall.h).
#include "sys/syscall.h"

#include "lib/print.h"
#include "lib/string.h"
#include "proc/proc.h"

int fetchaddr(uint64 addr, uint64 *ip) { return copyin(myproc(), ip, addr, sizeof *ip); }

int fetchstr(uint64 addr, char *buf, int max) {
  if (copyinstr(myproc(), buf, addr, max) < 0) return -1;
  return static_cast<int>(strlen(buf));
}

uint64 argraw(int n) {
  TrapFrame &tf = myproc()->trapframe;
  switch (n) {
  case 0: return tf.a0;
  case 1: return tf.a1;
  case 2: return tf.a2;
  case 3: return tf.a3;
  case 4: return tf.a4;
  case 5: return tf.a5;
  }
  panic("argraw %d", n);
}

int argint(int n) { return static_cast<int>(argraw(n)); }
uint64 argaddr(int n) { return argraw(n); }
int argstr(int n, char *buf, int max) { return fetchstr(argaddr(n), buf, max); }

namespace {

using Handler = uint64 (*)();

constexpr Handler table[] = {
    nullptr,
    sys_fork,     // 1
    sys_exit,     // 2
    sys_wait,     // 3
    sys_pipe,     // 4
    sys_read,     // 5
    sys_kill,     // 6
    sys_exec,     // 7
    sys_fstat,    // 8
    sys_chdir,    // 9
    sys_dup,      // 10
    sys_getpid,   // 11
    sys_sbrk,     // 12
    sys_sleep,    // 13
    sys_uptime,   // 14
    sys_open,     // 15
    sys_write,    // 16
    sys_mknod,    // 17
    sys_unlink,   // 18
    sys_link,     // 19
    sys_mkdir,    // 20
    sys_close,    // 21
    sys_memstat,  // 22
    sys_vmaudit,  // 23
    sys_forkmode, // 24
    sys_shutdown, // 25
    sys_mmap,     // 26
    sys_munmap,   // 27
    sys_mprotect, // 28
    sys_vmmap,    // 29
};
// One entry per number of include/kernel/syscall.h. (That header is not
// included here: libstdc++'s <atomic> pulls in glibc's <syscall.h>, whose
// Linux SYS_* macros would silently replace ours.)
static_assert(sizeof table / sizeof table[0] == 30);

} // namespace

// SYS_faultinject: a test-only call, kept out of the table above.
constexpr uint64 SYS_FAULTINJECT = 30;

void syscall() {
  Proc *p = myproc();
  uint64 num = p->trapframe.a7;
  if (num == SYS_FAULTINJECT) {
    p->trapframe.a0 = sys_faultinject();
  } else if (num > 0 && num < sizeof table / sizeof table[0]) {
    p->trapframe.a0 = table[num]();
  } else {
    kprintf("pid %d (%s): unknown system call %lu\n", p->pid, p->name, num);
    p->trapframe.a0 = static_cast<uint64>(-1);
  }
}

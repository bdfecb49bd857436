// Processes, harts and the scheduler.
#pragma once

#include <atomic>

#include "kernel/param.h"
#include "lib/spinlock.h"
#include "lib/types.h"
#include "mm/address_space.h"
#include "proc/sleeplock.h"

struct File;
struct Inode;

// Saved registers for kernel context switches (swtch.S).
struct Context {
  uint64 ra, sp;
  uint64 s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11;
};

// User registers saved by the trap vector (arch/riscv/trapvec.S knows the
// offsets). The first four words are for the trap vector's own use.
struct TrapFrame {
  /*   0 */ uint64 kernel_sp;   // top of this process's kernel stack
  /*   8 */ uint64 kernel_trap; // usertrap()
  /*  16 */ uint64 kernel_hart; // tp (hart id) to restore in the kernel
  /*  24 */ uint64 epc;         // saved user program counter
  /*  32 */ uint64 ra, sp, gp, tp, t0, t1, t2, s0, s1, a0, a1, a2, a3, a4, a5, a6, a7;
  /* 168 */ uint64 s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, t3, t4, t5, t6;
};

// Per-hart state.
struct Cpu {
  struct Proc *proc = nullptr; // process running on this hart, or null
  Context context{};           // swtch() here to enter scheduler()
  int noff = 0;                // depth of push_off() nesting
  bool intena = false;         // were interrupts enabled before push_off()?
  // The root page table this hart's satp names (load_satp): a page table
  // must never be freed while a hart still translates through it.
  std::atomic<uint64> root{0};
};

enum class ProcState { Unused, Used, Sleeping, Runnable, Running, Zombie };

constexpr uint64 KSTACK_SIZE = 16384;

struct Proc {
  Spinlock lock{"proc"};

  // p->lock must be held when using these:
  ProcState state = ProcState::Unused;
  void *chan = nullptr; // if non-null, sleeping on chan
  bool killed = false;
  int xstate = 0; // exit status to be returned to parent's wait
  int pid = 0;

  // wait_lock must be held when using this:
  Proc *parent = nullptr;

  // private to the process, so p->lock need not be held.
  uint8 *kstack = nullptr; // bottom of the kernel stack (KSTACK_SIZE bytes)
  TrapFrame trapframe{};
  Context context{};
  File *ofile[NOFILE] = {};
  Inode *cwd = nullptr;
  char name[16] = {};

  // vm_lock protects `as` and `exec_as` (page tables and mappings): taken
  // by this process when it changes its own mappings (faults, sbrk, mmap,
  // exec, exit) and by fork and the audit, which take several in proc-table
  // order. A sleep lock: a fault may wait for the disk while holding it.
  //
  // Lock order, outermost first (the one place it is written down):
  //   vm_lock (in proc-table order when several)
  //   -> begin_op (a log transaction) -> inode sleep locks -> buffer locks
  //   -> page-cache bucket spinlocks (mm/object.h) -> frame free lists
  // Never the other way: read() and write() do not hold an inode lock while
  // they touch user memory, exec drops its inode lock before it builds the
  // new address space, and no spinlock is held while taking vm_lock.
  Sleeplock vm_lock{"vm"};
  int oom_stalls = 0; // consecutive faults that found memory exhausted (trap.cpp)
  mm::AddressSpace as;
  mm::AddressSpace exec_as; // the image exec is building, until it commits
};

extern Proc procs[NPROC];
extern Cpu cpus[NCPU];

Cpu *mycpu();
Proc *myproc();

void procinit();
void userinit();
[[noreturn]] void scheduler();
// Switch this hart to the page table `value` (a satp value) names, and
// record it in Cpu::root.
void load_satp(uint64 value);
void sched();
void yield();
void sleep(void *chan, Spinlock &lk);
void wakeup(void *chan);
int fork();
[[noreturn]] void exit(int status);
int wait(uint64 status_addr);
int kill(int pid);
void setkilled(Proc *p);
bool killed(Proc *p);
int grow_proc(long n, bool lazy, uint64 *old_break);
// A page fault of `me` found no frame even after reclaim's balance: reclaim
// harder; if memory and swap are exhausted, kill the process with the
// largest footprint, with a one-line message. Returns whether the fault
// should be tried again (false: `me` itself is the one to die).
bool out_of_memory(Proc *me);
void procdump();
uint64 count_free_procs(); // slots in state Unused (memstat)

// Copy to/from the current process's user memory (0 on success, -1 on a bad
// address). Writes obey copy-on-write.
int copyout(Proc *p, uint64 dstva, const void *src, uint64 len);
int copyin(Proc *p, void *dst, uint64 srcva, uint64 len);
int copyinstr(Proc *p, char *dst, uint64 srcva, uint64 max);
// Either a user address (user_dst true) of the current process or a kernel
// pointer: what the console and file code use.
int either_copyout(bool user_dst, uint64 dst, const void *src, uint64 len);
int either_copyin(void *dst, bool user_src, uint64 src, uint64 len);

// exec.cpp: run the program at path with the arguments argv (a
// NULL-terminated array of kernel strings). Returns argc, for a0. Errors:
// those of namei (no such file), Invalid (not a program it can run),
// TooBig (arguments), NoMemory, IO.
Result<uint64> exec(const char *path, char **argv);

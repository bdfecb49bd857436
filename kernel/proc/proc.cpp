// Processes and scheduling, in the manner of xv6: a fixed table of
// processes, one scheduler loop per hart, sleep/wakeup on channels.
//
// Locks: p->lock protects state/chan/killed/xstate/pid; wait_lock protects
// every p->parent and is taken before any p->lock; p->vm_lock protects the
// address spaces (see proc.h).
#include "proc/proc.h"

#include "arch/riscv/csr.h"
#include "arch/riscv/kernel_map.h"
#include "arch/riscv/trap.h"
#include "dev/virtio_blk.h"
#include "fs/file.h"
#include "fs/fs.h"
#include "fs/log.h"
#include <atomic>

#include "kernel/param.h"
#include "lib/cpu.h"
#include "lib/print.h"
#include "lib/string.h"
#include "mm/frame.h"
#include "mm/hal.h"
#include "mm/reclaim.h"
#include "mm/swap.h"
#include "mm/stats.h"
#include "mm/uaccess.h"

extern "C" void swtch(Context *old, Context *next);
void forkret_entry();

Proc procs[NPROC];
Cpu cpus[NCPU];
// The boot default: copy-on-write, with copy-ahead for sequential writers
// (mm/copy_ahead.h). forkmode() switches it at run time.
mm::ForkMode fork_mode = mm::ForkMode::CowAhead;

namespace {

// Each process's kernel stack, above a guard page that is not mapped
// (kmap::unmap_guard, in procinit): an overflow faults instead of running
// into the stack below.
constexpr uint64 KSTACK_SLOT = mm::PAGE_SIZE + KSTACK_SIZE;
alignas(mm::PAGE_SIZE) uint8 kstacks[NPROC][KSTACK_SLOT];
Proc *initproc = nullptr;
Spinlock pid_lock{"nextpid"};
int next_pid = 1;
// Taken before any p->lock; protects p->parent, so that a parent's wait()
// and its children's exit() cannot miss each other's wakeups.
Spinlock wait_lock{"wait"};

int alloc_pid() {
  SpinGuard g(pid_lock);
  return next_pid++;
}

// A lock-free look at p->state, to skip processes that cannot be what we
// are looking for without taking their lock. The answer may be stale: act on
// it only after taking p->lock and checking again.
ProcState peek_state(Proc &p) { return std::atomic_ref<ProcState>(p.state).load(std::memory_order_relaxed); }

uint64 kernel_satp() { return mm::PageTable(mm::PageTable::kernel_root()).satp(); }

} // namespace

void load_satp(uint64 value) {
  cpu::push_off();
  csr_write(satp, value);
  mycpu()->root.store(mm::PageTable::root_of_satp(value).value, std::memory_order_relaxed);
  cpu::pop_off();
}

namespace {

// Release everything a dead process still holds. p->lock must be held.
// Its address spaces are already empty: exit() (or fork's failure path)
// destroyed them, outside every spinlock, since that may sleep.
void freeproc(Proc *p) {
  KASSERT(p->as.is_null() && p->exec_as.is_null());
  p->pid = 0;
  p->parent = nullptr;
  p->name[0] = 0;
  p->chan = nullptr;
  p->killed = false;
  p->xstate = 0;
  p->state = ProcState::Unused;
}

// Find an unused slot and set it up to start in forkret() on its own kernel
// stack. Returns with p->lock held, or null.
Proc *allocproc() {
  for (Proc &p : procs) {
    if (peek_state(p) != ProcState::Unused) continue;
    p.lock.lock();
    if (p.state != ProcState::Unused) {
      p.lock.unlock();
      continue;
    }
    p.pid = alloc_pid();
    p.state = ProcState::Used;
    p.trapframe = TrapFrame{};
    p.context = Context{};
    p.context.ra = reinterpret_cast<uint64>(forkret_entry);
    p.context.sp = reinterpret_cast<uint64>(p.kstack) + KSTACK_SIZE;
    return &p;
  }
  return nullptr;
}

// Give a child to init. Caller holds wait_lock.
void reparent(Proc *p) {
  for (Proc &pp : procs) {
    if (pp.parent == p) {
      pp.parent = initproc;
      wakeup(initproc);
    }
  }
}

} // namespace

// A new process's first scheduling lands here (context.ra), still holding
// p->lock from the scheduler.
void forkret_entry() {
  static bool first = true;
  myproc()->lock.unlock();
  if (first) {
    // The file system must be initialised by a process (it sleeps on disk
    // I/O), so the first one does it and then becomes init.
    first = false;
    fsinit(ROOTDEV);
    if (test_swapdev) swapdev_selftest(test_swapdev_pages);
    Proc *p = myproc();
    auto root = namei("/");
    if (root.is_error()) panic("fsinit: no root directory: %s", error_name(root.error()));
    p->cwd = root.value();
    char name[] = "/init";
    char *argv[] = {name, nullptr};
    auto argc = exec(name, argv);
    if (argc.is_error()) panic("cannot exec /init: %s", error_name(argc.error()));
    p->trapframe.a0 = argc.value();
  }
  usertrapret();
}

Cpu *mycpu() { return &cpus[riscv::hart_id()]; }

// The process whose kernel stack we are running on, or null on a hart's
// scheduler (boot) stack. A process runs kernel code only on its own stack,
// so this is right even if the process moves to another hart halfway, and it
// costs no CSR access (xv6's push_off/mycpu()->proc/pop_off costs four,
// and each CSR access ends a translation block in QEMU).
Proc *myproc() {
  uint64 sp;
  asm volatile("mv %0, sp" : "=r"(sp));
  // sp - 1: an empty stack's sp is its top, one past its last byte.
  uint64 offset = sp - 1 - reinterpret_cast<uint64>(kstacks);
  if (offset >= sizeof kstacks) return nullptr;
  return &procs[offset / KSTACK_SLOT];
}

void procinit() {
  for (int i = 0; i < NPROC; i++) {
    kmap::unmap_guard(kstacks[i]);
    procs[i].kstack = kstacks[i] + mm::PAGE_SIZE;
  }
}

// A Used slot's address space: init() under its vm_lock, with no spinlock
// held (the audit may hold the sleep lock). On failure the slot is freed.
bool init_as(Proc *p) {
  Result<void> r;
  {
    SleepGuard g(p->vm_lock);
    r = p->as.init();
  }
  if (r.ok()) return true;
  SpinGuard g(p->lock);
  freeproc(p);
  return false;
}

void userinit() {
  Proc *p = allocproc();
  if (!p) panic("userinit: no process");
  p->lock.unlock(); // Used: nobody else takes the slot or runs it
  if (!init_as(p)) panic("userinit: no memory");
  p->lock.lock();
  initproc = p;
  safestrcpy(p->name, "init", sizeof p->name);
  p->state = ProcState::Runnable;
  p->lock.unlock();
}

int fork() {
  Proc *p = myproc();
  Proc *np = allocproc();
  if (!np) return -1;
  np->lock.unlock(); // Used: nobody else takes the slot or runs it
  np->oom_stalls = 0;

  // Both address spaces are locked, in proc-table order (see vm_lock).
  // Short of frames, reclaim with the locks let go and try again (the new
  // root table too: under pressure even one frame may have to be freed).
  Result<void> r = mm::reclaim::retrying([&]() -> Result<void> {
    Proc *first = p < np ? p : np, *second = p < np ? np : p;
    SleepGuard g1(first->vm_lock);
    SleepGuard g2(second->vm_lock);
    if (np->as.is_null()) TRY(np->as.init());
    auto cloned = p->as.clone_into(np->as, fork_mode);
    if (cloned.is_error()) np->as.destroy(); // may sleep: no spinlock held
    return cloned;
  });
  np->lock.lock();
  if (r.is_error()) {
    freeproc(np);
    np->lock.unlock();
    return -1;
  }

  np->trapframe = p->trapframe;
  np->trapframe.a0 = 0; // fork returns 0 in the child
  for (int i = 0; i < NOFILE; i++)
    if (p->ofile[i]) np->ofile[i] = filedup(p->ofile[i]);
  np->cwd = idup(p->cwd);
  safestrcpy(np->name, p->name, sizeof np->name);
  int pid = np->pid;
  np->lock.unlock();

  {
    SpinGuard g(wait_lock);
    np->parent = p;
  }
  {
    SpinGuard g(np->lock);
    np->state = ProcState::Runnable;
  }
  return pid;
}

void exit(int status) {
  Proc *p = myproc();
  if (p == initproc) panic("init exiting");

  for (File *&f : p->ofile) {
    if (f) {
      fileclose(f);
      f = nullptr;
    }
  }
  iput_op(p->cwd);
  p->cwd = nullptr;

  // Give the user memory back now, not when the parent waits: leave the
  // process's page table first (the kernel half is the same everywhere).
  // The address space moves to exec_as (empty outside exec) before it is
  // torn down: destroy() takes long for a big process and may sleep, and
  // whenever this process is switched back in meanwhile the scheduler loads
  // p->as. Were the dying tables still there, this hart would go on
  // translating through a root page table that destroy() then frees.
  // (exec_as is still seen by the audit and the reverse map.)
  {
    SleepGuard g(p->vm_lock);
    KASSERT(p->exec_as.is_null());
    p->exec_as.swap(p->as);
    load_satp(kernel_satp());
    riscv::flush_all();
    p->exec_as.destroy(); // may sleep: dirty shared pages go back to their files
  }

  wait_lock.lock();
  reparent(p);
  wakeup(p->parent); // the parent may be sleeping in wait()
  p->lock.lock();
  p->xstate = status;
  p->state = ProcState::Zombie;
  wait_lock.unlock();
  sched();
  panic("zombie exit");
}

int wait(uint64 status_addr) {
  Proc *p = myproc();
  wait_lock.lock();
  for (;;) {
    bool have_kids = false;
    Proc *zombie = nullptr;
    for (Proc &pp : procs) {
      if (pp.parent != p) continue;
      SpinGuard pg(pp.lock);
      have_kids = true;
      if (pp.state == ProcState::Zombie) {
        zombie = &pp;
        break;
      }
    }
    if (zombie) {
      int pid = zombie->pid, xstate = zombie->xstate;
      wait_lock.unlock();
      // copyout may sleep (the address space's lock, a fault), so not under
      // a spinlock. The zombie stays ours meanwhile: only its parent reaps
      // it, and we are not exiting. On a bad address it stays a zombie.
      if (status_addr != 0 && copyout(p, status_addr, &xstate, sizeof xstate) < 0) return -1;
      SpinGuard wg(wait_lock);
      SpinGuard zg(zombie->lock);
      freeproc(zombie);
      return pid;
    }
    if (!have_kids || killed(p)) {
      wait_lock.unlock();
      return -1;
    }
    sleep(p, wait_lock);
  }
}

void scheduler() {
  Cpu *c = mycpu();
  c->proc = nullptr;
  for (;;) {
    // Interrupts on, so that a device can wake a sleeping process, and any
    // timer pending is taken before we commit to sleeping.
    riscv::intr_on();
    bool found = false;
    for (Proc &p : procs) {
      if (peek_state(p) != ProcState::Runnable) continue;
      SpinGuard g(p.lock);
      if (p.state != ProcState::Runnable) continue;
      p.state = ProcState::Running;
      c->proc = &p;
      // Enter the process's address space. Switching satp is the one place
      // the whole TLB is flushed: this hart may hold stale entries from a
      // process that ran here before.
      // (A process that is exiting has no user memory left: it finishes
      // on the kernel's own table.)
      load_satp(p.as.is_null() ? kernel_satp() : p.as.page_table().satp());
      riscv::flush_all();
      swtch(&c->context, &p.context);
      // Back in the scheduler: leave that address space, which may be
      // destroyed by another hart once the process runs there.
      load_satp(kernel_satp());
      c->proc = nullptr;
      found = true;
    }
    if (!found) asm volatile("wfi"); // idle harts do not spin the host CPU
  }
}

// Switch to the scheduler. The caller holds only p->lock and has changed
// p->state.
void sched() {
  Proc *p = myproc();
  if (!p->lock.holding()) panic("sched: p->lock not held");
  if (mycpu()->noff != 1) panic("sched: other locks held");
  if (p->state == ProcState::Running) panic("sched: running");
  if (riscv::intr_get()) panic("sched: interrupts enabled");
  bool intena = mycpu()->intena;
  swtch(&p->context, &mycpu()->context);
  mycpu()->intena = intena;
}

void yield() {
  Proc *p = myproc();
  SpinGuard g(p->lock);
  p->state = ProcState::Runnable;
  sched();
}

// Atomically release lk and sleep on chan; reacquire lk when woken.
void sleep(void *chan, Spinlock &lk) {
  Proc *p = myproc();
  // Holding p->lock, no wakeup can slip in between releasing lk and sleeping.
  // state is set before lk is released, so a waker that takes lk after us
  // sees Sleeping even in its lock-free peek.
  p->lock.lock();
  p->chan = chan;
  p->state = ProcState::Sleeping;
  lk.unlock();
  sched();
  p->chan = nullptr;
  p->lock.unlock();
  lk.lock();
}

void wakeup(void *chan) {
  Proc *me = myproc();
  for (Proc &p : procs) {
    if (&p == me || peek_state(p) != ProcState::Sleeping) continue;
    SpinGuard g(p.lock);
    if (p.state == ProcState::Sleeping && p.chan == chan) p.state = ProcState::Runnable;
  }
}

int kill(int pid) {
  for (Proc &p : procs) {
    SpinGuard g(p.lock);
    if (p.pid == pid && p.state != ProcState::Unused) {
      std::atomic_ref<bool>(p.killed).store(true, std::memory_order_relaxed);
      if (p.state == ProcState::Sleeping) p.state = ProcState::Runnable;
      return 0;
    }
  }
  return -1;
}

void setkilled(Proc *p) {
  SpinGuard g(p->lock);
  std::atomic_ref<bool>(p->killed).store(true, std::memory_order_relaxed);
}

// Read without p->lock: killed only ever goes from false to true, and a
// caller that misses it now sees it at its next check.
bool killed(Proc *p) { return std::atomic_ref<bool>(p->killed).load(std::memory_order_relaxed); }

int grow_proc(long n, bool lazy, uint64 *old_break) {
  Proc *p = myproc();
  auto resize = [&](long by) {
    // Short of frames, reclaim (with the lock let go) and try again.
    return mm::reclaim::retrying([&] {
      SleepGuard g(p->vm_lock);
      return p->as.resize_heap(by, lazy ? mm::AddressSpace::Growth::Lazy : mm::AddressSpace::Growth::Eager);
    });
  };
  if (lazy || n <= 0 || !mm::swap::enabled()) {
    auto r = resize(n);
    if (r.is_error()) return -1;
    *old_break = r.value();
    return 0;
  }
  // Eager growth goes a step at a time, letting the lock go in between, so
  // that reclaim may send this process's own earlier pages to swap: a heap
  // larger than memory can grow as long as swap has room. If a step finds
  // no memory even so, the whole growth is undone: sbrk fails as a unit.
  constexpr long STEP = 256 * mm::PAGE_SIZE;
  long done = 0;
  uint64 first = 0;
  while (done < n) {
    long step = n - done < STEP ? n - done : STEP;
    auto r = resize(step);
    if (r.is_error()) {
      if (done > 0) (void)resize(-done);
      return -1;
    }
    if (done == 0) first = r.value();
    done += step;
    if (killed(p)) break; // (the rest is of no use to a dying process)
  }
  *old_break = first;
  return 0;
}

int copyout(Proc *p, uint64 dstva, const void *src, uint64 len) {
  SleepGuard g(p->vm_lock);
  return mm::copy_to_user(p->as, mm::VirtAddr(dstva), src, len).ok() ? 0 : -1;
}

int copyin(Proc *p, void *dst, uint64 srcva, uint64 len) {
  SleepGuard g(p->vm_lock);
  return mm::copy_from_user(p->as, dst, mm::VirtAddr(srcva), len).ok() ? 0 : -1;
}

int copyinstr(Proc *p, char *dst, uint64 srcva, uint64 max) {
  SleepGuard g(p->vm_lock);
  return mm::copy_string_from_user(p->as, dst, mm::VirtAddr(srcva), max).ok() ? 0 : -1;
}

int either_copyout(bool user_dst, uint64 dst, const void *src, uint64 len) {
  if (user_dst) return copyout(myproc(), dst, src, len);
  memmove(reinterpret_cast<void *>(dst), src, len);
  return 0;
}

int either_copyin(void *dst, bool user_src, uint64 src, uint64 len) {
  if (user_src) return copyin(myproc(), dst, src, len);
  memmove(dst, reinterpret_cast<const void *>(src), len);
  return 0;
}

// ^P on the console: list the processes. No locks, so that it works even
// when the machine is wedged.
void procdump() {
  static const char *names[] = {"unused", "used", "sleep ", "runble", "run   ", "zombie"};
  kprintf("\n");
  for (Proc &p : procs) {
    if (p.state == ProcState::Unused) continue;
    kprintf("%d %s %s sz=%lu\n", p.pid, names[static_cast<int>(p.state)], p.name, p.as.size());
  }
}

// Process slots in state Unused now (memstat: the tests check that every
// process they made was reaped).
uint64 count_free_procs() {
  uint64 n = 0;
  for (Proc &p : procs) {
    SpinGuard g(p.lock);
    if (p.state == ProcState::Unused) n++;
  }
  return n;
}

// The reverse map's view of the process table (mm/hal.h): each process's
// address spaces, under its vm_lock if that is free now. A process whose
// lock is held (it is faulting, forking, exiting) is skipped this time.
// Both address spaces are destroyed only under the lock, so neither can go
// while it is visited.
void mm::hal::for_each_address_space(AddressSpaceVisitor fn, void *arg) {
  for (Proc &p : procs) {
    if (!p.vm_lock.try_acquire()) continue;
    if (!p.as.is_null()) fn(p.as, arg);
    if (!p.exec_as.is_null()) fn(p.exec_as, arg);
    p.vm_lock.release();
  }
}

// ---------------------------------------------------------------- out of memory

namespace {

// A process's memory as the OOM killer weighs it: pages present in its page
// tables plus pages it has in swap (a page shared with others counts fully
// for each: what it would give back is not known in advance).
struct Footprint {
  uint64 resident = 0, swapped = 0;
};
Footprint footprint(Proc &p) {
  Footprint f;
  SleepGuard g(p.vm_lock);
  if (p.as.is_null()) return f;
  p.as.page_table().for_each_entry(mm::VirtAddr(0), mm::VirtAddr(mm::USER_TOP), [&](mm::VirtAddr, mm::Pte &e) {
    if (e.is_swap())
      f.swapped++;
    else
      f.resident++;
  });
  return f;
}

int oom_victim_pid = 0; // the last one killed, until it is gone (oom_lock)
Spinlock oom_lock{"oom"};

bool alive(int pid) {
  for (Proc &p : procs) {
    SpinGuard g(p.lock);
    if (p.pid == pid && p.state != ProcState::Unused && p.state != ProcState::Zombie) return true;
  }
  return false;
}

} // namespace

bool out_of_memory(Proc *me) {
  // Without a swap disk the faulting process dies, as before swap existed:
  // with nothing to page out, the one that asked is as good a choice as any.
  if (!mm::swap::enabled()) return false;
  // Memory is not exhausted (frames are free, or swap has room): reclaim,
  // and try again if it freed anything. If not, this allocation failed for
  // another reason (faultinject, a burst) and only the faulting process
  // pays, as it always did: nobody else is killed for it.
  if (!mm::reclaim::exhausted()) return mm::reclaim::short_of_frames() && mm::reclaim::run(mm::reclaim::high_watermark()) > 0;
  {
    // A victim is still on its way out: wait for its memory instead of
    // killing another.
    SpinGuard g(oom_lock);
    if (oom_victim_pid && alive(oom_victim_pid)) {
      if (oom_victim_pid == me->pid) return false;
      sleep(&ticks, oom_lock); // woken at the next tick
      return true;
    }
  }
  // Nothing left to evict and no swap left: the process with the largest
  // footprint goes (init and processes already exiting excepted).
  Proc *victim = nullptr;
  Footprint most;
  for (Proc &p : procs) {
    if (&p == initproc) continue;
    {
      SpinGuard g(p.lock);
      if (p.state == ProcState::Unused || p.state == ProcState::Zombie || p.killed) continue;
    }
    Footprint f = footprint(p);
    if (!victim || f.resident + f.swapped > most.resident + most.swapped) {
      victim = &p;
      most = f;
    }
  }
  if (!victim) return false;
  kprintf("oom: out of memory and swap: killed pid %d (%s): %lu pages resident, %lu in swap\n", victim->pid,
          victim->name, most.resident, most.swapped);
  {
    SpinGuard g(oom_lock);
    oom_victim_pid = victim->pid;
  }
  kill(victim->pid); // (wakes it if it sleeps, so that it exits)
  return victim != me;
}

// Process and memory system calls.
#include "arch/riscv/platform.h"
#include "arch/riscv/trap.h"
#include "dev/virtio_blk.h"
#include "fs/fs.h"
#include "kernel/fcntl.h"
#include "kernel/param.h"
#include "kernel/memstat.h"
#include "mm/reclaim.h"
#include "mm/swap.h"
#include "kernel/vm.h"
#include "lib/print.h"
#include "lib/string.h"
#include "mm/object.h"
#include "mm/audit.h"
#include "mm/frame.h"
#include "mm/stats.h"
#include "proc/proc.h"
#include "sys/syscall.h"

extern mm::ForkMode fork_mode;

namespace {
constexpr uint64 FAIL = static_cast<uint64>(-1);
} // namespace

uint64 sys_fork() { return static_cast<uint64>(fork()); }

uint64 sys_exit() { exit(argint(0)); }

uint64 sys_wait() { return static_cast<uint64>(wait(argaddr(0))); }

uint64 sys_kill() { return static_cast<uint64>(kill(argint(0))); }

uint64 sys_getpid() { return static_cast<uint64>(myproc()->pid); }

// sbrk(n, how): how is SBRK_EAGER or SBRK_LAZY (kernel/vm.h); anything
// else is taken as eager.
uint64 sys_sbrk() {
  uint64 old;
  if (grow_proc(argint(0), argint(1) == SBRK_LAZY, &old) < 0) return FAIL;
  return old;
}

uint64 sys_sleep() {
  int n = argint(0);
  if (n < 0) n = 0;
  SpinGuard g(tickslock);
  uint start = ticks;
  while (ticks - start < static_cast<uint>(n)) {
    if (killed(myproc())) return FAIL;
    sleep(&ticks, tickslock);
  }
  return 0;
}

uint64 sys_uptime() {
  SpinGuard g(tickslock);
  return ticks;
}

uint64 sys_memstat() {
  memstat ms{};
  ms.total_frames = mm::frames.total();
  ms.free_frames = mm::frames.free_count();
  ms.cow_faults = mm::counters.cow_faults.load();
  ms.cow_copies = mm::counters.cow_copies.load();
  ms.cow_reuses = mm::counters.cow_reuses.load();
  ms.fork_shared = mm::counters.fork_shared.load();
  ms.fork_copied = mm::counters.fork_copied.load();
  ms.frames_allocated = mm::counters.frames_allocated.load();
  ms.cow_ahead = mm::counters.cow_ahead.load();
  ms.table_shares = mm::counters.table_shares.load();
  ms.table_copies = mm::counters.table_copies.load();
  ms.cache_pages = mm::counters.cache_pages.load();
  ms.cache_dirty = mm::counters.cache_dirty.load();
  ms.cache_hits = mm::counters.cache_hits.load();
  ms.cache_misses = mm::counters.cache_misses.load();
  ms.cache_writebacks = mm::counters.cache_writebacks.load();
  ms.cache_dropped = mm::counters.cache_dropped.load();
  ms.zero_maps = mm::counters.zero_maps.load();
  ms.free_procs = count_free_procs();
  ms.free_inodes = count_free_inodes(ROOTDEV);
  ms.free_blocks = count_free_blocks(ROOTDEV);
  ms.swap_slots = mm::swap::total_slots();
  ms.swap_free = mm::swap::free_slots();
  ms.swap_outs = mm::counters.swap_outs.load();
  ms.swap_ins = mm::counters.swap_ins.load();
  ms.swap_cache_hits = mm::counters.swap_cache_hits.load();
  ms.reclaim_scans = mm::counters.reclaim_scans.load();
  ms.reclaim_unmapped = mm::counters.reclaim_unmapped.load();
  ms.reclaim_freed = mm::counters.reclaim_freed.load();
  ms.reclaim_writebacks = mm::counters.reclaim_writebacks.load();
  return copyout(myproc(), argaddr(0), &ms, sizeof ms) < 0 ? FAIL : 0;
}

namespace {
void report_violation(const char *what, mm::PhysAddr pa, mm::VirtAddr va) {
  kprintf("vmaudit: %s: frame %p va %p\n", what, reinterpret_cast<void *>(pa.value),
          reinterpret_cast<void *>(va.value));
}
} // namespace

// Stop every address space from changing (all vm_locks, in table order) and
// check the frame table against them.
uint64 sys_vmaudit() {
  mm::reclaim::Pause no_reclaim; // it holds pages and slots between its steps
  mm::AddressSpace *spaces[2 * NPROC];
  for (int i = 0; i < NPROC; i++) {
    procs[i].vm_lock.lock();
    spaces[2 * i] = &procs[i].as;
    spaces[2 * i + 1] = &procs[i].exec_as;
  }
  uint64 violations = mm::audit(spaces, 2 * NPROC, report_violation);
  for (int i = NPROC - 1; i >= 0; i--) procs[i].vm_lock.unlock();
  return violations;
}

// int vmmap(int pid, struct vmmap *buf, int max): the mappings of process
// pid (0: the caller), at most max of them, into buf; returns how many.
// They are gathered a page's worth at a time under the process's vm_lock,
// and copied out after it is released (the caller's own lock may be it).
uint64 sys_vmmap() {
  int pid = argint(0), max = argint(2);
  uint64 buf = argaddr(1);
  Proc *me = myproc();
  if (max < 0) return FAIL;
  if (pid == 0) pid = me->pid;
  Proc *target = nullptr;
  for (Proc &p : procs)
    if (p.pid == pid && p.state != ProcState::Unused && p.state != ProcState::Zombie) target = &p;
  if (!target) return FAIL;
  auto page = mm::frames.alloc(mm::FrameKind::Kernel);
  if (page.is_error()) return FAIL;
  auto *out = mm::phys_to_ptr<struct vmmap>(page.value());
  constexpr int PER_PAGE = static_cast<int>(mm::PAGE_SIZE / sizeof(struct vmmap));
  int done = 0;
  bool more = true, bad = false;
  while (more && done < max && !bad) {
    int n = 0;
    {
      SleepGuard g(target->vm_lock);
      if (target->pid != pid) break; // it exited and the slot was reused meanwhile
      int skip = done;
      more = false;
      target->as.mappings().for_each([&](mm::Mapping &m) {
        if (skip > 0) {
          skip--;
          return;
        }
        if (n == PER_PAGE || done + n == max) {
          more = true;
          return;
        }
        struct vmmap &v = out[n++];
        v = {};
        v.start = m.start.value;
        v.end = m.end.value;
        v.prot = static_cast<int>(m.prot); // PROT_* have mm::prot's values
        v.flags = m.shared ? MAP_SHARED : MAP_PRIVATE;
        switch (m.kind) {
        case mm::MapKind::Anon: v.kind = VMMAP_ANON; break;
        case mm::MapKind::File: v.kind = VMMAP_FILE; break;
        case mm::MapKind::Text: v.kind = VMMAP_TEXT; break;
        case mm::MapKind::Data: v.kind = VMMAP_DATA; break;
        case mm::MapKind::Stack: v.kind = VMMAP_STACK; break;
        case mm::MapKind::Heap: v.kind = VMMAP_HEAP; break;
        }
        if (m.object && !m.object->anonymous()) v.inum = static_cast<int>(static_cast<Inode *>(m.object->pager())->inum);
        v.offset = m.pgoff * mm::PAGE_SIZE;
        safestrcpy(v.name, m.name, sizeof v.name);
        auto r = target->as.residency(m);
        v.resident = r.resident;
        v.shared = r.shared;
        v.private_ = r.private_;
        v.swapped = r.swapped;
      });
    }
    if (n > 0 && copyout(me, buf + done * sizeof(struct vmmap), out, n * sizeof(struct vmmap)) < 0) bad = true;
    done += n;
    if (n == 0) break;
  }
  mm::frames.unref(page.value());
  return bad ? FAIL : static_cast<uint64>(done);
}

uint64 sys_forkmode() {
  int mode = argint(0);
  int old = static_cast<int>(fork_mode);
  if (mode != FORK_COW && mode != FORK_EAGER && mode != FORK_COW_AHEAD) return FAIL;
  fork_mode = static_cast<mm::ForkMode>(mode);
  return static_cast<uint64>(old);
}

// Power off through QEMU's SiFive test device: 0x5555 = exit 0,
// 0x3333 | code << 16 = exit code.
uint64 sys_shutdown() {
  uint32 code = static_cast<uint32>(argint(0)) & 0xff;
  uint32 cmd = code == 0 ? 0x5555 : (0x3333 | (code << 16));
  *platform::mmio<uint32>(platform::TEST_DEVICE) = cmd;
  for (;;) {
  }
}

// faultinject(what, n), for tests of the kernel's failure paths. With
// FAULT_FRAMES the next n frame allocations succeed and every one after them
// fails, until faultinject(FAULT_FRAMES, -1). FAULT_DISK does the same for
// the file system disk's requests (reads and writes, buffer cache and page
// I/O alike), and returns how many requests it failed since the previous
// FAULT_DISK call; FAULT_SWAP the same for the swap disk's requests.
// Returns 0 (FAULT_FRAMES), or -1 if `what` is not supported.
uint64 sys_faultinject() {
  constexpr int FAULT_FRAMES = 1; // include/kernel/syscall.h
  constexpr int FAULT_DISK = 2;
  constexpr int FAULT_SWAP = 4;
  int what = argint(0);
  int n = argint(1);
  if (what == FAULT_FRAMES)
    mm::frames.fail_after(n < 0 ? -1 : n);
  else if (what == FAULT_DISK)
    return static_cast<uint64>(virtio_disk_fail_after(n < 0 ? -1 : n));
  else if (what == FAULT_SWAP)
    return static_cast<uint64>(virtio_swap_fail_after(n < 0 ? -1 : n));
  else
    return FAIL;
  return 0;
}

// exec: replace the current process's image with a program from the file
// system. The new image is built in p->exec_as while the old one keeps
// running; only when everything has loaded does it replace p->as, so a
// failed exec returns -1 to an intact caller.
//
// Layout built here (xv6's): the ELF's segments from address 0 (text R|X,
// data R|W), one guard page, USERSTACK stack pages, then the empty heap.
#include "arch/riscv/csr.h"
#include "fs/fs.h"
#include "fs/log.h"
#include "kernel/param.h"
#include "lib/string.h"
#include "mm/uaccess.h"
#include "proc/elf.h"
#include "proc/proc.h"

namespace {

uint32 prot_of(const ProgramHeader &ph) {
  uint32 p = 0;
  if (ph.flags & PF_R) p |= mm::prot::Read;
  if (ph.flags & PF_W) p |= mm::prot::Write;
  if (ph.flags & PF_X) p |= mm::prot::Exec;
  return p;
}

// Map one PT_LOAD segment into exec_as and read its bytes from the file.
bool load_segment(Proc *p, Inode *ip, const ProgramHeader &ph) {
  if (ph.memsz < ph.filesz || ph.vaddr + ph.memsz < ph.vaddr) return false;
  if (ph.vaddr % mm::PAGE_SIZE != 0 || ph.vaddr + ph.memsz > mm::USER_TOP) return false;
  uint64 end = mm::page_round_up(ph.vaddr + ph.memsz);
  mm::RegionKind kind = (ph.flags & PF_X) ? mm::RegionKind::Text : mm::RegionKind::Data;
  {
    SpinGuard g(p->vm_lock);
    if (p->exec_as.add_region(ph.vaddr, end, prot_of(ph), kind).is_error()) return false;
  }
  // Read the file part page by page straight into the new frames (through
  // the direct map). The frames are zeroed, so the rest is already bss.
  for (uint64 off = 0; off < ph.filesz; off += mm::PAGE_SIZE) {
    mm::PhysAddr pa;
    {
      SpinGuard g(p->vm_lock);
      mm::Pte *pte = p->exec_as.page_table().find(mm::VirtAddr(ph.vaddr + off));
      pa = pte->phys();
    }
    uint64 n = ph.filesz - off < mm::PAGE_SIZE ? ph.filesz - off : mm::PAGE_SIZE;
    if (readi(ip, false, reinterpret_cast<uint64>(mm::phys_to_ptr(pa)), ph.off + off, n) !=
        static_cast<int>(n))
      return false;
  }
  return true;
}

// Copy argv onto the new stack: the strings, then the pointer array.
// Returns the new sp (also argv's address), or 0 on failure.
uint64 push_args(mm::AddressSpace &as, uint64 sp, uint64 stack_base, char **argv, uint64 *argc_out) {
  uint64 ustack[MAXARG + 1];
  uint64 argc = 0;
  for (; argv[argc]; argc++) {
    if (argc >= MAXARG) return 0;
    uint64 len = strlen(argv[argc]) + 1;
    sp = (sp - len) & ~15UL; // the RISC-V ABI wants sp 16-byte aligned
    if (sp < stack_base) return 0;
    if (mm::copy_to_user(as, mm::VirtAddr(sp), argv[argc], len).is_error()) return 0;
    ustack[argc] = sp;
  }
  ustack[argc] = 0;
  sp = (sp - (argc + 1) * sizeof(uint64)) & ~15UL;
  if (sp < stack_base) return 0;
  if (mm::copy_to_user(as, mm::VirtAddr(sp), ustack, (argc + 1) * sizeof(uint64)).is_error()) return 0;
  *argc_out = argc;
  return sp;
}

} // namespace

int exec(const char *path, char **argv) {
  Proc *p = myproc();
  begin_op();
  Inode *ip = namei(path);
  if (!ip) {
    end_op();
    return -1;
  }
  ilock(ip);

  bool ok = false;
  uint64 entry = 0, sp = 0, argc = 0;
  do {
    ElfHeader elf;
    if (readi(ip, false, reinterpret_cast<uint64>(&elf), 0, sizeof elf) != sizeof elf) break;
    if (elf.magic != ELF_MAGIC || elf.machine != EM_RISCV || elf.phentsize != sizeof(ProgramHeader)) break;
    {
      SpinGuard g(p->vm_lock);
      if (p->exec_as.init().is_error()) break;
    }
    uint64 top = 0;
    bool loaded = true;
    for (uint32 i = 0; i < elf.phnum && loaded; i++) {
      ProgramHeader ph;
      uint64 off = elf.phoff + i * sizeof ph;
      if (readi(ip, false, reinterpret_cast<uint64>(&ph), off, sizeof ph) != sizeof ph)
        loaded = false;
      else if (ph.type == PT_LOAD) {
        loaded = load_segment(p, ip, ph);
        if (ph.vaddr + ph.memsz > top) top = ph.vaddr + ph.memsz;
      }
    }
    if (!loaded || top == 0) break;
    entry = elf.entry;

    // Guard page, then the stack, then the (empty) heap.
    uint64 stack_base = mm::page_round_up(top) + mm::PAGE_SIZE;
    uint64 stack_top = stack_base + USERSTACK * mm::PAGE_SIZE;
    SpinGuard g(p->vm_lock);
    mm::AddressSpace &as = p->exec_as;
    if (as.add_region(stack_base, stack_top, mm::prot::Read | mm::prot::Write, mm::RegionKind::Stack)
            .is_error())
      break;
    if (as.add_region(stack_top, stack_top, mm::prot::Read | mm::prot::Write, mm::RegionKind::Heap)
            .is_error())
      break;
    as.set_heap_start(stack_top);
    sp = push_args(as, stack_top, stack_base, argv, &argc);
    ok = sp != 0;
  } while (false);

  iunlockput(ip);
  end_op();

  SpinGuard g(p->vm_lock);
  if (!ok) {
    p->exec_as.destroy();
    return -1;
  }
  // Commit: the new image becomes the process's; the old one is released.
  p->as.swap(p->exec_as);
  csr_write(satp, p->as.page_table().satp());
  riscv::flush_all();
  p->exec_as.destroy();

  const char *last = path;
  for (const char *s = path; *s; s++)
    if (*s == '/') last = s + 1;
  safestrcpy(p->name, last, sizeof p->name);

  p->trapframe.epc = entry;
  p->trapframe.sp = sp;
  p->trapframe.a1 = sp;          // argv
  return static_cast<int>(argc); // lands in a0: main(argc, argv)
}

// exec: replace the current process's image with a program from the file
// system. The new image is built in p->exec_as while the old one keeps
// running; only when everything is in place does it replace p->as, so a
// failed exec returns -1 to an intact caller.
//
// Nothing of the program is read here but its headers: each PT_LOAD segment
// becomes a private mapping of the file's pages in the page cache, paged in
// on first touch. Text frames are the cache's own, shared by every process
// running the program; a store into data copies the page (copy-on-write
// from the cache); bss, the stack and the heap are anonymous demand zero.
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

constexpr uint32 MAX_SEGMENTS = 16;

uint32 prot_of(const ProgramHeader &ph) {
  uint32 p = 0;
  if (ph.flags & PF_R) p |= mm::prot::Read;
  if (ph.flags & PF_W) p |= mm::prot::Write;
  if (ph.flags & PF_X) p |= mm::prot::Exec;
  return p;
}

// Map one PT_LOAD segment of the file into exec_as: [vaddr, vaddr + memsz)
// shows file bytes [off, off + filesz), then zeros. Offset and address must
// share their place in a page (as every linker lays them out), so that file
// pages map whole.
Result<void> map_segment(mm::AddressSpace &as, Inode *ip, const ProgramHeader &ph, const char *name) {
  if (ph.memsz < ph.filesz || ph.vaddr + ph.memsz < ph.vaddr) return Error::Invalid;
  if (ph.vaddr % mm::PAGE_SIZE != 0 || ph.off % mm::PAGE_SIZE != 0) return Error::Invalid;
  if (ph.vaddr + ph.memsz > mm::USER_TOP || ph.off + ph.filesz < ph.off) return Error::Invalid;
  if (ph.memsz == 0) return {};
  mm::Mapping m;
  m.start = mm::VirtAddr(ph.vaddr);
  m.end = mm::VirtAddr(mm::page_round_up(ph.vaddr + ph.memsz));
  m.prot = prot_of(ph);
  m.kind = (ph.flags & PF_X) ? mm::MapKind::Text : mm::MapKind::Data;
  m.object = &ip->object;
  m.pgoff = ph.off / mm::PAGE_SIZE;
  m.data_end = ph.off + ph.filesz;
  m.denies_write = true;
  safestrcpy(m.name, name, sizeof m.name);
  TRY(as.map(m));
  return {};
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

// The program's headers, read with the inode locked (through the page
// cache: the text's first page is then already cached).
bool read_headers(Inode *ip, ElfHeader *elf, ProgramHeader *phs, uint32 *nph) {
  *nph = 0;
  if (ilock(ip).is_error()) return false;
  bool ok = ip->type == T_FILE &&
            readi(ip, false, reinterpret_cast<uint64>(elf), 0, sizeof *elf) == sizeof *elf &&
            elf->magic == ELF_MAGIC && elf->machine == EM_RISCV && elf->phentsize == sizeof(ProgramHeader) &&
            elf->phnum <= MAX_SEGMENTS;
  *nph = 0;
  for (uint32 i = 0; ok && i < elf->phnum; i++) {
    ProgramHeader ph;
    uint64 off = elf->phoff + i * sizeof ph;
    ok = readi(ip, false, reinterpret_cast<uint64>(&ph), static_cast<uint>(off), sizeof ph) == sizeof ph;
    // A segment's file bytes must be in the file: they are paged in later,
    // when it is too late to fail exec.
    if (ok && ph.type == PT_LOAD) {
      ok = ph.off + ph.filesz >= ph.off && ph.off + ph.filesz <= ip->size;
      phs[(*nph)++] = ph;
    }
  }
  iunlock(ip);
  return ok && *nph > 0;
}

} // namespace

int exec(const char *path, char **argv) {
  Proc *p = myproc();
  if (begin_op().is_error()) return -1;
  Inode *ip = namei(path);
  end_op();
  if (!ip) return -1;

  ElfHeader elf;
  ProgramHeader phs[MAX_SEGMENTS];
  uint32 nph = 0;
  bool ok = read_headers(ip, &elf, phs, &nph);
  uint64 entry = elf.entry, sp = 0, argc = 0;

  const char *last = path;
  for (const char *s = path; *s; s++)
    if (*s == '/') last = s + 1;

  // The inode lock is not held from here on: the address space's lock
  // comes first (proc.h's lock order).
  SleepGuard g(p->vm_lock);
  mm::AddressSpace &as = p->exec_as;
  if (ok) ok = as.init().ok();
  uint64 top = 0;
  for (uint32 i = 0; ok && i < nph; i++) {
    ok = map_segment(as, ip, phs[i], last).ok();
    if (phs[i].vaddr + phs[i].memsz > top) top = phs[i].vaddr + phs[i].memsz;
  }
  if (ok && top == 0) ok = false;
  if (ok) {
    // Guard page, then the stack (demand zero), then the (empty) heap.
    uint64 stack_base = mm::page_round_up(top) + mm::PAGE_SIZE;
    uint64 stack_top = stack_base + USERSTACK * mm::PAGE_SIZE;
    mm::Mapping stack;
    stack.start = mm::VirtAddr(stack_base);
    stack.end = mm::VirtAddr(stack_top);
    stack.prot = mm::prot::Read | mm::prot::Write;
    stack.kind = mm::MapKind::Stack;
    ok = stack_top <= mm::USER_TOP && as.map(stack).ok();
    if (ok) {
      as.set_heap_start(stack_top);
      sp = push_args(as, stack_top, stack_base, argv, &argc);
      ok = sp != 0;
    }
  }

  if (!ok) {
    as.destroy();
  } else {
    // Commit: the new image becomes the process's; the old one is released
    // (its shared mappings written back: that may sleep, under vm_lock).
    p->as.swap(as);
    csr_write(satp, p->as.page_table().satp());
    riscv::flush_all();
    as.destroy();
  }
  // The mappings hold the inode now; this reference can go.
  iput_op(ip);
  if (!ok) return -1;

  safestrcpy(p->name, last, sizeof p->name);

  p->trapframe.epc = entry;
  p->trapframe.sp = sp;
  p->trapframe.a1 = sp;          // argv
  return static_cast<int>(argc); // lands in a0: main(argc, argv)
}

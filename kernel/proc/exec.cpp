// exec: replace the current process's image with a program from the file
// system. The new image is built in p->exec_as while the old one keeps
// running; only when everything is in place does it replace p->as, so a
// failed exec returns its error (-1 to the user) to an intact caller.
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

// The new stack as push_args leaves it.
struct UserStack {
  uint64 sp; // also argv's address
  uint64 argc;
};

// Copy argv onto the new stack: the strings, then the pointer array.
// Errors: TooBig (more than MAXARG strings, or more than the stack holds),
// those of copy_to_user.
Result<UserStack> push_args(mm::AddressSpace &as, uint64 sp, uint64 stack_base, char **argv) {
  uint64 ustack[MAXARG + 1];
  uint64 argc = 0;
  for (; argv[argc]; argc++) {
    if (argc >= MAXARG) return Error::TooBig;
    uint64 len = strlen(argv[argc]) + 1;
    sp = (sp - len) & ~15UL; // the RISC-V ABI wants sp 16-byte aligned
    if (sp < stack_base) return Error::TooBig;
    TRY(mm::copy_to_user(as, mm::VirtAddr(sp), argv[argc], len));
    ustack[argc] = sp;
  }
  ustack[argc] = 0;
  sp = (sp - (argc + 1) * sizeof(uint64)) & ~15UL;
  if (sp < stack_base) return Error::TooBig;
  TRY(mm::copy_to_user(as, mm::VirtAddr(sp), ustack, (argc + 1) * sizeof(uint64)));
  return UserStack{sp, argc};
}

// What exec needs of the program's headers.
struct Program {
  uint64 entry = 0;
  ProgramHeader loads[MAX_SEGMENTS]; // the PT_LOAD segments
  uint32 nloads = 0;
};

// Read len bytes at off of the locked ip into kernel memory: all of them,
// or the program is cut short (Invalid).
Result<void> read_exact(Inode *ip, uint off, void *dst, uint len) {
  uint got = TRY(readi(ip, false, reinterpret_cast<uint64>(dst), off, len));
  if (got != len) return Error::Invalid;
  return {};
}

// Read and check the program's headers; the caller holds ip's lock. They
// come through the page cache, so the text's first page is then cached.
// Errors: Invalid (not a RISC-V ELF program cowix can run), those of readi.
Result<void> read_program(Inode *ip, Program *prog) {
  if (ip->type != T_FILE) return Error::Invalid;
  ElfHeader elf;
  TRY(read_exact(ip, 0, &elf, sizeof elf));
  if (elf.magic != ELF_MAGIC || elf.machine != EM_RISCV || elf.phentsize != sizeof(ProgramHeader) ||
      elf.phnum > MAX_SEGMENTS)
    return Error::Invalid;
  prog->entry = elf.entry;
  for (uint32 i = 0; i < elf.phnum; i++) {
    ProgramHeader ph;
    TRY(read_exact(ip, static_cast<uint>(elf.phoff + i * sizeof ph), &ph, sizeof ph));
    if (ph.type != PT_LOAD) continue;
    // A segment's file bytes must be in the file: they are paged in later,
    // when it is too late to fail exec.
    if (ph.off + ph.filesz < ph.off || ph.off + ph.filesz > ip->size) return Error::Invalid;
    prog->loads[prog->nloads++] = ph;
  }
  if (prog->nloads == 0) return Error::Invalid;
  return {};
}

// Build the program's image in as (empty; the caller holds vm_lock): its
// segments, a guard page, the stack with argv on it, the empty heap.
Result<UserStack> build_image(mm::AddressSpace &as, Inode *ip, const Program &prog, const char *name,
                              char **argv) {
  TRY(as.init());
  uint64 top = 0;
  for (uint32 i = 0; i < prog.nloads; i++) {
    const ProgramHeader &ph = prog.loads[i];
    TRY(map_segment(as, ip, ph, name));
    if (ph.vaddr + ph.memsz > top) top = ph.vaddr + ph.memsz;
  }
  if (top == 0) return Error::Invalid; // nothing but empty segments

  // Guard page, then the stack (demand zero), then the (empty) heap.
  uint64 stack_base = mm::page_round_up(top) + mm::PAGE_SIZE;
  uint64 stack_top = stack_base + USERSTACK * mm::PAGE_SIZE;
  if (stack_top > mm::USER_TOP) return Error::TooBig;
  mm::Mapping stack;
  stack.start = mm::VirtAddr(stack_base);
  stack.end = mm::VirtAddr(stack_top);
  stack.prot = mm::prot::Read | mm::prot::Write;
  stack.kind = mm::MapKind::Stack;
  TRY(as.map(stack));
  as.set_heap_start(stack_top);
  return push_args(as, stack_top, stack_base, argv);
}

} // namespace

Result<uint64> exec(const char *path, char **argv) {
  Proc *p = myproc();
  TRY(begin_op());
  auto found = namei(path);
  end_op();
  Inode *ip = TRY(found);

  Program prog;
  auto r = ilock(ip);
  if (r.ok()) {
    r = read_program(ip, &prog);
    iunlock(ip);
  }
  if (r.is_error()) {
    iput_op(ip);
    return r.error();
  }

  const char *last = path;
  for (const char *s = path; *s; s++)
    if (*s == '/') last = s + 1;

  // The inode lock is not held from here on: the address space's lock
  // comes first (proc.h's lock order).
  SleepGuard g(p->vm_lock);
  mm::AddressSpace &as = p->exec_as;
  auto stack = build_image(as, ip, prog, last, argv);
  if (stack.ok()) {
    // Commit: the new image becomes the process's; the old one is released
    // (its shared mappings written back: that may sleep, under vm_lock).
    p->as.swap(as);
    load_satp(p->as.page_table().satp());
    riscv::flush_all();
  }
  as.destroy(); // the old image, or the new one that failed part way
  // The mappings hold the inode now; this reference can go.
  iput_op(ip);
  UserStack st = TRY(stack);

  safestrcpy(p->name, last, sizeof p->name);

  p->trapframe.epc = prog.entry;
  p->trapframe.sp = st.sp;
  p->trapframe.a1 = st.sp; // argv
  return st.argc;          // lands in a0: main(argc, argv)
}

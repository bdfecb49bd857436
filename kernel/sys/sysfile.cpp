// File system calls: argument checking, then the fs/ layers do the work.
//
// Every user-supplied value is checked here: a bad descriptor, pointer or
// path makes the call return -1, never a kernel panic.

#include "fs/file.h"
#include "fs/fs.h"
#include "fs/log.h"
#include "fs/pipe.h"
#include "kernel/fcntl.h"
#include "kernel/param.h"
#include "kernel/stat.h"
#include "lib/print.h"
#include "lib/string.h"
#include "mm/addr.h"
#include "mm/frame.h"
#include "mm/object.h"
#include "proc/proc.h"
#include "sys/syscall.h"

namespace {

constexpr uint64 ERR = static_cast<uint64>(-1);

// The open File for descriptor argument n, or nullptr.
File *argfd(int n, int *pfd = nullptr) {
  int fd = argint(n);
  if (fd < 0 || fd >= NOFILE) return nullptr;
  File *f = myproc()->ofile[fd];
  if (f != nullptr && pfd != nullptr) *pfd = fd;
  return f;
}

// Give f the lowest free descriptor of the current process: the descriptor,
// or -1 if all are in use.
int fdalloc(File *f) {
  Proc *p = myproc();
  for (int fd = 0; fd < NOFILE; fd++) {
    if (p->ofile[fd] == nullptr) {
      p->ofile[fd] = f;
      return fd;
    }
  }
  return -1;
}

// A directory is empty when it holds nothing but "." and "..", the first two
// entries.
bool isdirempty(Inode *dp) {
  dirent de;
  for (uint off = 2 * sizeof(de); off < dp->size; off += sizeof(de)) {
    if (readi(dp, false, reinterpret_cast<uint64>(&de), off, sizeof(de)) != sizeof(de))
      return false; // unreadable: treat as not empty, refuse to remove it
    if (de.inum != 0) return false;
  }
  return true;
}

// Create path as a new inode of the given type (for T_FILE, opening an
// existing file or device is fine). Returns it locked and referenced, or
// nullptr. Runs inside a transaction.
Inode *create(const char *path, short type, short major, short minor) {
  char name[DIRSIZ];
  Inode *dp = nameiparent(path, name);
  if (dp == nullptr) return nullptr;
  if (ilock(dp).is_error()) {
    iput(dp);
    return nullptr;
  }
  if (dp->nlink == 0) { // removed (a process's cwd): nothing can be created in it
    iunlockput(dp);
    return nullptr;
  }

  if (Inode *ip = dirlookup(dp, name, nullptr)) {
    iunlockput(dp);
    if (ilock(ip).is_error()) {
      iput(ip);
      return nullptr;
    }
    if (type == T_FILE && (ip->type == T_FILE || ip->type == T_DEVICE)) return ip;
    iunlockput(ip);
    return nullptr;
  }

  Inode *ip = ialloc(dp->dev, type);
  if (ip == nullptr) {
    iunlockput(dp);
    return nullptr;
  }
  // ialloc has just logged the inode's block, which stays pinned in the
  // cache: this fails only after the log has aborted (log.h).
  if (ilock(ip).is_error()) {
    iput(ip);
    iunlockput(dp);
    return nullptr;
  }
  ip->major = major;
  ip->minor = minor;
  ip->nlink = 1;
  iupdate(ip);

  bool ok = true;
  if (type == T_DIR) {
    // "." and "..". The link "." does not count in ip->nlink: a directory
    // must not keep itself alive.
    ok = dirlink(ip, ".", ip->inum) == 0 && dirlink(ip, "..", dp->inum) == 0;
  }
  ok = ok && dirlink(dp, name, ip->inum) == 0;
  if (!ok) {
    // Undo: with nlink 0 the last iput frees the inode and its blocks.
    ip->nlink = 0;
    iupdate(ip);
    iunlockput(ip);
    iunlockput(dp);
    return nullptr;
  }

  if (type == T_DIR) {
    dp->nlink++; // for the new directory's ".."
    iupdate(dp);
  }
  iunlockput(dp);
  return ip;
}

// Fetch the path argument n: true on success.
bool argpath(int n, char path[MAXPATH]) { return argstr(n, path, MAXPATH) >= 0; }

// sys_exec's argument strings, one kernel frame each. The destructor gives
// them back whatever path sys_exec leaves by.
class ExecArgs {
public:
  ExecArgs() = default;
  ExecArgs(const ExecArgs &) = delete;
  ExecArgs &operator=(const ExecArgs &) = delete;
  ~ExecArgs() {
    for (int i = 0; i < count_; i++) mm::frames.unref(mm::ptr_to_phys(argv_[i]));
  }

  // Copy the NULL-terminated user array of string pointers at uargv.
  bool fetch(uint64 uargv) {
    for (int i = 0;; i++) {
      if (i >= MAXARG) return false; // too many arguments
      uint64 uarg;
      if (fetchaddr(uargv + sizeof(uint64) * static_cast<uint64>(i), &uarg) < 0) return false;
      if (uarg == 0) return true; // argv_[i] is already nullptr
      auto frame = mm::frames.alloc(mm::FrameKind::Kernel);
      if (frame.is_error()) return false;
      argv_[i] = mm::phys_to_ptr<char>(frame.value());
      count_ = i + 1;
      if (fetchstr(uarg, argv_[i], static_cast<int>(mm::PAGE_SIZE)) < 0) return false;
    }
  }

  char **argv() { return argv_; }

private:
  char *argv_[MAXARG + 1] = {}; // NULL-terminated
  int count_ = 0;               // frames held
};

} // namespace

uint64 sys_dup() {
  File *f = argfd(0);
  if (f == nullptr) return ERR;
  int fd = fdalloc(f);
  if (fd < 0) return ERR;
  filedup(f);
  return static_cast<uint64>(fd);
}

uint64 sys_read() {
  uint64 addr = argaddr(1);
  int n = argint(2);
  File *f = argfd(0);
  if (f == nullptr || n < 0) return ERR;
  return static_cast<uint64>(static_cast<long>(fileread(f, addr, n)));
}

uint64 sys_write() {
  uint64 addr = argaddr(1);
  int n = argint(2);
  File *f = argfd(0);
  if (f == nullptr || n < 0) return ERR;
  return static_cast<uint64>(static_cast<long>(filewrite(f, addr, n)));
}

uint64 sys_close() {
  int fd;
  File *f = argfd(0, &fd);
  if (f == nullptr) return ERR;
  myproc()->ofile[fd] = nullptr;
  fileclose(f);
  return 0;
}

uint64 sys_fstat() {
  uint64 st = argaddr(1);
  File *f = argfd(0);
  if (f == nullptr) return ERR;
  return static_cast<uint64>(static_cast<long>(filestat(f, st)));
}

// Make new the name of the file old names (a hard link).
uint64 sys_link() {
  char old[MAXPATH], new_[MAXPATH], name[DIRSIZ];
  if (!argpath(0, old) || !argpath(1, new_)) return ERR;

  if (begin_op().is_error()) return ERR;
  Inode *ip = namei(old);
  if (ip == nullptr) {
    end_op();
    return ERR;
  }
  if (ilock(ip).is_error()) {
    iput(ip);
    end_op();
    return ERR;
  }
  if (ip->type == T_DIR) { // no links to directories: the tree stays a tree
    iunlockput(ip);
    end_op();
    return ERR;
  }
  // Count the link before making it: a crash in between leaves a too-high
  // count (a leak), never a too-low one (a file freed while still named).
  ip->nlink++;
  iupdate(ip);
  iunlock(ip);

  Inode *dp = nameiparent(new_, name);
  bool linked = false;
  if (dp != nullptr) {
    if (ilock(dp).is_error()) {
      iput(dp);
    } else {
      // A link cannot cross devices.
      linked = dp->dev == ip->dev && dirlink(dp, name, ip->inum) == 0;
      iunlockput(dp);
    }
  }
  if (!linked) {
    (void)ilock(ip); // valid (locked above): no disk read
    ip->nlink--;
    iupdate(ip);
    iunlockput(ip);
    end_op();
    return ERR;
  }
  iput(ip);
  end_op();
  return 0;
}

uint64 sys_unlink() {
  char path[MAXPATH], name[DIRSIZ];
  if (!argpath(0, path)) return ERR;

  if (begin_op().is_error()) return ERR;
  Inode *dp = nameiparent(path, name);
  if (dp == nullptr) {
    end_op();
    return ERR;
  }
  if (ilock(dp).is_error()) {
    iput(dp);
    end_op();
    return ERR;
  }

  // Never remove "." or "..": the directory tree would lose its shape.
  uint off;
  Inode *ip = nullptr;
  if (namecmp(name, ".") == 0 || namecmp(name, "..") == 0 || (ip = dirlookup(dp, name, &off)) == nullptr) {
    iunlockput(dp);
    end_op();
    return ERR;
  }
  if (ilock(ip).is_error()) {
    iput(ip);
    iunlockput(dp);
    end_op();
    return ERR;
  }
  if (ip->nlink < 1) panic("unlink: inode %u has no links", ip->inum);
  if (ip->type == T_DIR && !isdirempty(ip)) {
    iunlockput(ip);
    iunlockput(dp);
    end_op();
    return ERR;
  }

  dirent de;
  memset(&de, 0, sizeof(de));
  if (writei(dp, false, reinterpret_cast<uint64>(&de), off, sizeof(de)) != sizeof(de)) {
    // A disk error (the entry's block was just read, so this is rare):
    // nothing has changed yet.
    iunlockput(ip);
    iunlockput(dp);
    end_op();
    return ERR;
  }
  if (ip->type == T_DIR) {
    dp->nlink--; // the removed directory's ".." named dp
    iupdate(dp);
  }
  iunlockput(dp);

  ip->nlink--;
  iupdate(ip);
  if (ip->type == T_DIR) {
    // The directory may live on as some process's cwd. Empty it now, as
    // Linux does: its "." and ".." go (the parent no longer counts the
    // ".." link, and may itself be removed and reused), so it reads as
    // empty and path lookups in it find nothing but "." (namex).
    // On a disk error some blocks stay until the inode is freed.
    (void)itrunc(ip);
  }
  iunlockput(ip); // frees the inode if nothing else names or holds it
  end_op();
  return 0;
}

uint64 sys_open() {
  char path[MAXPATH];
  int omode = argint(1);
  if (!argpath(0, path)) return ERR;

  if (begin_op().is_error()) return ERR;
  Inode *ip;
  if (omode & O_CREATE) {
    ip = create(path, T_FILE, 0, 0);
    if (ip == nullptr) {
      end_op();
      return ERR;
    }
  } else {
    ip = namei(path);
    if (ip == nullptr) {
      end_op();
      return ERR;
    }
    if (ilock(ip).is_error()) {
      iput(ip);
      end_op();
      return ERR;
    }
    if (ip->type == T_DIR && omode != O_RDONLY) { // directories are read-only
      iunlockput(ip);
      end_op();
      return ERR;
    }
  }

  if (ip->type == T_DEVICE && (ip->major < 0 || ip->major >= NDEV)) {
    iunlockput(ip);
    end_op();
    return ERR;
  }
  // A program some process is running cannot be written or truncated
  // (Linux's ETXTBSY): its pages are mapped as text and data.
  bool writes = (omode & (O_WRONLY | O_RDWR)) || (omode & O_TRUNC);
  if (ip->type == T_FILE && writes && ip->object.deny_write.load() > 0) {
    iunlockput(ip);
    end_op();
    return ERR;
  }

  // Truncate before a descriptor exists, so that a disk error fails open()
  // with nothing to undo (the blocks freed so far stay freed).
  if ((omode & O_TRUNC) && ip->type == T_FILE && itrunc(ip).is_error()) {
    iunlockput(ip);
    end_op();
    return ERR;
  }

  File *f = filealloc();
  int fd = f ? fdalloc(f) : -1;
  if (fd < 0) {
    if (f) fileclose(f);
    iunlockput(ip);
    end_op();
    return ERR;
  }

  if (ip->type == T_DEVICE) {
    f->type = File::Type::Device;
    f->major = ip->major;
  } else {
    f->type = File::Type::Inode;
    f->off = 0;
  }
  f->ip = ip;
  {
    const char *last = path;
    for (const char *c = path; *c; c++)
      if (*c == '/') last = c + 1;
    safestrcpy(f->name, last, sizeof f->name);
  }
  f->readable = !(omode & O_WRONLY);
  f->writable = (omode & O_WRONLY) || (omode & O_RDWR);

  iunlock(ip);
  end_op();
  return static_cast<uint64>(fd);
}

namespace {
// mkdir and mknod: create the node in one transaction and let it go.
uint64 make_node(const char *path, short type, short major, short minor) {
  if (begin_op().is_error()) return ERR;
  Inode *ip = create(path, type, major, minor);
  if (ip) iunlockput(ip);
  end_op();
  return ip ? 0 : ERR;
}
} // namespace

uint64 sys_mkdir() {
  char path[MAXPATH];
  if (!argpath(0, path)) return ERR;
  return make_node(path, T_DIR, 0, 0);
}

uint64 sys_mknod() {
  char path[MAXPATH];
  short major = static_cast<short>(argint(1));
  short minor = static_cast<short>(argint(2));
  if (!argpath(0, path)) return ERR;
  return make_node(path, T_DEVICE, major, minor);
}

uint64 sys_chdir() {
  char path[MAXPATH];
  Proc *p = myproc();
  if (!argpath(0, path)) return ERR;

  if (begin_op().is_error()) return ERR;
  Inode *ip = namei(path);
  if (ip == nullptr) {
    end_op();
    return ERR;
  }
  if (ilock(ip).is_error()) {
    iput(ip);
    end_op();
    return ERR;
  }
  if (ip->type != T_DIR) {
    iunlockput(ip);
    end_op();
    return ERR;
  }
  iunlock(ip);
  iput(p->cwd);
  end_op();
  p->cwd = ip;
  return 0;
}

uint64 sys_exec() {
  char path[MAXPATH];
  uint64 uargv = argaddr(1);
  if (!argpath(0, path)) return ERR;

  ExecArgs args;
  if (!args.fetch(uargv)) return ERR;
  return static_cast<uint64>(static_cast<long>(exec(path, args.argv())));
}

uint64 sys_pipe() {
  uint64 fdarray = argaddr(0); // user pointer to int[2]
  Proc *p = myproc();

  File *rf, *wf;
  if (pipealloc(&rf, &wf) < 0) return ERR;

  int fd0 = fdalloc(rf);
  int fd1 = fd0 >= 0 ? fdalloc(wf) : -1;
  if (fd1 < 0 || copyout(p, fdarray, &fd0, sizeof(fd0)) < 0 ||
      copyout(p, fdarray + sizeof(fd0), &fd1, sizeof(fd1)) < 0) {
    if (fd0 >= 0) p->ofile[fd0] = nullptr;
    if (fd1 >= 0) p->ofile[fd1] = nullptr;
    fileclose(rf);
    fileclose(wf);
    return ERR;
  }
  return 0;
}

// ---------------------------------------------------------------- mmap

namespace {

uint32 mm_prot(int prot) {
  uint32 p = 0;
  if (prot & PROT_READ) p |= mm::prot::Read;
  if (prot & PROT_WRITE) p |= mm::prot::Write;
  if (prot & PROT_EXEC) p |= mm::prot::Exec;
  return p;
}

// [addr, addr + len) as munmap and mprotect take it: addr page aligned, len
// not 0, rounded up to pages, all below MAXVA.
bool user_range(uint64 addr, uint64 len, uint64 *rounded) {
  if (addr % mm::PAGE_SIZE || len == 0 || len >= mm::USER_TOP || addr >= mm::USER_TOP) return false;
  *rounded = mm::page_round_up(len);
  return *rounded <= mm::USER_TOP - addr;
}

} // namespace

// void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
uint64 sys_mmap() {
  uint64 addr = argaddr(0), len = argaddr(1);
  int prot = argint(2), flags = argint(3);
  long off = static_cast<long>(argaddr(5));
  bool shared = flags & MAP_SHARED;
  if (!(flags & (MAP_SHARED | MAP_PRIVATE))) return ERR; // (both: Linux's MAP_SHARED_VALIDATE)
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) return ERR;
  if (len == 0 || len >= mm::USER_TOP) return ERR;
  len = mm::page_round_up(len);
  if ((flags & MAP_FIXED) && (addr % mm::PAGE_SIZE || addr >= mm::USER_TOP || len > mm::USER_TOP - addr))
    return ERR;

  mm::AddressSpace::MapRequest req;
  req.addr = mm::VirtAddr(addr);
  req.len = len;
  req.prot = mm_prot(prot);
  req.shared = shared;
  req.fixed = flags & MAP_FIXED;
  const char *name = "";
  if (flags & MAP_ANONYMOUS) {
    req.kind = mm::MapKind::Anon;
    if (shared) { // shared with children after fork: pages need an object
      auto o = mm::VmObject::create_anonymous();
      if (o.is_error()) return ERR;
      req.object = o.value();
    }
  } else {
    if (off < 0 || off % static_cast<long>(mm::PAGE_SIZE)) return ERR;
    File *f = argfd(4);
    if (!f || f->type != File::Type::Inode || !f->readable) return ERR;
    if (f->ip->type != T_FILE) return ERR; // directories and devices cannot be mapped
    if (shared && !f->writable) {
      if (prot & PROT_WRITE) return ERR;
      req.max_prot = mm::prot::Read | mm::prot::Exec; // nor may mprotect add it
    }
    req.kind = mm::MapKind::File;
    req.object = &f->ip->object;
    req.pgoff = static_cast<uint64>(off) / mm::PAGE_SIZE;
    name = f->name;
  }

  Proc *p = myproc();
  Result<mm::VirtAddr> r = Error::Invalid;
  {
    SleepGuard g(p->vm_lock);
    r = p->as.mmap(req);
    if (r.ok()) safestrcpy(p->as.find_region(r.value().value)->name, name, sizeof(mm::Mapping::name));
  }
  if (req.object && req.object->anonymous() && req.object->refs() == 0) {
    req.object->ref(); // nobody took it: let the last reference free it
    req.object->unref();
  }
  return r.ok() ? r.value().value : ERR;
}

// int munmap(void *addr, size_t len)
uint64 sys_munmap() {
  uint64 addr = argaddr(0), len;
  if (!user_range(addr, argaddr(1), &len)) return ERR;
  Proc *p = myproc();
  SleepGuard g(p->vm_lock);
  return p->as.munmap(mm::VirtAddr(addr), len).ok() ? 0 : ERR;
}

// int mprotect(void *addr, size_t len, int prot)
uint64 sys_mprotect() {
  uint64 addr = argaddr(0), len;
  int prot = argint(2);
  if (!user_range(addr, argaddr(1), &len)) return ERR;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) return ERR;
  Proc *p = myproc();
  SleepGuard g(p->vm_lock);
  return p->as.mprotect(mm::VirtAddr(addr), len, mm_prot(prot)).ok() ? 0 : ERR;
}

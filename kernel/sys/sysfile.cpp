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
#include "mm/reclaim.h"
#include "proc/proc.h"
#include "sys/syscall.h"

namespace {

constexpr uint64 ERR = static_cast<uint64>(-1);

// The system call boundary: a Result becomes what the user sees, its value
// (0 for Result<void>) or -1. xv6 has no errno, so the error itself goes no
// further.
template <typename T> uint64 user_value(const Result<T> &r) {
  return r.ok() ? static_cast<uint64>(r.value()) : ERR;
}
uint64 user_value(const Result<void> &r) { return r.ok() ? 0 : ERR; }

// Run fs_call, a function returning a Result, as one file-system operation
// (a transaction of the log).
template <typename F> auto in_op(F fs_call) -> decltype(fs_call()) {
  TRY(begin_op());
  auto r = fs_call();
  end_op();
  return r;
}

// Fetch the path argument n: true on success.
bool argpath(int n, char path[MAXPATH]) { return argstr(n, path, MAXPATH) >= 0; }

// The calls that take a path first (unlink, open, mkdir, mknod, chdir):
// fetch it, then run fs_call(path) as one file-system operation.
template <typename F> uint64 path_op(F fs_call) {
  char path[MAXPATH];
  if (!argpath(0, path)) return ERR;
  return user_value(in_op([&] { return fs_call(path); }));
}

// The open File for descriptor argument n, or nullptr.
File *argfd(int n, int *pfd = nullptr) {
  int fd = argint(n);
  if (fd < 0 || fd >= NOFILE) return nullptr;
  File *f = myproc()->ofile[fd];
  if (f != nullptr && pfd != nullptr) *pfd = fd;
  return f;
}

// Give f the lowest free descriptor of the current process. Errors:
// NoMemory (all NOFILE are in use).
Result<int> fdalloc(File *f) {
  Proc *p = myproc();
  for (int fd = 0; fd < NOFILE; fd++) {
    if (p->ofile[fd] == nullptr) {
      p->ofile[fd] = f;
      return fd;
    }
  }
  return Error::NoMemory;
}

// A directory is empty when it holds nothing but "." and "..", the first two
// entries.
bool isdirempty(Inode *dp) {
  dirent de;
  for (uint off = 2 * sizeof(de); off < dp->size; off += sizeof(de)) {
    if (read_dirent(dp, off, &de).is_error())
      return false; // unreadable: treat as not empty, refuse to remove it
    if (de.inum != 0) return false;
  }
  return true;
}

// Allocate an inode of the given type and enter it as name in the locked
// directory dp. Returns it locked and referenced.
Result<Inode *> make_inode(Inode *dp, const char *name, short type, short major, short minor) {
  Inode *ip = TRY(ialloc(dp->dev, type));
  // ialloc has just logged the inode's block, which stays pinned in the
  // cache: this fails only after the log has aborted (log.h).
  TRY(ilock_or_put(ip));
  ip->major = major;
  ip->minor = minor;
  ip->nlink = 1;
  iupdate(ip);

  Result<void> r;
  if (type == T_DIR) {
    // "." and "..". The link "." does not count in ip->nlink: a directory
    // must not keep itself alive.
    r = dirlink(ip, ".", ip->inum);
    if (r.ok()) r = dirlink(ip, "..", dp->inum);
  }
  if (r.ok()) r = dirlink(dp, name, ip->inum);
  if (r.is_error()) {
    // Undo: with nlink 0 the last iput frees the inode and its blocks.
    ip->nlink = 0;
    iupdate(ip);
    iunlockput(ip);
    return r.error();
  }

  if (type == T_DIR) {
    dp->nlink++; // for the new directory's ".."
    iupdate(dp);
  }
  return ip;
}

// Create path as a new inode of the given type (for T_FILE, opening an
// existing file or device is fine). Returns it locked and referenced. Runs
// inside a transaction.
Result<Inode *> create(const char *path, short type, short major, short minor) {
  char name[DIRSIZ];
  Inode *dp = TRY(nameiparent(path, name));
  TRY(ilock_or_put(dp));
  if (dp->nlink == 0) { // removed (a process's cwd): nothing can be created in it
    iunlockput(dp);
    return Error::NotFound;
  }

  // Only a name found is opened; a lookup that failed otherwise (a disk
  // error, a full inode table) counts as "not there".
  if (auto found = dirlookup(dp, name, nullptr); found.ok()) {
    // Unlock dp before locking ip: name may be ".", and ip then is dp.
    iunlockput(dp);
    Inode *ip = found.value();
    TRY(ilock_or_put(ip));
    if (type == T_FILE && (ip->type == T_FILE || ip->type == T_DEVICE)) return ip;
    iunlockput(ip);
    return Error::Exists;
  }

  auto ip = make_inode(dp, name, type, major, minor);
  iunlockput(dp);
  return ip;
}

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

// Enter ip (referenced, unlocked) under path, a new name.
Result<void> add_link(const char *path, Inode *ip) {
  char name[DIRSIZ];
  Inode *dp = TRY(nameiparent(path, name));
  TRY(ilock_or_put(dp));
  Result<void> r = Error::Invalid; // a link cannot cross devices
  if (dp->dev == ip->dev) r = dirlink(dp, name, ip->inum);
  iunlockput(dp);
  return r;
}

// Make new_ a name of the file old names (a hard link).
Result<void> make_link(const char *old, const char *new_) {
  Inode *ip = TRY(namei(old));
  TRY(ilock_or_put(ip));
  if (ip->type == T_DIR) { // no links to directories: the tree stays a tree
    iunlockput(ip);
    return Error::Invalid;
  }
  // Count the link before making it: a crash in between leaves a too-high
  // count (a leak), never a too-low one (a file freed while still named).
  ip->nlink++;
  iupdate(ip);
  iunlock(ip);

  auto r = add_link(new_, ip);
  if (r.is_error()) {
    (void)ilock(ip); // valid (locked above): no disk read
    ip->nlink--;
    iupdate(ip);
    iunlock(ip);
  }
  iput(ip);
  return r;
}

// The inode that name names in the locked directory dp, locked, if unlink
// may remove that entry (its offset in *off).
Result<Inode *> unlink_target(Inode *dp, const char *name, uint *off) {
  // Never remove "." or "..": the directory tree would lose its shape.
  if (namecmp(name, ".") == 0 || namecmp(name, "..") == 0) return Error::Invalid;
  Inode *ip = TRY(dirlookup(dp, name, off));
  TRY(ilock_or_put(ip));
  if (ip->nlink < 1) panic("unlink: inode %u has no links", ip->inum);
  if (ip->type == T_DIR && !isdirempty(ip)) {
    iunlockput(ip);
    return Error::Exists; // (POSIX allows EEXIST for a directory not empty)
  }
  return ip;
}

// Remove the name path (unlink); the file goes with its last name and
// reference.
Result<void> remove_link(const char *path) {
  char name[DIRSIZ];
  Inode *dp = TRY(nameiparent(path, name));
  TRY(ilock_or_put(dp));
  uint off;
  auto target = unlink_target(dp, name, &off);
  if (target.is_error()) {
    iunlockput(dp);
    return target.error();
  }
  Inode *ip = target.value();

  dirent de;
  memset(&de, 0, sizeof(de));
  if (auto r = write_dirent(dp, off, &de); r.is_error()) {
    // A disk error (the entry's block was just read, so this is rare):
    // nothing has changed yet.
    iunlockput(ip);
    iunlockput(dp);
    return r.error();
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
  return {};
}

// Open the locked inode ip, found or created as path, with omode: a new
// descriptor. On an error nothing is left to undo but ip's lock and
// reference.
Result<int> open_inode(Inode *ip, const char *path, int omode) {
  if (ip->type == T_DEVICE && (ip->major < 0 || ip->major >= NDEV)) return Error::Invalid;
  // A program some process is running cannot be written or truncated
  // (Linux's ETXTBSY): its pages are mapped as text and data.
  bool writes = (omode & (O_WRONLY | O_RDWR)) || (omode & O_TRUNC);
  if (ip->type == T_FILE && writes && ip->object.deny_write.load() > 0) return Error::Busy;

  // Truncate before a descriptor exists, so that a disk error fails open()
  // with nothing to undo (the blocks freed so far stay freed).
  if ((omode & O_TRUNC) && ip->type == T_FILE) TRY(itrunc(ip));

  File *f = filealloc();
  if (f == nullptr) return Error::NoMemory;
  auto fd = fdalloc(f);
  if (fd.is_error()) {
    fileclose(f);
    return fd.error();
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
  return fd;
}

Result<int> open_path(const char *path, int omode) {
  Inode *ip;
  if (omode & O_CREATE) {
    ip = TRY(create(path, T_FILE, 0, 0));
  } else {
    ip = TRY(namei(path));
    TRY(ilock_or_put(ip));
    if (ip->type == T_DIR && omode != O_RDONLY) { // directories are read-only
      iunlockput(ip);
      return Error::Invalid;
    }
  }
  auto fd = open_inode(ip, path, omode);
  if (fd.ok())
    iunlock(ip); // the File holds the reference now
  else
    iunlockput(ip);
  return fd;
}

// mkdir and mknod: create the node and let it go.
Result<void> make_node(const char *path, short type, short major, short minor) {
  Inode *ip = TRY(create(path, type, major, minor));
  iunlockput(ip);
  return {};
}

Result<void> change_dir(const char *path) {
  Inode *ip = TRY(namei(path));
  TRY(ilock_or_put(ip));
  if (ip->type != T_DIR) {
    iunlockput(ip);
    return Error::Invalid;
  }
  iunlock(ip);
  Proc *p = myproc();
  iput(p->cwd);
  p->cwd = ip;
  return {};
}

// read and write (fd, user address, count): the bytes moved, or -1.
uint64 transfer(Result<uint> (*file_call)(File *f, uint64 addr, int n)) {
  uint64 addr = argaddr(1);
  int n = argint(2);
  File *f = argfd(0);
  if (f == nullptr || n < 0) return ERR;
  return user_value(file_call(f, addr, n));
}

} // namespace

uint64 sys_dup() {
  File *f = argfd(0);
  if (f == nullptr) return ERR;
  auto fd = fdalloc(f);
  if (fd.ok()) filedup(f);
  return user_value(fd);
}

uint64 sys_read() { return transfer(fileread); }

uint64 sys_write() { return transfer(filewrite); }

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
  return user_value(filestat(f, st));
}

uint64 sys_link() {
  char old[MAXPATH], new_[MAXPATH];
  if (!argpath(0, old) || !argpath(1, new_)) return ERR;
  return user_value(in_op([&] { return make_link(old, new_); }));
}

uint64 sys_unlink() { return path_op(remove_link); }

uint64 sys_open() {
  int omode = argint(1);
  return path_op([omode](const char *path) { return open_path(path, omode); });
}

uint64 sys_mkdir() {
  return path_op([](const char *path) { return make_node(path, T_DIR, 0, 0); });
}

uint64 sys_mknod() {
  short major = static_cast<short>(argint(1));
  short minor = static_cast<short>(argint(2));
  return path_op([major, minor](const char *path) { return make_node(path, T_DEVICE, major, minor); });
}

uint64 sys_chdir() { return path_op(change_dir); }

uint64 sys_exec() {
  char path[MAXPATH];
  uint64 uargv = argaddr(1);
  if (!argpath(0, path)) return ERR;

  ExecArgs args;
  if (!args.fetch(uargv)) return ERR;
  return user_value(exec(path, args.argv()));
}

uint64 sys_pipe() {
  uint64 fdarray = argaddr(0); // user pointer to int[2]
  Proc *p = myproc();

  File *rf, *wf;
  if (pipealloc(&rf, &wf) < 0) return ERR;

  Result<int> fd0 = fdalloc(rf), fd1 = Error::NoMemory;
  if (fd0.ok()) fd1 = fdalloc(wf);
  if (fd1.is_error() || copyout(p, fdarray, &fd0.value(), sizeof(int)) < 0 ||
      copyout(p, fdarray + sizeof(int), &fd1.value(), sizeof(int)) < 0) {
    if (fd0.ok()) p->ofile[fd0.value()] = nullptr;
    if (fd1.ok()) p->ofile[fd1.value()] = nullptr;
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
      auto o = mm::reclaim::retrying([] { return mm::VmObject::create_anonymous(); });
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
  r = mm::reclaim::retrying([&]() -> Result<mm::VirtAddr> {
    SleepGuard g(p->vm_lock);
    auto m = p->as.mmap(req);
    if (m.ok()) safestrcpy(p->as.find_region(m.value().value)->name, name, sizeof(mm::Mapping::name));
    return m;
  });
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
  return user_value(p->as.munmap(mm::VirtAddr(addr), len));
}

// int mprotect(void *addr, size_t len, int prot)
uint64 sys_mprotect() {
  uint64 addr = argaddr(0), len;
  int prot = argint(2);
  if (!user_range(addr, argaddr(1), &len)) return ERR;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) return ERR;
  Proc *p = myproc();
  SleepGuard g(p->vm_lock);
  return user_value(p->as.mprotect(mm::VirtAddr(addr), len, mm_prot(prot)));
}

// Open files and the device switch (see file.h).

#include "fs/file.h"

#include "fs/fs.h"
#include "fs/log.h"
#include "fs/pipe.h"
#include "kernel/stat.h"
#include "lib/print.h"
#include "lib/spinlock.h"
#include "mm/frame.h"
#include "proc/proc.h"

Devsw devsw[NDEV];

namespace {

class FileTable {
public:
  File *alloc() {
    SpinGuard guard(lock_);
    for (File &f : files_) {
      if (f.ref == 0) {
        f = File{};
        f.ref = 1;
        return &f;
      }
    }
    return nullptr;
  }

  File *dup(File *f) {
    SpinGuard guard(lock_);
    if (f->ref < 1) panic("filedup: file not open");
    f->ref++;
    return f;
  }

  // Drop a reference. If it was the last, return a copy of the file (to
  // release its pipe or inode outside the spinlock) and free the entry.
  bool put(File *f, File *last) {
    SpinGuard guard(lock_);
    if (f->ref < 1) panic("fileclose: file not open");
    if (--f->ref > 0) return false;
    *last = *f;
    f->type = File::Type::None;
    return true;
  }

private:
  Spinlock lock_{"ftable"};
  File files_[NFILE];
};

FileTable ftable;

// A device's driver entry, or nullptr if the major number names none.
const Devsw *device(const File *f) {
  if (f->major < 0 || f->major >= NDEV) return nullptr;
  return &devsw[f->major];
}

// One transaction may write at most MAXOPBLOCKS blocks. A write of this many
// bytes touches at most that many: the inode, three indirect blocks (two
// singly indirect ones, where the write crosses from one to the next, and
// the doubly indirect one), two bitmap blocks (allocations may straddle a
// bitmap block boundary), and the data blocks, each possibly only partly
// written and so counted as up to two (unaligned start and end).
constexpr int MAX_WRITE_PER_OP = ((MAXOPBLOCKS - 1 - 3 - 2) / 2) * BSIZE;

} // namespace

void fileinit() {
  // The table and its lock are constant-initialised; nothing to do.
}

File *filealloc() { return ftable.alloc(); }

File *filedup(File *f) { return ftable.dup(f); }

void fileclose(File *f) {
  File last;
  if (!ftable.put(f, &last)) return;

  switch (last.type) {
  case File::Type::Pipe: pipeclose(last.pipe, last.writable); break;
  case File::Type::Inode:
  case File::Type::Device:
    // Dropping the last reference may free the inode on disk.
    iput_op(last.ip);
    break;
  case File::Type::None: break;
  }
}

int filestat(File *f, uint64 addr) {
  if (f->type != File::Type::Inode && f->type != File::Type::Device) return -1;
  struct stat st;
  if (ilock(f->ip).is_error()) return -1;
  stati(f->ip, &st);
  iunlock(f->ip);
  return copyout(myproc(), addr, &st, sizeof(st));
}

int fileread(File *f, uint64 addr, int n) {
  if (!f->readable || n < 0) return -1;

  switch (f->type) {
  case File::Type::Pipe: return piperead(f->pipe, addr, n);
  case File::Type::Device: {
    const Devsw *dev = device(f);
    if (dev == nullptr || dev->read == nullptr) return -1;
    return dev->read(true, addr, n);
  }
  case File::Type::Inode: {
    if (ilock(f->ip).is_error()) return -1;
    if (f->ip->type != T_FILE) { // a directory: through the buffer cache
      int r = readi(f->ip, true, addr, f->off, static_cast<uint>(n));
      if (r > 0) f->off += static_cast<uint>(r);
      iunlock(f->ip);
      return r;
    }
    // A file: through the page cache, with no lock held while user memory
    // is written (it may be a mapping of this file). Two processes reading
    // through one shared descriptor at once may both read the same bytes.
    uint off = f->off;
    iunlock(f->ip);
    int r = file_read(f->ip, addr, &off, static_cast<uint>(n));
    (void)ilock(f->ip); // valid (read above): no disk read, cannot fail
    if (r > 0) f->off = off;
    iunlock(f->ip);
    return r;
  }
  case File::Type::None: break;
  }
  panic("fileread: bad file type");
}

int filewrite(File *f, uint64 addr, int n) {
  if (!f->writable || n < 0) return -1;

  switch (f->type) {
  case File::Type::Pipe: return pipewrite(f->pipe, addr, n);
  case File::Type::Device: {
    const Devsw *dev = device(f);
    if (dev == nullptr || dev->write == nullptr) return -1;
    return dev->write(true, addr, n);
  }
  case File::Type::Inode: {
    // Split a large write into several transactions so none overflows the
    // log. A crash may then leave a prefix of the write on disk, as in xv6.
    // Each chunk is copied from user memory into a kernel page first, with
    // no lock held: the source may be a mapping of this very file, whose
    // fault would need the inode lock.
    auto bounce = mm::frames.alloc(mm::FrameKind::Kernel);
    if (bounce.is_error()) return -1;
    char *buf = mm::phys_to_ptr<char>(bounce.value());
    int i = 0;
    while (i < n) {
      int chunk = n - i < MAX_WRITE_PER_OP ? n - i : MAX_WRITE_PER_OP;
      if (chunk > static_cast<int>(mm::PAGE_SIZE)) chunk = static_cast<int>(mm::PAGE_SIZE); // the bounce page
      // A write of many megabytes (from a large mapping) takes a while: a
      // killed writer stops between chunks, as on Linux.
      if (killed(myproc())) break;
      if (copyin(myproc(), buf, addr + static_cast<uint64>(i), static_cast<uint64>(chunk)) < 0) break;
      if (begin_op().is_error()) break;
      if (ilock(f->ip).is_error()) {
        end_op();
        break;
      }
      int r = writei(f->ip, false, reinterpret_cast<uint64>(buf), f->off, static_cast<uint>(chunk));
      if (r > 0) f->off += static_cast<uint>(r);
      iunlock(f->ip);
      end_op();
      if (r != chunk) break; // error, or the disk is full
      i += r;
    }
    mm::frames.unref(bounce.value());
    return i == n ? n : -1;
  }
  case File::Type::None: break;
  }
  panic("filewrite: bad file type");
}

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
constexpr uint MAX_WRITE_PER_OP = ((MAXOPBLOCKS - 1 - 3 - 2) / 2) * BSIZE;

// filewrite of an inode: n bytes from user address addr, through the
// kernel page buf. A large write is split into several transactions so
// none overflows the log; a crash may then leave a prefix of the write on
// disk, as in xv6. So may an error: the chunks before it stay written (and
// the offset past them). A source that becomes unreadable partway is written
// up to the page that cannot be read, then the write fails (xv6 does the
// same, and usertests' partial_write checks that the prefix is on disk).
Result<void> write_inode(File *f, uint64 addr, uint n, char *buf) {
  uint i = 0;
  while (i < n) {
    uint chunk = n - i < MAX_WRITE_PER_OP ? n - i : MAX_WRITE_PER_OP;
    if (chunk > mm::PAGE_SIZE) chunk = static_cast<uint>(mm::PAGE_SIZE); // the bounce page
    // A write of many megabytes (from a large mapping) takes a while: a
    // killed writer stops between chunks, as on Linux.
    if (killed(myproc())) return Error::Killed;
    // Copy page by page (a chunk spans two at most), stopping at the first
    // that cannot be read.
    uint got = 0;
    bool bad = false;
    while (got < chunk && !bad) {
      uint64 at = addr + i + got;
      uint seg = static_cast<uint>(mm::PAGE_SIZE - at % mm::PAGE_SIZE);
      if (seg > chunk - got) seg = chunk - got;
      if (copyin(myproc(), buf + got, at, seg) < 0)
        bad = true;
      else
        got += seg;
    }
    if (got == 0) return Error::BadAddress;
    chunk = got;
    TRY(begin_op());
    if (auto r = ilock(f->ip); r.is_error()) {
      end_op();
      return r.error();
    }
    auto r = writei(f->ip, false, reinterpret_cast<uint64>(buf), f->off, chunk);
    if (r.ok()) f->off += r.value();
    iunlock(f->ip);
    end_op();
    uint written = TRY(r);
    if (written != chunk) return Error::NoSpace; // a short write: the disk filled (or failed)
    i += written;
    if (bad) return Error::BadAddress;
  }
  return {};
}

// Pipes and device drivers count as xv6's do: the bytes moved, or -1 for a
// failure they give no reason for (a bad address, a killed process, a pipe
// with no reader left).
Result<uint> xv6_count(int n) {
  if (n < 0) return Error::IO;
  return static_cast<uint>(n);
}

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

Result<void> filestat(File *f, uint64 addr) {
  if (f->type != File::Type::Inode && f->type != File::Type::Device) return Error::Invalid;
  struct stat st;
  TRY(ilock(f->ip));
  stati(f->ip, &st);
  iunlock(f->ip);
  if (copyout(myproc(), addr, &st, sizeof(st)) < 0) return Error::BadAddress;
  return {};
}

Result<uint> fileread(File *f, uint64 addr, int n) {
  if (!f->readable || n < 0) return Error::Invalid;

  switch (f->type) {
  case File::Type::Pipe: return xv6_count(piperead(f->pipe, addr, n));
  case File::Type::Device: {
    const Devsw *dev = device(f);
    if (dev == nullptr || dev->read == nullptr) return Error::Invalid;
    return xv6_count(dev->read(true, addr, n));
  }
  case File::Type::Inode: {
    TRY(ilock(f->ip));
    if (f->ip->type != T_FILE) { // a directory: through the buffer cache
      auto r = readi(f->ip, true, addr, f->off, static_cast<uint>(n));
      if (r.ok()) f->off += r.value();
      iunlock(f->ip);
      return r;
    }
    // A file: through the page cache, with no lock held while user memory
    // is written (it may be a mapping of this file). Two processes reading
    // through one shared descriptor at once may both read the same bytes.
    uint off = f->off;
    iunlock(f->ip);
    auto r = file_read(f->ip, addr, &off, static_cast<uint>(n));
    (void)ilock(f->ip); // valid (read above): no disk read, cannot fail
    if (r.ok()) f->off = off;
    iunlock(f->ip);
    return r;
  }
  case File::Type::None: break;
  }
  panic("fileread: bad file type");
}

Result<uint> filewrite(File *f, uint64 addr, int n) {
  if (!f->writable || n < 0) return Error::Invalid;

  switch (f->type) {
  case File::Type::Pipe: return xv6_count(pipewrite(f->pipe, addr, n));
  case File::Type::Device: {
    const Devsw *dev = device(f);
    if (dev == nullptr || dev->write == nullptr) return Error::Invalid;
    return xv6_count(dev->write(true, addr, n));
  }
  case File::Type::Inode: {
    // Each chunk is copied from user memory into a kernel page first, with
    // no lock held: the source may be a mapping of this very file, whose
    // fault would need the inode lock.
    auto bounce = mm::frames.alloc(mm::FrameKind::Kernel);
    if (bounce.is_error()) return bounce.error();
    auto r = write_inode(f, addr, static_cast<uint>(n), mm::phys_to_ptr<char>(bounce.value()));
    mm::frames.unref(bounce.value());
    TRY(r);
    return static_cast<uint>(n);
  }
  case File::Type::None: break;
  }
  panic("filewrite: bad file type");
}

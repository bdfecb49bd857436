// The buffer cache: in-memory copies of disk blocks.
//
// A Buf holds one block. At most one copy of each block is cached, so every
// process that reads a block sees the same bytes, and the Buf's sleep-lock
// serialises the processes that use it: bread() returns a locked Buf,
// brelse() unlocks it. The cache is small (NBUF) and recycles the least
// recently released buffer that nobody holds.
#pragma once

#include "kernel/param.h"
#include "lib/result.h"
#include "lib/types.h"
#include "kernel/fs.h"
#include "proc/sleeplock.h"

struct Buf {
  bool valid = false; // data holds the block's contents (read from disk)
  bool disk = false;  // a disk request for this buffer is in flight
  uint dev = 0;
  uint blockno = 0;
  Sleeplock lock{"buffer"};
  uint refcnt = 0; // holders: bget() callers, plus pins from the log
  // Links of the cache's LRU list (protected by the cache's spinlock).
  Buf *prev = nullptr;
  Buf *next = nullptr;
  alignas(8) uchar data[BSIZE];
};

void binit();
// The block `blockno` of device `dev`, locked and with valid data.
// Errors: IO (the disk read failed; nothing is held then).
Result<Buf *> bread(uint dev, uint blockno);
// Write b's data to disk now. The caller holds b's lock. Errors: IO.
Result<void> bwrite(Buf *b);
// Unlock b and give up this reference.
void brelse(Buf *b);
// Keep b in the cache even when unreferenced (the log pins blocks it has
// yet to install), and undo that.
void bpin(Buf *b);
void bunpin(Buf *b);
// bunpin() by block number (the log keeps numbers, not Bufs).
void bunpin_block(uint dev, uint blockno);
// Forget the cached contents of (dev, blockno), if cached and unheld: the
// block is about to be written around the cache (a file data block written
// by inode_write_page), so the cached copy would be stale.
void bdiscard(uint dev, uint blockno);

// A bread() result that brelse()s itself at the end of the scope. Check
// ok() before use: the read may have failed (then nothing is held).
class BufGuard {
public:
  BufGuard(uint dev, uint blockno) {
    auto r = bread(dev, blockno);
    if (r.ok()) b_ = r.value();
  }
  ~BufGuard() {
    if (b_ != nullptr) brelse(b_);
  }
  bool ok() const { return b_ != nullptr; }
  BufGuard(const BufGuard &) = delete;
  BufGuard &operator=(const BufGuard &) = delete;

  Buf *operator->() const { return b_; }
  Buf *get() const { return b_; }
  // The block's contents as an array of block numbers (indirect blocks).
  uint *words() const { return reinterpret_cast<uint *>(b_->data); }

private:
  Buf *b_ = nullptr;
};

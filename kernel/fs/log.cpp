// The write-ahead log (see log.h).
//
// On disk, the log occupies sb.nlog blocks from sb.logstart: a header block
// followed by up to LOGSIZE blocks of data.
//
//   header: n, block[0..n-1]   -- home block numbers of the logged blocks
//   log block 1 + i            -- the new contents of block[i]
//
// n == 0 in the header means "nothing committed". The header write that sets
// n > 0 is the commit point.

#include "fs/log.h"

#include "fs/buf.h"
#include "kernel/param.h"
#include "lib/print.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "proc/proc.h"

namespace {

// The header block's layout, on disk and (for the transaction being built)
// in memory.
struct LogHeader {
  int n;
  int block[LOGSIZE];
};
static_assert(sizeof(LogHeader) <= BSIZE, "log header must fit in one block");

class Log {
public:
  void init(int dev, const superblock &sb);
  void begin();
  void end();
  void write(Buf *b);
  void forget(uint dev, uint blockno);
  bool pending(uint dev, uint blockno) {
    SpinGuard guard(lock_);
    if (static_cast<int>(dev) != dev_) return false;
    for (int i = 0; i < lh_.n; i++)
      if (lh_.block[i] == static_cast<int>(blockno)) return true;
    return false;
  }
  uint64 commits() {
    SpinGuard guard(lock_);
    return commits_;
  }

private:
  void commit();
  void write_blocks_to_log();
  void install(bool recovering);
  void read_head();
  void write_head();
  void recover();

  Spinlock lock_{"log"};
  int dev_ = 0;
  int start_ = 0;       // block number of the header
  int size_ = 0;        // blocks in the log area, header included
  int outstanding_ = 0; // operations between begin_op and end_op
  bool committing_ = false;
  uint64 commits_ = 0;  // transactions committed (and installed) since boot
  LogHeader lh_{}; // blocks logged by the current transaction
};

Log fslog;

void Log::init(int dev, const superblock &sb) {
  dev_ = dev;
  start_ = static_cast<int>(sb.logstart);
  size_ = static_cast<int>(sb.nlog);
  if (size_ < 2) panic("initlog: log area of %d blocks is too small", size_);
  recover();
}

// Copy each logged block from the cache into the log area.
void Log::write_blocks_to_log() {
  for (int i = 0; i < lh_.n; i++) {
    Buf *to = bread(dev_, start_ + 1 + i);
    Buf *from = bread(dev_, lh_.block[i]);
    memmove(to->data, from->data, BSIZE);
    bwrite(to);
    brelse(from);
    brelse(to);
  }
}

// Copy each committed block from the log area to its home location.
void Log::install(bool recovering) {
  for (int i = 0; i < lh_.n; i++) {
    Buf *from = bread(dev_, start_ + 1 + i);
    Buf *to = bread(dev_, lh_.block[i]);
    memmove(to->data, from->data, BSIZE);
    bwrite(to);
    // log_write() pinned the block so the cache kept it until now. During
    // recovery nothing was pinned.
    if (!recovering) bunpin(to);
    brelse(from);
    brelse(to);
  }
}

void Log::read_head() {
  Buf *b = bread(dev_, start_);
  memmove(&lh_, b->data, sizeof(lh_));
  brelse(b);
  if (lh_.n < 0 || lh_.n > LOGSIZE || lh_.n >= size_) panic("initlog: corrupt log header (n = %d)", lh_.n);
}

// Write the in-memory header to disk. With n > 0 this commits the
// transaction; with n == 0 it retires it.
void Log::write_head() {
  Buf *b = bread(dev_, start_);
  memmove(b->data, &lh_, sizeof(lh_));
  bwrite(b);
  brelse(b);
}

void Log::recover() {
  read_head();
  install(true); // a committed transaction is redone; n == 0 does nothing
  lh_.n = 0;
  write_head();
}

void Log::begin() {
  SpinGuard guard(lock_);
  for (;;) {
    if (committing_) {
      sleep(this, lock_);
    } else if (lh_.n + (outstanding_ + 1) * MAXOPBLOCKS > LOGSIZE) {
      // Were every running operation (and this one) to write its maximum,
      // the log could overflow: wait for a commit to empty it.
      sleep(this, lock_);
    } else {
      outstanding_++;
      return;
    }
  }
}

void Log::end() {
  bool do_commit = false;
  {
    SpinGuard guard(lock_);
    outstanding_--;
    if (committing_) panic("end_op: commit in progress");
    if (outstanding_ == 0) {
      do_commit = true;
      committing_ = true;
    } else {
      // begin() may be waiting for log space, and this operation's
      // reservation has just been released.
      wakeup(this);
    }
  }

  if (do_commit) {
    // Commit without the spinlock: commit() sleeps in disk I/O. No other
    // operation can start while committing_ is set.
    commit();
    SpinGuard guard(lock_);
    commits_++;
    committing_ = false;
    wakeup(this);
  }
}

void Log::commit() {
  if (lh_.n == 0) return;
  write_blocks_to_log();
  write_head(); // the commit point
  install(false);
  {
    SpinGuard guard(lock_); // pending() reads it
    lh_.n = 0;
  }
  write_head(); // the transaction is installed: erase it from the log
}

void Log::write(Buf *b) {
  SpinGuard guard(lock_);
  if (lh_.n >= LOGSIZE || lh_.n >= size_ - 1) panic("log_write: transaction too big");
  if (outstanding_ < 1) panic("log_write: outside of a transaction");

  // A block written twice in one transaction occupies one log slot
  // ("absorption").
  int i = 0;
  while (i < lh_.n && lh_.block[i] != static_cast<int>(b->blockno)) i++;
  lh_.block[i] = static_cast<int>(b->blockno);
  if (i == lh_.n) {
    // New to this transaction: keep the buffer (and so the modification)
    // in the cache until commit() has installed it.
    bpin(b);
    lh_.n++;
  }
}

void Log::forget(uint dev, uint blockno) {
  {
    SpinGuard guard(lock_);
    if (outstanding_ < 1) panic("log_forget: outside of a transaction");
    if (static_cast<int>(dev) != dev_) return;
    int i = 0;
    while (i < lh_.n && lh_.block[i] != static_cast<int>(blockno)) i++;
    if (i == lh_.n) return; // not logged: nothing to drop
    // Close the gap, keeping the others in order.
    for (int j = i; j + 1 < lh_.n; j++) lh_.block[j] = lh_.block[j + 1];
    lh_.n--;
  }
  bunpin_block(dev, blockno); // undo log_write()'s pin
}

} // namespace

void log_forget(uint dev, uint blockno) { fslog.forget(dev, blockno); }

bool log_pending(uint dev, uint blockno) { return fslog.pending(dev, blockno); }

uint64 log_commits() { return fslog.commits(); }

void initlog(int dev, superblock *sb) { fslog.init(dev, *sb); }

void log_write(Buf *b) { fslog.write(b); }

void begin_op() { fslog.begin(); }

void end_op() { fslog.end(); }

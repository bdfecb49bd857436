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
#include "arch/riscv/trap.h"

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
  Result<void> begin();
  void end();
  void write(Buf *b);
  void forget(uint dev, uint blockno);
  void abort();
  bool aborted() {
    SpinGuard guard(lock_);
    return aborted_;
  }
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
  Result<void> commit();
  Result<void> write_blocks_to_log();
  Result<void> install(bool recovering);
  void unpin_all();
  void read_head();
  Result<void> write_head(const LogHeader &h);
  void recover();
  bool try_commit();

  Spinlock lock_{"log"};
  int dev_ = 0;
  int start_ = 0;       // block number of the header
  int size_ = 0;        // blocks in the log area, header included
  int outstanding_ = 0; // operations between begin_op and end_op
  bool committing_ = false;
  uint64 commits_ = 0;  // transactions committed (and installed) since boot
  // Disk errors (see log.h). pending_: a commit failed; the transaction is
  // kept (blocks pinned) and retried. head_written_: it failed after the
  // commit point, so the on-disk header names it and no operation may join
  // it before it is installed. aborted_: an operation could not log a
  // change; nothing is ever committed again.
  bool pending_ = false;
  bool head_written_ = false;
  bool aborted_ = false;
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
// The log area's blocks need not be read: each is overwritten whole. (They
// are read anyway, through the cache; a failed read fails the commit.)
Result<void> Log::write_blocks_to_log() {
  for (int i = 0; i < lh_.n; i++) {
    Buf *to = TRY(bread(dev_, start_ + 1 + i));
    auto from = bread(dev_, lh_.block[i]); // pinned: always cached
    if (from.is_error()) {
      brelse(to);
      return from.error();
    }
    memmove(to->data, from.value()->data, BSIZE);
    auto r = bwrite(to);
    brelse(from.value());
    brelse(to);
    TRY(r);
  }
  return {};
}

// Copy each committed block from the log area to its home location.
// When not recovering, the home blocks are the pinned cached copies, which
// hold exactly the logged contents (no operation runs during a commit), so
// they are written as they are.
Result<void> Log::install(bool recovering) {
  for (int i = 0; i < lh_.n; i++) {
    Buf *to = TRY(bread(dev_, lh_.block[i]));
    if (recovering) {
      auto from = bread(dev_, start_ + 1 + i);
      if (from.is_error()) {
        brelse(to);
        return from.error();
      }
      memmove(to->data, from.value()->data, BSIZE);
      brelse(from.value());
    }
    auto r = bwrite(to);
    brelse(to);
    TRY(r);
  }
  return {};
}

// log_write() pinned each block so the cache kept it until it was installed.
void Log::unpin_all() {
  for (int i = 0; i < lh_.n; i++) bunpin_block(dev_, lh_.block[i]);
}

void Log::read_head() {
  auto r = bread(dev_, start_);
  if (r.is_error()) panic("initlog: cannot read the log header");
  Buf *b = r.value();
  memmove(&lh_, b->data, sizeof(lh_));
  brelse(b);
  if (lh_.n < 0 || lh_.n > LOGSIZE || lh_.n >= size_) panic("initlog: corrupt log header (n = %d)", lh_.n);
}

// Write a header to disk: lh_ (n > 0) commits the transaction; an empty
// one (n == 0) retires it.
Result<void> Log::write_head(const LogHeader &h) {
  Buf *b = TRY(bread(dev_, start_));
  memmove(b->data, &h, sizeof(h));
  auto r = bwrite(b);
  brelse(b);
  return r;
}

void Log::recover() {
  read_head();
  // A committed transaction is redone; n == 0 does nothing.
  if (install(true).is_error()) panic("initlog: cannot install the log");
  if (lh_.n > 0 && write_head(LogHeader{}).is_error()) panic("initlog: cannot clear the log header");
  lh_.n = 0;
}

// Retry a failed commit, if one is pending and no operation is running.
// Caller holds lock_. Returns whether the log is usable (nothing pending).
bool Log::try_commit() {
  if (!pending_ || aborted_) return !pending_;
  if (committing_ || outstanding_ > 0) return false;
  committing_ = true;
  lock_.unlock();
  bool ok = commit().ok();
  lock_.lock();
  committing_ = false;
  if (ok) commits_++;
  wakeup(this);
  return ok;
}

Result<void> Log::begin() {
  SpinGuard guard(lock_);
  for (;;) {
    if (committing_) {
      sleep(this, lock_);
    } else if (aborted_) {
      return Error::IO; // read-only until reboot
    } else if (pending_ && !try_commit() &&
               (head_written_ || lh_.n + (outstanding_ + 1) * MAXOPBLOCKS > LOGSIZE)) {
      // The disk fails, and this operation cannot join the failed
      // transaction.
      return Error::IO;
    } else if (lh_.n + (outstanding_ + 1) * MAXOPBLOCKS > LOGSIZE) {
      // Were every running operation (and this one) to write its maximum,
      // the log could overflow: wait for a commit to empty it.
      sleep(this, lock_);
    } else {
      outstanding_++;
      return {};
    }
  }
}

void Log::end() {
  bool do_commit = false, aborted = false;
  {
    SpinGuard guard(lock_);
    aborted = aborted_;
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
    // After an abort nothing is committed (see log.h).
    bool ok = !aborted && commit().ok();
    SpinGuard guard(lock_);
    if (ok) commits_++;
    committing_ = false;
    wakeup(this);
  }
}

// Commit the transaction. On a disk error the transaction stays in memory,
// its blocks pinned, and pending_ says so (see log.h).
Result<void> Log::commit() {
  if (lh_.n == 0) return {};
  pending_ = true;
  if (!head_written_) {
    TRY(write_blocks_to_log());
    TRY(write_head(lh_)); // the commit point
    head_written_ = true;
  }
  TRY(install(false));
  TRY(write_head(LogHeader{})); // erase the transaction from the log
  unpin_all();
  {
    SpinGuard guard(lock_); // pending() reads it
    lh_.n = 0;
  }
  head_written_ = false;
  pending_ = false;
  return {};
}

void Log::abort() {
  SpinGuard guard(lock_);
  if (!aborted_) kprintf("log: a change could not be logged: the file system is read-only until reboot\n");
  aborted_ = true;
}

void Log::write(Buf *b) {
  SpinGuard guard(lock_);
  if (aborted_) return; // nothing will be committed again
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

void log_abort() { fslog.abort(); }

bool log_aborted() { return fslog.aborted(); }

Result<void> begin_op() { return fslog.begin(); }

void log_wait() {
  SpinGuard guard(tickslock);
  sleep(&ticks, tickslock);
}

void end_op() { fslog.end(); }

// The write-ahead log: makes each file system operation all-or-nothing
// across a crash.
//
// A system call brackets its writes with begin_op()/end_op() and, instead of
// bwrite(), calls log_write() on each modified buffer. Nothing reaches its
// home location until the operation commits: the modified blocks are first
// copied to the log area of the disk, then the log header records how many
// there are (the commit point, a single block write), then the blocks are
// installed in place and the header is cleared. After a crash, fsinit()
// replays a committed log and ignores an uncommitted one.
//
// Several operations may be in progress at once; their writes are committed
// together when the last one ends ("group commit"). An operation may write
// at most MAXOPBLOCKS distinct blocks.
//
// Disk errors. The disk always holds a consistent file system; what an
// error costs is memory's lead over it:
//  - A commit whose log blocks or header cannot be written leaves the disk
//    as it was (no header, nothing installed). The transaction stays in
//    memory, its blocks pinned, as if not yet committed: the system calls
//    that made it have succeeded (like a write() whose write-back fails
//    later). The next end_op() retries the commit; later operations join
//    the pending transaction while the log has room for them, and when it
//    has not, begin_op() retries the commit and fails (IO) if it fails:
//    the system call returns -1.
//  - A commit that fails after its header was written (installing, or
//    clearing the header) is on disk already: a reboot replays it. Until
//    it is installed and erased, no operation may start (it would reuse
//    the log area): begin_op() retries it, and fails if it fails.
//  A reference dropped outside an operation (close, exit) that does not
//  free the inode needs no transaction: iput_op() then goes ahead without.
//  - An operation that cannot log a change it has made (iupdate could not
//    read the inode block) aborts the log: nothing is ever committed
//    again, so the disk keeps the state before that transaction, and
//    begin_op() fails from then on (ext4's read-only remount after a
//    journal error). What memory holds of the lost transactions stays
//    visible to reads until reboot.
// Failing reads elsewhere make the operation fail before it changes
// anything, or leave it complete and consistent (a short write).
#pragma once

#include "lib/result.h"
#include "lib/types.h"
#include "kernel/fs.h"

struct Buf;

// Read the log position from the superblock and recover from a crash.
void initlog(int dev, superblock *sb);
// Record that b (held, locked) was modified within the current operation.
void log_write(Buf *b);
// Drop block `blockno` from the current transaction, if it is there: its
// logged copy is not written at commit. For a block that has just become a
// file data block written straight to disk (inode_write_page): it may have
// been freed earlier in the same transaction with a logged copy still
// pending, which commit would otherwise install over the data.
void log_forget(uint dev, uint blockno);
// Whether block `blockno` is in the transaction being built or committed,
// not yet installed at home: its newest contents are in the buffer cache
// (pinned), not on disk. Page reads around the cache (inode_read_page) take
// such a block from the cache.
bool log_pending(uint dev, uint blockno);
// How many transactions have committed since boot. Read it inside an
// operation: no commit can run while one is outstanding, so it is stable
// until end_op().
uint64 log_commits();
// The current operation made a change it could not log (a disk error in
// iupdate): the transaction is incomplete and must never commit.
void log_abort();
// Whether that has happened.
bool log_aborted();
// Start / finish a file system operation. begin_op errors: IO (the disk
// fails and a failed commit is in the way; see above). Nothing to end then.
[[nodiscard]] Result<void> begin_op();
void end_op();
// Sleep a clock tick: for callers that must retry a failing disk.
void log_wait();

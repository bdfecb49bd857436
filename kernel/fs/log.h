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
#pragma once

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
// Start / finish a file system operation.
void begin_op();
void end_op();

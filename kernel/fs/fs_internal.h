// Inside the file system only: what fs.cpp (blocks, inodes, directories)
// and inode_pages.cpp (a file's contents in the page cache) share. Code
// outside kernel/fs uses fs.h.
#pragma once

#include "fs/fs.h"

inline uint min(uint a, uint b) { return a < b ? a : b; }

// The result of a transfer (readi, writei, ...) that an error stopped after
// `done` bytes: the short count if any byte moved, since the caller must
// see what was done (read() and write() return it), else the error.
inline Result<uint> partial(uint done, Error e) {
  if (done > 0) return done;
  return e;
}

// How bmap() treats a block that is not there yet.
enum class Alloc {
  No,     // leave it missing: bmap returns 0
  Zeroed, // allocate it and zero it through the log (metadata, and data
          // written through the buffer cache)
  Data,   // allocate it without zeroing: the caller writes the whole block
          // straight to disk (inode_write_page)
};

// The disk block holding the bn'th block of ip's contents, or 0 if it has
// none and `how` is Alloc::No. The indirect blocks on the way are metadata:
// they are always allocated zeroed (through the log). Allocation changes
// ip->addrs: the caller writes the inode back (iupdate). Errors: TooBig
// (bn >= MAXFILE), NoSpace. A failure may leave new indirect blocks attached
// to the inode; they are reachable and itrunc frees them.
Result<uint> bmap(Inode *ip, uint bn, Alloc how);

// The disk block that holds ip's on-disk inode.
uint iblock(const Inode *ip);

// readi and writei of a T_FILE (inode_pages.cpp): through the page cache.
// The caller holds ip's lock and has checked the range.
Result<uint> read_file_pages(Inode *ip, bool user_dst, uint64 dst, uint off, uint n);
Result<uint> write_file_pages(Inode *ip, bool user_src, uint64 src, uint off, uint n);

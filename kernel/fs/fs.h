// The file system proper: inodes, file contents, directories and path names,
// on top of the log (log.h) and the buffer cache (buf.h). The on-disk format
// is xv6-riscv's (include/kernel/fs.h).
//
// An Inode is the in-memory copy of an on-disk inode (struct dinode) plus
// bookkeeping. The table of NINODE Inodes is a cache: iget() finds or makes
// the entry for (dev, inum) and counts a reference; iput() drops one. When
// the last reference goes and no directory links to the inode any more, its
// blocks and the on-disk inode are freed.
//
// Locking: the table's spinlock protects `ref` and which inode an entry
// holds (dev, inum). The inode's sleep-lock protects everything else; take
// it with ilock(), which also reads the inode from disk the first time.
// Holding a reference (not the lock) keeps an entry from being reused, so a
// name lookup can hold many references but only one lock at a time.
//
// Calls that modify the disk must run inside begin_op()/end_op().
#pragma once

#include "lib/result.h"
#include "lib/types.h"
#include "kernel/fs.h"
#include "kernel/stat.h"
#include "mm/object.h"
#include "proc/sleeplock.h"

// An Inode is also the pager of its own memory object: `object` holds the
// file's pages in the page cache (mm/object.h). read(), write() and mmap of
// a T_FILE all go through those pages. The object lives as long as the
// table entry; its pages stay cached after the last reference goes (so a
// program run again reads nothing from disk) until the entry is reused for
// another inode or the inode is freed.
struct Inode final : mm::Pager {
  uint dev = 0;  // device the inode lives on
  uint inum = 0; // inode number
  int ref = 0;   // references (table spinlock)
  Sleeplock lock{"inode"};
  bool valid = false; // the fields below have been read from disk

  // Copy of the on-disk inode (struct dinode).
  short type = 0; // T_DIR, T_FILE, T_DEVICE; 0 if free
  short major = 0;
  short minor = 0;
  short nlink = 0;              // directory entries that name this inode
  uint size = 0;                // bytes
  uint addrs[NDIRECT + 2] = {}; // direct blocks, singly and doubly indirect block

  mm::VmObject object; // the file's pages (T_FILE)

  // mm::Pager: the page cache's access to the file's blocks.
  bool lock_io() override;
  void unlock_io() override;
  Result<void> read_page(uint64 index, void *page) override;
  Result<void> write_page(uint64 index, const void *page) override;
  uint64 data_size() override { return size; }
  void hold() override;
  void release() override;
};

// Read the superblock and recover the log. Runs in process context (first
// process), because it sleeps on the disk.
void fsinit(int dev);
void iinit();

// Allocate a free on-disk inode of the given type. Returns it referenced but
// unlocked. Errors: NoSpace (no free inode on disk), NoMemory (no free
// entry in the inode table), IO.
Result<Inode *> ialloc(uint dev, short type);
Inode *idup(Inode *ip);
// Lock ip, reading it from disk if needed. Errors: IO (then it is not locked).
[[nodiscard]] Result<void> ilock(Inode *ip);
// ilock() for an inode the caller has just looked up: if it fails, the
// caller's reference is dropped too (iput), so there is nothing to undo.
[[nodiscard]] Result<void> ilock_or_put(Inode *ip);
void iunlock(Inode *ip);
void iput(Inode *ip);
// iput() outside an operation, in one of its own. Never fails: if the disk
// fails (begin_op cannot start) and the reference is not the inode's last
// with no links, it is dropped without a transaction (nothing to write);
// else this waits for the disk (after log_abort: drops it unfreed).
void iput_op(Inode *ip);
void iunlockput(Inode *ip);
// Write the in-memory copy of a locked inode to disk (inside a transaction).
// If its block cannot be read, the transaction is aborted (log_abort).
void iupdate(Inode *ip);
// Free all the data blocks of a locked inode; size becomes 0. Errors: IO
// (some blocks stay, the inode consistent with them).
Result<void> itrunc(Inode *ip);
void stati(Inode *ip, struct stat *st);

// Read / write n bytes at offset off of a locked inode. dst/src is a user
// address of the current process if user_dst/user_src, else a kernel
// pointer. Both return the bytes moved, and may stop part way: an error
// after some bytes gives the short count (the caller sees what was done),
// the error itself only if no byte moved.
//
// readi reads at most up to the end of the file (0 bytes at or past it);
// it stops short at a disk error or with no memory, and fails on a bad
// address even after some bytes (as xv6's). Errors: BadAddress, IO,
// NoMemory.
[[nodiscard]] Result<uint> readi(Inode *ip, bool user_dst, uint64 dst, uint off, uint n);
// writei writes from off (at most the end of the file: no holes) up to
// MAXFILE blocks; it stops short if the disk fills or fails, or at a bad
// address. Errors: Invalid (off past the end), TooBig, NoSpace, IO,
// NoMemory, BadAddress.
[[nodiscard]] Result<uint> writei(Inode *ip, bool user_src, uint64 src, uint off, uint n);
// read() of a T_FILE: n bytes at *off to user address dst through the page
// cache, without holding the inode lock while touching user memory (the
// buffer may be a mapping of this very file). Advances *off. Returns the
// bytes read (0 at the end; fewer if the reader is killed, or at an error
// after some bytes). Errors: BadAddress, IO, NoMemory.
[[nodiscard]] Result<uint> file_read(Inode *ip, uint64 dst, uint *off, uint n);

// Page I/O for the page cache (inode_pages.cpp): file data straight
// between disk and a 4096-byte kernel buffer (a frame in the direct map),
// around the buffer cache and the log. The caller holds ip's lock.
//
// inode_read_page fills `page` with the file's bytes [index*4096,
// index*4096+4096): blocks read from disk (consecutive disk blocks in one
// request; from the buffer cache if the log has yet to install them), zeros
// at and past ip->size and for missing blocks (holes).
Result<void> inode_read_page(Inode *ip, uint64 index, void *page);
// inode_write_page writes the page's blocks that hold bytes below `size`
// (the file's size as the caller sees it), whole blocks, inside the
// caller's begin_op()/end_op(). Blocks the file has are overwritten in
// place if they are consecutive on disk (one request), else through the log
// (the caller's commit installs them): either way, after a crash the page
// is all old or all new. A missing block is allocated if may_allocate, else
// it is an error (NotFound), and written in place, on disk when this
// returns (ordered mode: the caller's end_op() commits the new block
// pointers after the data). Errors: TooBig
// (size past MAXFILE blocks), NoSpace, NotFound, IO; blocks found or
// allocated before an error are written.
Result<void> inode_write_page(Inode *ip, uint64 index, const void *page, uint64 size, bool may_allocate);

// Directories.
int namecmp(const char *s, const char *t);
// Look name up in the locked directory dp. Returns the inode referenced and
// unlocked (and the entry's offset in *poff if poff). Errors: NotFound, IO
// (an entry could not be read), NoMemory (no free inode-table entry).
Result<Inode *> dirlookup(Inode *dp, const char *name, uint *poff);
// Add (name, inum) to the locked directory dp. Errors: Exists, NotFound (dp
// has been removed: nlink 0), those of writei (the directory cannot grow).
Result<void> dirlink(Inode *dp, const char *name, uint inum);
// Read / write the entry at offset off of the locked directory dp, whole.
// Errors: those of readi / writei; IO for a short transfer.
Result<void> read_dirent(Inode *dp, uint off, dirent *de);
Result<void> write_dirent(Inode *dp, uint off, const dirent *de);

// Path names. namei() returns the inode of path; nameiparent() the inode of
// its parent directory, with the last element copied to name (DIRSIZ
// bytes). Both return the inode referenced and unlocked. In a removed
// directory (a cwd whose directory was unlinked) only "." resolves.
// Errors: NotFound (also for a path through a non-directory, and for
// nameiparent of a path with no element: "/" or ""), IO, NoMemory.
Result<Inode *> namei(const char *path);
Result<Inode *> nameiparent(const char *path, char *name);

// Free on-disk inodes and free disk blocks now (memstat).
uint64 count_free_inodes(uint dev);
uint64 count_free_blocks(uint dev);

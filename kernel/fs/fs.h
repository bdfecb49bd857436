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

#include "lib/types.h"
#include "kernel/fs.h"
#include "kernel/stat.h"
#include "proc/sleeplock.h"

struct Inode {
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
  uint addrs[NDIRECT + 1] = {}; // data blocks, then the indirect block
};

// Read the superblock and recover the log. Runs in process context (first
// process), because it sleeps on the disk.
void fsinit(int dev);
void iinit();

// Allocate a free on-disk inode of the given type. Returns it referenced but
// unlocked, or nullptr if there are no free inodes (on disk or in memory).
Inode *ialloc(uint dev, short type);
Inode *idup(Inode *ip);
void ilock(Inode *ip);
void iunlock(Inode *ip);
void iput(Inode *ip);
void iunlockput(Inode *ip);
// Write the in-memory copy of a locked inode to disk (inside a transaction).
void iupdate(Inode *ip);
// Free all the data blocks of a locked inode; size becomes 0.
void itrunc(Inode *ip);
void stati(Inode *ip, struct stat *st);

// Read / write n bytes at offset off of a locked inode. dst/src is a user
// address of the current process if user_dst/user_src, else a kernel
// pointer. readi returns the bytes read (0 at or past the end) or -1 on a
// bad address; writei the bytes written (fewer if the disk fills) or -1.
int readi(Inode *ip, bool user_dst, uint64 dst, uint off, uint n);
int writei(Inode *ip, bool user_src, uint64 src, uint off, uint n);

// Directories.
int namecmp(const char *s, const char *t);
// Look name up in the locked directory dp. Returns the inode referenced and
// unlocked (and the entry's offset in *poff if poff), or nullptr.
Inode *dirlookup(Inode *dp, const char *name, uint *poff);
// Add (name, inum) to the locked directory dp: 0, or -1 if the name exists
// or the directory cannot grow.
int dirlink(Inode *dp, const char *name, uint inum);

// Path names. namei() returns the inode of path; nameiparent() the inode of
// its parent directory, with the last element copied to name (DIRSIZ
// bytes). Both return the inode referenced and unlocked, or nullptr.
Inode *namei(const char *path);
Inode *nameiparent(const char *path, char *name);

// Free on-disk inodes and free disk blocks now (memstat).
uint64 count_free_inodes(uint dev);
uint64 count_free_blocks(uint dev);

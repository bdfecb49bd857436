// The file system: blocks, inodes, directories, path names (see fs.h).
//
// Disk layout (block numbers from the superblock, made by mkfs):
//   [ boot | super | log | inodes | free-block bitmap | data ... ]

#include "fs/fs.h"

#include "fs/buf.h"
#include "fs/log.h"
#include "kernel/param.h"
#include "lib/print.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "proc/proc.h"

namespace {

constexpr uint SUPERBLOCK_NO = 1; // block 0 is the boot block

// There is one file system per machine, so one superblock.
superblock sb;

uint min(uint a, uint b) { return a < b ? a : b; }

void readsb(uint dev, superblock *out) {
  Buf *b = bread(dev, SUPERBLOCK_NO);
  memmove(out, b->data, sizeof(*out));
  brelse(b);
}

// ---------------------------------------------------------------- blocks

void bzero(uint dev, uint blockno) {
  Buf *b = bread(dev, blockno);
  memset(b->data, 0, BSIZE);
  log_write(b);
  brelse(b);
}

// The bitmap has one bit per disk block, set when the block is in use.
// mkfs sets the bits of the metadata blocks, so they are never handed out.
struct BitPos {
  uint byte;
  uchar mask;
};
BitPos bit_of(uint blockno) {
  uint bi = blockno % BPB;
  return {bi / 8, static_cast<uchar>(1u << (bi % 8))};
}

// Allocate a zeroed disk block. Returns its number, or 0 when the disk is
// full (block 0, the boot block, is never a data block).
uint balloc(uint dev) {
  for (uint base = 0; base < sb.size; base += BPB) {
    Buf *bp = bread(dev, BBLOCK(base, sb));
    for (uint bi = 0; bi < BPB && base + bi < sb.size; bi++) {
      BitPos pos = bit_of(base + bi);
      if ((bp->data[pos.byte] & pos.mask) == 0) {
        bp->data[pos.byte] |= pos.mask;
        log_write(bp);
        brelse(bp);
        bzero(dev, base + bi);
        return base + bi;
      }
    }
    brelse(bp);
  }
  kprintf("balloc: out of blocks\n");
  return 0;
}

void bfree(uint dev, uint blockno) {
  Buf *bp = bread(dev, BBLOCK(blockno, sb));
  BitPos pos = bit_of(blockno);
  if ((bp->data[pos.byte] & pos.mask) == 0) panic("bfree: block %u is already free", blockno);
  bp->data[pos.byte] &= static_cast<uchar>(~pos.mask);
  log_write(bp);
  brelse(bp);
}

// ---------------------------------------------------------------- inodes

class InodeTable {
public:
  // The entry for (dev, inum), with one more reference; not locked, not
  // necessarily read from disk. nullptr if every entry is in use.
  Inode *get(uint dev, uint inum) {
    SpinGuard guard(lock_);
    Inode *empty = nullptr;
    for (Inode &ip : inodes_) {
      if (ip.ref > 0 && ip.dev == dev && ip.inum == inum) {
        ip.ref++;
        return &ip;
      }
      if (empty == nullptr && ip.ref == 0) empty = &ip;
    }
    if (empty == nullptr) {
      kprintf("iget: no free in-memory inodes\n");
      return nullptr;
    }
    empty->dev = dev;
    empty->inum = inum;
    empty->ref = 1;
    empty->valid = false;
    return empty;
  }

  Inode *dup(Inode *ip) {
    SpinGuard guard(lock_);
    ip->ref++;
    return ip;
  }

  void put(Inode *ip);

private:
  Spinlock lock_{"itable"};
  Inode inodes_[NINODE];
};

InodeTable itable;

dinode *dinode_in(Buf *bp, uint inum) { return reinterpret_cast<dinode *>(bp->data) + inum % IPB; }

void InodeTable::put(Inode *ip) {
  lock_.lock();
  if (ip->ref == 1 && ip->valid && ip->nlink == 0) {
    // The last reference to an inode no directory names: free it. With
    // ref == 1 no other process can hold or wait for ip->lock, so taking
    // it cannot block, and nobody can find the inode through a directory
    // to take a new reference while the spinlock is dropped.
    ip->lock.acquire();
    lock_.unlock();

    itrunc(ip);
    ip->type = 0;
    iupdate(ip); // the on-disk inode is free now
    ip->valid = false;

    ip->lock.release();
    lock_.lock();
  }
  ip->ref--;
  lock_.unlock();
}

// The disk block holding the bn'th block of ip's contents, allocating it
// (and the indirect block) if needed. 0 if the disk is full.
uint bmap(Inode *ip, uint bn) {
  if (bn < NDIRECT) {
    if (ip->addrs[bn] == 0) ip->addrs[bn] = balloc(ip->dev);
    return ip->addrs[bn];
  }
  bn -= NDIRECT;
  if (bn >= NINDIRECT) panic("bmap: block %u is beyond MAXFILE", bn + NDIRECT);

  // The indirect block is an array of NINDIRECT block numbers.
  uint &ind = ip->addrs[NDIRECT];
  if (ind == 0) {
    ind = balloc(ip->dev);
    if (ind == 0) return 0;
  }
  Buf *bp = bread(ip->dev, ind);
  uint *a = reinterpret_cast<uint *>(bp->data);
  uint addr = a[bn];
  if (addr == 0) {
    addr = balloc(ip->dev);
    if (addr != 0) {
      a[bn] = addr;
      log_write(bp);
    }
  }
  brelse(bp);
  return addr;
}

// ---------------------------------------------------------------- directories

// Copy the next path element of path into name (at most DIRSIZ bytes,
// NUL-terminated only if shorter) and return what follows it, with leading
// slashes skipped. nullptr if there is no element.
//   skipelem("a/bb/c", name) = "bb/c", name = "a"
//   skipelem("///a//bb", name) = "bb", name = "a"
//   skipelem("a", name) = "", name = "a"
//   skipelem("", name) = skipelem("////", name) = nullptr
const char *skipelem(const char *path, char *name) {
  while (*path == '/') path++;
  if (*path == '\0') return nullptr;
  const char *s = path;
  while (*path != '/' && *path != '\0') path++;
  uint len = static_cast<uint>(path - s);
  if (len >= DIRSIZ) {
    memmove(name, s, DIRSIZ); // longer names are truncated, as in xv6
  } else {
    memmove(name, s, len);
    name[len] = '\0';
  }
  while (*path == '/') path++;
  return path;
}

// Walk path. With parent set, stop one element early and copy the last
// element into name.
Inode *namex(const char *path, bool parent, char *name) {
  Inode *ip = *path == '/' ? itable.get(ROOTDEV, ROOTINO) : idup(myproc()->cwd);
  if (ip == nullptr) return nullptr;

  while ((path = skipelem(path, name)) != nullptr) {
    ilock(ip);
    if (ip->type != T_DIR) {
      iunlockput(ip);
      return nullptr;
    }
    if (parent && *path == '\0') {
      iunlock(ip); // the caller locks it
      return ip;
    }
    Inode *next = dirlookup(ip, name, nullptr);
    // Unlock ip before locking next: next may be ip itself (".") or its
    // parent (".."), and locks are only ever taken one at a time here.
    iunlockput(ip);
    if (next == nullptr) return nullptr;
    ip = next;
  }
  if (parent) { // the path had no elements ("/" or "")
    iput(ip);
    return nullptr;
  }
  return ip;
}

} // namespace

// ---------------------------------------------------------------- public API

void fsinit(int dev) {
  readsb(dev, &sb);
  if (sb.magic != FSMAGIC) panic("fsinit: device %d has no file system (magic %x)", dev, sb.magic);
  initlog(dev, &sb);
}

void iinit() {
  // The table and its locks are constant-initialised; nothing to do. Kept so
  // boot code reads like xv6's.
}

Inode *ialloc(uint dev, short type) {
  for (uint inum = 1; inum < sb.ninodes; inum++) {
    Buf *bp = bread(dev, IBLOCK(inum, sb));
    dinode *dip = dinode_in(bp, inum);
    if (dip->type == 0) {
      memset(dip, 0, sizeof(*dip));
      dip->type = type; // claimed on disk (once the transaction commits)
      log_write(bp);
      brelse(bp);
      return itable.get(dev, inum);
    }
    brelse(bp);
  }
  kprintf("ialloc: no free inodes\n");
  return nullptr;
}

void iupdate(Inode *ip) {
  Buf *bp = bread(ip->dev, IBLOCK(ip->inum, sb));
  dinode *dip = dinode_in(bp, ip->inum);
  dip->type = ip->type;
  dip->major = ip->major;
  dip->minor = ip->minor;
  dip->nlink = ip->nlink;
  dip->size = ip->size;
  memmove(dip->addrs, ip->addrs, sizeof(ip->addrs));
  log_write(bp);
  brelse(bp);
}

Inode *idup(Inode *ip) { return itable.dup(ip); }

void ilock(Inode *ip) {
  if (ip == nullptr || ip->ref < 1) panic("ilock: inode not referenced");
  ip->lock.acquire();
  if (!ip->valid) {
    Buf *bp = bread(ip->dev, IBLOCK(ip->inum, sb));
    const dinode *dip = dinode_in(bp, ip->inum);
    ip->type = dip->type;
    ip->major = dip->major;
    ip->minor = dip->minor;
    ip->nlink = dip->nlink;
    ip->size = dip->size;
    memmove(ip->addrs, dip->addrs, sizeof(ip->addrs));
    brelse(bp);
    ip->valid = true;
    if (ip->type == 0) panic("ilock: inode %u is free on disk", ip->inum);
  }
}

void iunlock(Inode *ip) {
  if (ip == nullptr || !ip->lock.holding() || ip->ref < 1) panic("iunlock: inode not locked");
  ip->lock.release();
}

void iput(Inode *ip) { itable.put(ip); }

void iunlockput(Inode *ip) {
  iunlock(ip);
  iput(ip);
}

void itrunc(Inode *ip) {
  for (uint i = 0; i < NDIRECT; i++) {
    if (ip->addrs[i]) {
      bfree(ip->dev, ip->addrs[i]);
      ip->addrs[i] = 0;
    }
  }
  if (ip->addrs[NDIRECT]) {
    Buf *bp = bread(ip->dev, ip->addrs[NDIRECT]);
    const uint *a = reinterpret_cast<const uint *>(bp->data);
    for (uint j = 0; j < NINDIRECT; j++)
      if (a[j]) bfree(ip->dev, a[j]);
    brelse(bp);
    bfree(ip->dev, ip->addrs[NDIRECT]);
    ip->addrs[NDIRECT] = 0;
  }
  ip->size = 0;
  iupdate(ip);
}

void stati(Inode *ip, struct stat *st) {
  st->dev = static_cast<int>(ip->dev);
  st->ino = ip->inum;
  st->type = ip->type;
  st->nlink = ip->nlink;
  st->size = ip->size;
}

int readi(Inode *ip, bool user_dst, uint64 dst, uint off, uint n) {
  if (off > ip->size || off + n < off) return 0;
  if (off + n > ip->size) n = ip->size - off;

  uint tot = 0;
  while (tot < n) {
    uint addr = bmap(ip, off / BSIZE);
    if (addr == 0) break;
    Buf *bp = bread(ip->dev, addr);
    uint m = min(n - tot, BSIZE - off % BSIZE);
    int r = either_copyout(user_dst, dst, bp->data + off % BSIZE, m);
    brelse(bp);
    if (r == -1) return -1;
    tot += m;
    off += m;
    dst += m;
  }
  return static_cast<int>(tot);
}

int writei(Inode *ip, bool user_src, uint64 src, uint off, uint n) {
  if (off > ip->size || off + n < off) return -1;
  if (static_cast<uint64>(off) + n > static_cast<uint64>(MAXFILE) * BSIZE) return -1;

  uint tot = 0;
  bool fault = false;
  while (tot < n) {
    uint addr = bmap(ip, off / BSIZE);
    if (addr == 0) break; // disk full: a short write
    Buf *bp = bread(ip->dev, addr);
    uint m = min(n - tot, BSIZE - off % BSIZE);
    if (either_copyin(bp->data + off % BSIZE, user_src, src, m) == -1) {
      brelse(bp);
      fault = true;
      break;
    }
    log_write(bp);
    brelse(bp);
    tot += m;
    off += m;
    src += m;
  }

  if (off > ip->size) ip->size = off;
  // Write the inode back even if the size did not change: bmap() may have
  // added blocks to ip->addrs.
  iupdate(ip);
  if (fault && tot == 0) return -1;
  return static_cast<int>(tot);
}

int namecmp(const char *s, const char *t) { return strncmp(s, t, DIRSIZ); }

Inode *dirlookup(Inode *dp, const char *name, uint *poff) {
  if (dp->type != T_DIR) panic("dirlookup: not a directory");

  dirent de;
  for (uint off = 0; off < dp->size; off += sizeof(de)) {
    if (readi(dp, false, reinterpret_cast<uint64>(&de), off, sizeof(de)) != sizeof(de))
      panic("dirlookup: cannot read directory %u", dp->inum);
    if (de.inum == 0) continue; // a free slot
    if (namecmp(name, de.name) == 0) {
      if (poff) *poff = off;
      return itable.get(dp->dev, de.inum);
    }
  }
  return nullptr;
}

int dirlink(Inode *dp, const char *name, uint inum) {
  if (Inode *ip = dirlookup(dp, name, nullptr)) {
    iput(ip);
    return -1; // already present
  }

  // Reuse the first free slot, or append.
  dirent de;
  uint off;
  for (off = 0; off < dp->size; off += sizeof(de)) {
    if (readi(dp, false, reinterpret_cast<uint64>(&de), off, sizeof(de)) != sizeof(de))
      panic("dirlink: cannot read directory %u", dp->inum);
    if (de.inum == 0) break;
  }

  memset(&de, 0, sizeof(de));
  // name may itself be DIRSIZ bytes without a NUL (see skipelem), and is
  // stored that way too: never look past DIRSIZ bytes.
  uint len = 0;
  while (len < DIRSIZ && name[len] != '\0') len++;
  memmove(de.name, name, len);
  de.inum = static_cast<ushort>(inum);
  if (writei(dp, false, reinterpret_cast<uint64>(&de), off, sizeof(de)) != sizeof(de)) return -1;
  return 0;
}

Inode *namei(const char *path) {
  char name[DIRSIZ];
  return namex(path, false, name);
}

Inode *nameiparent(const char *path, char *name) { return namex(path, true, name); }

// ---------------------------------------------------------------- statistics

// Free on-disk inodes (type 0; inode 0 is never used) and free blocks (clear
// bits in the bitmap), for memstat: the tests compare them before and after
// to find leaked inodes and blocks. Read through the buffer cache, so they
// include changes not yet committed from the log.
uint64 count_free_inodes(uint dev) {
  uint64 n = 0;
  for (uint first = 0; first < sb.ninodes; first += IPB) {
    Buf *bp = bread(dev, IBLOCK(first, sb));
    for (uint inum = first; inum < first + IPB && inum < sb.ninodes; inum++)
      if (inum != 0 && dinode_in(bp, inum)->type == 0) n++;
    brelse(bp);
  }
  return n;
}

uint64 count_free_blocks(uint dev) {
  uint64 n = 0;
  for (uint base = 0; base < sb.size; base += BPB) {
    Buf *bp = bread(dev, BBLOCK(base, sb));
    for (uint bi = 0; bi < BPB && base + bi < sb.size; bi++) {
      BitPos pos = bit_of(base + bi);
      if ((bp->data[pos.byte] & pos.mask) == 0) n++;
    }
    brelse(bp);
  }
  return n;
}

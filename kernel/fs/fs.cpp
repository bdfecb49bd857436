// The file system: blocks, inodes, directories, path names (see fs.h). A
// file's contents in the page cache (page I/O, the pager, read() and
// write() of a T_FILE) are in inode_pages.cpp.
//
// Disk layout (block numbers from the superblock, made by mkfs):
//   [ boot | super | log | inodes | free-block bitmap | data ... ]

#include "fs/fs.h"

#include "fs/buf.h"
#include "fs/fs_internal.h"
#include "fs/log.h"
#include "kernel/param.h"
#include "lib/print.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "mm/frame.h"
#include "proc/proc.h"

namespace {

constexpr uint SUPERBLOCK_NO = 1; // block 0 is the boot block

static_assert(sizeof(dinode) == 64, "the on-disk inode is 64 bytes, as in xv6");
static_assert(static_cast<uint64>(MAXFILE) * BSIZE < (1ull << 32), "file sizes are 32-bit");

// There is one file system per machine, so one superblock.
superblock sb;

void readsb(uint dev, superblock *out) {
  auto r = bread(dev, SUPERBLOCK_NO);
  if (r.is_error()) panic("fsinit: cannot read the superblock");
  Buf *b = r.value();
  memmove(out, b->data, sizeof(*out));
  brelse(b);
}

// ---------------------------------------------------------------- blocks

Result<void> bzero(uint dev, uint blockno) {
  Buf *b = TRY(bread(dev, blockno));
  memset(b->data, 0, BSIZE);
  log_write(b);
  brelse(b);
  return {};
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

// The largest file system fsinit() accepts (see the check there).
constexpr uint MAX_FS_BLOCKS = (MAXOPBLOCKS - 4) * BPB;

// The blocks freed since the last commit. Such a block must not become a
// file data block written straight to disk (inode_write_page) before that
// commit: until it, the disk still says the block belongs to its former
// file, and a crash would leave that file holding the new data (ordered
// mode's reuse rule, as in ext3). The set empties itself when the log
// has committed since it was last used.
class FreedBlocks {
public:
  void add(uint b) {
    SpinGuard guard(lock_);
    sync();
    bits_[b / 64] |= 1ull << (b % 64);
    any_ = true;
  }
  bool contains(uint b) {
    SpinGuard guard(lock_);
    sync();
    return (bits_[b / 64] >> (b % 64)) & 1;
  }

private:
  // Callers are inside an operation, so no commit runs meanwhile.
  void sync() {
    uint64 c = log_commits();
    if (c == epoch_) return;
    if (any_) memset(bits_, 0, sizeof(bits_));
    any_ = false;
    epoch_ = c;
  }

  Spinlock lock_{"freed"};
  uint64 epoch_ = 0; // log_commits() when the set was last emptied
  bool any_ = false;
  uint64 bits_[MAX_FS_BLOCKS / 64] = {};
};

FreedBlocks freed;

// Claim a free disk block in the bitmap. Returns its number (its contents
// are whatever the disk holds), or NoSpace. Block 0, the boot block, is
// never free. With for_data, blocks freed by the transaction still open
// are passed over (see FreedBlocks).
Result<uint> balloc_bit(uint dev, bool for_data) {
  for (uint base = 0; base < sb.size; base += BPB) {
    BufGuard bp(dev, BBLOCK(base, sb));
    if (!bp.ok()) return Error::IO;
    for (uint bi = 0; bi < BPB && base + bi < sb.size; bi++) {
      BitPos pos = bit_of(base + bi);
      if ((bp->data[pos.byte] & pos.mask) == 0 && !(for_data && freed.contains(base + bi))) {
        bp->data[pos.byte] |= pos.mask;
        log_write(bp.get());
        return base + bi;
      }
    }
  }
  kprintf("balloc: out of blocks\n");
  return Error::NoSpace;
}

Result<void> bfree(uint dev, uint blockno);

Result<uint> balloc(uint dev, Alloc how) {
  uint b = TRY(balloc_bit(dev, how == Alloc::Data));
  if (how == Alloc::Data) {
    // A logged copy of the block still pending (a former indirect or
    // directory block) must not be installed over the data written here.
    // balloc_bit() passes over blocks freed in this transaction, so there
    // should be none: this is the safety net.
    log_forget(dev, b);
    bdiscard(dev, b); // and the cache must not serve its old contents
  } else if (auto r = bzero(dev, b); r.is_error()) {
    // Give the bit back: the block was not zeroed, so it must not be used.
    // (bfree cannot fail here: bzero's read failed, not the bitmap's, which
    // balloc_bit holds in the cache until this transaction commits.)
    (void)bfree(dev, b);
    return r.error();
  }
  return b;
}

Result<void> bfree(uint dev, uint blockno) {
  Buf *bp = TRY(bread(dev, BBLOCK(blockno, sb)));
  BitPos pos = bit_of(blockno);
  if ((bp->data[pos.byte] & pos.mask) == 0) panic("bfree: block %u is already free", blockno);
  bp->data[pos.byte] &= static_cast<uchar>(~pos.mask);
  log_write(bp);
  brelse(bp);
  freed.add(blockno);
  return {};
}

// ---------------------------------------------------------------- inodes

class InodeTable {
public:
  // The entry for (dev, inum), with one more reference; not locked, not
  // necessarily read from disk. NoMemory if every entry is in use.
  // An entry is never in the table twice for one (dev, inum): an entry with
  // no references keeps its inode (and its cached pages) until it is
  // reused, and a lookup finds it first.
  Result<Inode *> get(uint dev, uint inum) {
    SpinGuard guard(lock_);
    Inode *empty = nullptr, *cached = nullptr;
    for (Inode &ip : inodes_) {
      if (ip.inum == inum && ip.dev == dev && inum != 0) {
        ip.ref++;
        return &ip;
      }
      if (ip.ref == 0) {
        if (ip.object.cached_pages() == 0) {
          if (!empty) empty = &ip;
        } else if (!cached) {
          cached = &ip;
        }
      }
    }
    if (empty == nullptr && cached != nullptr) {
      // Every free entry still caches a file's pages: give one's back. With
      // no reference nobody maps or reads it, so no page is being read in
      // or dirty (the last munmap wrote them back): dropping never sleeps.
      cached->object.drop_pages(0);
      empty = cached;
    }
    if (empty == nullptr) {
      kprintf("iget: no free in-memory inodes\n");
      return Error::NoMemory;
    }
    empty->dev = dev;
    empty->inum = inum;
    empty->ref = 1;
    empty->valid = false;
    empty->object.init(empty);
    return empty;
  }

  Inode *dup(Inode *ip) {
    SpinGuard guard(lock_);
    ip->ref++;
    return ip;
  }

  void put(Inode *ip);
  // put(ip) if that cannot free the inode (so writes nothing), or if
  // `never_free` (the inode then stays allocated on disk): true, or false
  // with nothing done.
  bool put_without_free(Inode *ip, bool never_free) {
    SpinGuard guard(lock_);
    if (ip->ref == 1 && ip->valid && ip->nlink == 0) {
      if (!never_free) return false;
      ip->valid = false; // the next user of the entry reads the disk
    }
    ip->ref--;
    return true;
  }

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

    if (itrunc(ip).ok()) {
      ip->type = 0;
      iupdate(ip); // the on-disk inode is free now
    }
    // Else the inode keeps its remaining blocks and stays allocated with
    // nlink 0 on disk (lost, as after a crash between unlink and free).
    ip->valid = false;

    ip->lock.release();
    lock_.lock();
  }
  ip->ref--;
  lock_.unlock();
}

// Make sure the block number in `slot` (in an inode or an indirect block)
// names a block: allocate one if it is 0 and `how` allows. Returns the block
// number, 0 if it is missing and stays so.
Result<uint> fill_slot(uint dev, uint &slot, Alloc how) {
  if (slot == 0 && how != Alloc::No) slot = TRY(balloc(dev, how));
  return slot;
}

// Entry `index` of the indirect block `ind`, allocated as `how` says if
// missing (the indirect block is then logged).
Result<uint> indirect_entry(uint dev, uint ind, uint index, Alloc how) {
  BufGuard bp(dev, ind);
  if (!bp.ok()) return Error::IO;
  uint &slot = bp.words()[index];
  if (slot != 0 || how == Alloc::No) return slot;
  slot = TRY(balloc(dev, how));
  log_write(bp.get());
  return slot;
}

} // namespace

// (fs_internal.h: bmap and iblock are inode_pages.cpp's way to the blocks.)
Result<uint> bmap(Inode *ip, uint bn, Alloc how) {
  Alloc meta = how == Alloc::No ? Alloc::No : Alloc::Zeroed;
  if (bn < NDIRECT) return fill_slot(ip->dev, ip->addrs[bn], how);
  bn -= NDIRECT;

  if (bn < NINDIRECT) {
    // The singly indirect block: NINDIRECT block numbers.
    uint ind = TRY(fill_slot(ip->dev, ip->addrs[NDIRECT], meta));
    if (ind == 0) return 0u;
    return indirect_entry(ip->dev, ind, bn, how);
  }
  bn -= NINDIRECT;

  if (bn < NDINDIRECT) {
    // The doubly indirect block: NINDIRECT numbers of singly indirect
    // blocks, each covering NINDIRECT blocks of the file.
    uint dind = TRY(fill_slot(ip->dev, ip->addrs[NDIRECT + 1], meta));
    if (dind == 0) return 0u;
    uint ind = TRY(indirect_entry(ip->dev, dind, bn / NINDIRECT, meta));
    if (ind == 0) return 0u;
    return indirect_entry(ip->dev, ind, bn % NINDIRECT, how);
  }
  return Error::TooBig;
}

uint iblock(const Inode *ip) { return IBLOCK(ip->inum, sb); }

namespace {

// Free the indirect block `ind` and every block it names; with depth 2 the
// blocks it names are themselves singly indirect blocks. Errors: IO; then
// the entries freed so far are cleared in the (logged) indirect block, so
// the block pointers on disk still agree with the bitmap.
Result<void> free_indirect(uint dev, uint ind, int depth) {
  {
    BufGuard bp(dev, ind);
    if (!bp.ok()) return Error::IO;
    uint *a = bp.words();
    for (uint j = 0; j < NINDIRECT; j++) {
      if (a[j] == 0) continue;
      auto r = depth > 1 ? free_indirect(dev, a[j], depth - 1) : bfree(dev, a[j]);
      if (r.is_error()) {
        if (j > 0) {
          memset(a, 0, j * sizeof(uint));
          log_write(bp.get());
        }
        return r.error();
      }
    }
  }
  return bfree(dev, ind);
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
Result<Inode *> namex(const char *path, bool parent, char *name) {
  Inode *ip;
  if (*path == '/')
    ip = TRY(itable.get(ROOTDEV, ROOTINO));
  else
    ip = idup(myproc()->cwd);

  while ((path = skipelem(path, name)) != nullptr) {
    TRY(ilock_or_put(ip));
    if (ip->type != T_DIR) {
      iunlockput(ip);
      return Error::NotFound; // nothing is under a file
    }
    if (parent && *path == '\0') {
      iunlock(ip); // the caller locks it
      return ip;
    }
    Result<Inode *> next = Error::NotFound;
    if (ip->nlink == 0) {
      // A removed directory (some process's cwd): unlink emptied it, and
      // its ".." may name a directory that is gone too. As in Linux, only
      // "." still names it; every other name, ".." included, is missing.
      if (namecmp(name, ".") == 0) next = idup(ip);
    } else {
      next = dirlookup(ip, name, nullptr);
    }
    // Unlock ip before locking next: next may be ip itself (".") or its
    // parent (".."), and locks are only ever taken one at a time here.
    iunlockput(ip);
    ip = TRY(next);
  }
  if (parent) { // the path had no elements ("/" or "")
    iput(ip);
    return Error::NotFound;
  }
  return ip;
}

} // namespace

// ---------------------------------------------------------------- public API

void fsinit(int dev) {
  readsb(dev, &sb);
  if (sb.magic != FSMAGIC) panic("fsinit: device %d has no file system (magic %x)", dev, sb.magic);
  // Truncating a file frees its blocks in one transaction, and they may lie
  // under every bitmap block: the bitmap, plus the inode, directory and
  // directory-inode blocks unlink also writes, must fit in one operation.
  uint nbitmap = sb.size / BPB + 1;
  if (nbitmap + 4 > MAXOPBLOCKS || sb.size > MAX_FS_BLOCKS)
    panic("fsinit: %u blocks need %u bitmap blocks, too many for one transaction (MAXOPBLOCKS %d)", sb.size,
          nbitmap, MAXOPBLOCKS);
  initlog(dev, &sb);
}

void iinit() {
  // The table and its locks are constant-initialised; nothing to do. Kept so
  // boot code reads like xv6's.
}

Result<Inode *> ialloc(uint dev, short type) {
  for (uint inum = 1; inum < sb.ninodes; inum++) {
    Buf *bp = TRY(bread(dev, IBLOCK(inum, sb)));
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
  return Error::NoSpace;
}

void iupdate(Inode *ip) {
  auto r = bread(ip->dev, IBLOCK(ip->inum, sb));
  if (r.is_error()) {
    // The change cannot be logged, and the operation has gone too far to
    // be undone: the transaction must never commit (log.h).
    log_abort();
    return;
  }
  Buf *bp = r.value();
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

Result<void> ilock(Inode *ip) {
  if (ip == nullptr || ip->ref < 1) panic("ilock: inode not referenced");
  ip->lock.acquire();
  if (!ip->valid) {
    auto r = bread(ip->dev, IBLOCK(ip->inum, sb));
    if (r.is_error()) {
      ip->lock.release();
      return r.error();
    }
    Buf *bp = r.value();
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
  return {};
}

Result<void> ilock_or_put(Inode *ip) {
  auto r = ilock(ip);
  if (r.is_error()) iput(ip);
  return r;
}

void iunlock(Inode *ip) {
  if (ip == nullptr || !ip->lock.holding() || ip->ref < 1) panic("iunlock: inode not locked");
  ip->lock.release();
}

void iput(Inode *ip) { itable.put(ip); }

void iput_op(Inode *ip) {
  while (begin_op().is_error()) {
    // After the log aborted nothing can be freed: the inode is lost on
    // disk (as after a crash between unlink and close), not in memory.
    if (itable.put_without_free(ip, log_aborted())) return;
    log_wait(); // freeing it needs the log: wait for the disk to work
  }
  iput(ip);
  end_op();
}

void iunlockput(Inode *ip) {
  iunlock(ip);
  iput(ip);
}

Result<void> itrunc(Inode *ip) {
  // The cached pages go first: none may outlive the blocks they came from.
  ip->object.drop_pages(0);
  Result<void> r;
  for (uint i = 0; i < NDIRECT && r.ok(); i++) {
    if (ip->addrs[i] && (r = bfree(ip->dev, ip->addrs[i])).ok()) ip->addrs[i] = 0;
  }
  for (int depth = 1; depth <= 2 && r.ok(); depth++) {
    uint &ind = ip->addrs[NDIRECT + depth - 1];
    if (ind && (r = free_indirect(ip->dev, ind, depth)).ok()) ind = 0;
  }
  // On an error the blocks not yet freed stay attached (and the size with
  // them): the inode is consistent, just not empty.
  if (r.ok()) ip->size = 0;
  iupdate(ip);
  return r;
}

void stati(Inode *ip, struct stat *st) {
  st->dev = static_cast<int>(ip->dev);
  st->ino = ip->inum;
  st->type = ip->type;
  st->nlink = ip->nlink;
  st->size = ip->size;
}

Result<uint> readi(Inode *ip, bool user_dst, uint64 dst, uint off, uint n) {
  if (off > ip->size || off + n < off) return 0u;
  if (off + n > ip->size) n = ip->size - off;
  if (ip->type == T_FILE) return read_file_pages(ip, user_dst, dst, off, n);

  // Any other inode (a directory): its blocks through the buffer cache.
  uint tot = 0;
  while (tot < n) {
    uint m = min(n - tot, BSIZE - off % BSIZE);
    auto addr = bmap(ip, off / BSIZE, Alloc::No);
    if (addr.is_error()) return partial(tot, addr.error());
    int r;
    if (addr.value() == 0) {
      // A hole (a block never written, below the size): it reads as zeros.
      static const uchar zeros[BSIZE] = {};
      r = either_copyout(user_dst, dst, zeros + off % BSIZE, m);
    } else {
      BufGuard bp(ip->dev, addr.value());
      if (!bp.ok()) return partial(tot, Error::IO);
      r = either_copyout(user_dst, dst, bp->data + off % BSIZE, m);
    }
    if (r == -1) return Error::BadAddress; // even after some bytes, as in xv6
    tot += m;
    off += m;
    dst += m;
  }
  return tot;
}

namespace {

// Copy m bytes from src into ip's contents at off, all in one block, through
// the log; the block is allocated (zeroed) if missing.
Result<void> write_block(Inode *ip, uint off, bool user_src, uint64 src, uint m) {
  uint addr = TRY(bmap(ip, off / BSIZE, Alloc::Zeroed));
  Buf *bp = TRY(bread(ip->dev, addr));
  bool copied = either_copyin(bp->data + off % BSIZE, user_src, src, m) == 0;
  if (copied) log_write(bp);
  brelse(bp);
  if (!copied) return Error::BadAddress;
  return {};
}

} // namespace

Result<uint> writei(Inode *ip, bool user_src, uint64 src, uint off, uint n) {
  if (off > ip->size || off + n < off) return Error::Invalid;
  if (static_cast<uint64>(off) + n > static_cast<uint64>(MAXFILE) * BSIZE) return Error::TooBig;
  if (ip->type == T_FILE) return write_file_pages(ip, user_src, src, off, n);

  // Any other inode (a directory): its blocks through the log.
  uint tot = 0;
  Result<void> r;
  while (tot < n) {
    uint m = min(n - tot, BSIZE - off % BSIZE);
    // The disk full or failing, or a bad address: a short write.
    if ((r = write_block(ip, off, user_src, src, m)).is_error()) break;
    tot += m;
    off += m;
    src += m;
  }

  if (off > ip->size) ip->size = off;
  // Write the inode back even if the size did not change: bmap() may have
  // added blocks to ip->addrs.
  iupdate(ip);
  if (r.is_error()) return partial(tot, r.error());
  return tot;
}

int namecmp(const char *s, const char *t) { return strncmp(s, t, DIRSIZ); }

Result<void> read_dirent(Inode *dp, uint off, dirent *de) {
  uint got = TRY(readi(dp, false, reinterpret_cast<uint64>(de), off, sizeof(*de)));
  if (got != sizeof(*de)) return Error::IO; // the directory ends inside the entry
  return {};
}

Result<void> write_dirent(Inode *dp, uint off, const dirent *de) {
  uint put = TRY(writei(dp, false, reinterpret_cast<uint64>(de), off, sizeof(*de)));
  if (put != sizeof(*de)) return Error::IO; // the disk filled or failed part way
  return {};
}

Result<Inode *> dirlookup(Inode *dp, const char *name, uint *poff) {
  if (dp->type != T_DIR) panic("dirlookup: not a directory");

  dirent de;
  for (uint off = 0; off < dp->size; off += sizeof(de)) {
    TRY(read_dirent(dp, off, &de));
    if (de.inum == 0) continue; // a free slot
    if (namecmp(name, de.name) == 0) {
      if (poff) *poff = off;
      return itable.get(dp->dev, de.inum);
    }
  }
  return Error::NotFound;
}

Result<void> dirlink(Inode *dp, const char *name, uint inum) {
  if (dp->nlink == 0) return Error::NotFound; // a removed directory takes no new entries
  // Only a name found stops the link; a lookup that failed otherwise (a
  // disk error, a full inode table) counts as "not there".
  if (auto found = dirlookup(dp, name, nullptr); found.ok()) {
    iput(found.value());
    return Error::Exists;
  }

  // Reuse the first free slot, or append.
  dirent de;
  uint off;
  for (off = 0; off < dp->size; off += sizeof(de)) {
    TRY(read_dirent(dp, off, &de));
    if (de.inum == 0) break;
  }

  memset(&de, 0, sizeof(de));
  // name may itself be DIRSIZ bytes without a NUL (see skipelem), and is
  // stored that way too: never look past DIRSIZ bytes.
  uint len = 0;
  while (len < DIRSIZ && name[len] != '\0') len++;
  memmove(de.name, name, len);
  de.inum = static_cast<ushort>(inum);
  return write_dirent(dp, off, &de);
}

Result<Inode *> namei(const char *path) {
  char name[DIRSIZ];
  return namex(path, false, name);
}

Result<Inode *> nameiparent(const char *path, char *name) { return namex(path, true, name); }

// ---------------------------------------------------------------- statistics

// Free on-disk inodes (type 0; inode 0 is never used) and free blocks (clear
// bits in the bitmap), for memstat: the tests compare them before and after
// to find leaked inodes and blocks. Read through the buffer cache, so they
// include changes not yet committed from the log.
uint64 count_free_inodes(uint dev) {
  uint64 n = 0;
  for (uint first = 0; first < sb.ninodes; first += IPB) {
    auto r = bread(dev, IBLOCK(first, sb));
    if (r.is_error()) return 0;
    Buf *bp = r.value();
    for (uint inum = first; inum < first + IPB && inum < sb.ninodes; inum++)
      if (inum != 0 && dinode_in(bp, inum)->type == 0) n++;
    brelse(bp);
  }
  return n;
}

uint64 count_free_blocks(uint dev) {
  uint64 n = 0;
  for (uint base = 0; base < sb.size; base += BPB) {
    auto r = bread(dev, BBLOCK(base, sb));
    if (r.is_error()) return 0;
    Buf *bp = r.value();
    for (uint bi = 0; bi < BPB && base + bi < sb.size; bi++) {
      BitPos pos = bit_of(base + bi);
      if ((bp->data[pos.byte] & pos.mask) == 0) n++;
    }
    brelse(bp);
  }
  return n;
}

// A file's contents in the page cache: page I/O between disk and a frame
// (ordered mode), the inode as the page cache's pager, and read() and
// write() of a T_FILE through the cached pages (see fs.h and docs/files.md).
//
// The rest of the file system (blocks, inodes, directories, path names)
// is in fs.cpp; what the two share is in fs_internal.h.

#include "dev/virtio_blk.h"
#include "fs/buf.h"
#include "fs/fs_internal.h"
#include "fs/log.h"
#include "lib/string.h"
#include "mm/frame.h"
#include "proc/proc.h"

// ---------------------------------------------------------------- page I/O

namespace {

constexpr uint64 PAGE = 4096;
constexpr uint BLOCKS_PER_PAGE = PAGE / BSIZE;
constexpr uint64 SECTORS_PER_BLOCK = BSIZE / 512;
static_assert(PAGE % BSIZE == 0 && PAGE <= VIRTIO_RAW_MAX);

// Transfer blocks [first, first+n) of a page to or from their disk blocks
// addrs[first..], one virtio request per run of consecutive disk blocks.
// addrs[i] == 0 marks a block not to transfer.
Result<void> page_io(const uint addrs[BLOCKS_PER_PAGE], uint first, uint n, uchar *page, bool write) {
  uint i = first;
  while (i < first + n) {
    if (addrs[i] == 0) {
      i++;
      continue;
    }
    uint run = 1;
    while (i + run < first + n && addrs[i + run] != 0 && addrs[i + run] == addrs[i] + run) run++;
    TRY(virtio_disk_rw_raw(static_cast<uint64>(addrs[i]) * SECTORS_PER_BLOCK, page + i * BSIZE, run * BSIZE,
                           write));
    i += run;
  }
  return {};
}

} // namespace

Result<void> inode_read_page(Inode *ip, uint64 index, void *page) {
  uchar *p = static_cast<uchar *>(page);
  uint64 start = index * PAGE;
  if (index >= (static_cast<uint64>(MAXFILE) * BSIZE + PAGE - 1) / PAGE || start >= ip->size) {
    memset(p, 0, PAGE);
    return {};
  }
  // Blocks of the page below the size: those are read (or zeroed, for
  // holes); the rest of the page is zeros.
  uint64 valid = min(static_cast<uint>(PAGE), static_cast<uint>(ip->size - start));
  uint nblocks = static_cast<uint>((valid + BSIZE - 1) / BSIZE);
  uint addrs[BLOCKS_PER_PAGE] = {};
  uint first_bn = static_cast<uint>(index * BLOCKS_PER_PAGE);
  for (uint i = 0; i < nblocks; i++) {
    addrs[i] = TRY(bmap(ip, first_bn + i, Alloc::No));
    if (addrs[i] == 0) {
      memset(p + i * BSIZE, 0, BSIZE); // a hole
    } else if (log_pending(ip->dev, addrs[i])) {
      // Overwritten through the log (inode_write_page) and not installed
      // yet: the disk still has the old bytes, the cache the new ones.
      BufGuard b(ip->dev, addrs[i]);
      if (!b.ok()) return Error::IO;
      memmove(p + i * BSIZE, b->data, BSIZE);
      addrs[i] = 0;
    }
  }
  TRY(page_io(addrs, 0, nblocks, p, false));
  // The last block may hold bytes past the end of the file (whatever the
  // last full-block write left there): they read as zeros.
  memset(p + valid, 0, PAGE - valid);
  return {};
}

Result<void> inode_write_page(Inode *ip, uint64 index, const void *page, uint64 size, bool may_allocate) {
  uint64 start = index * PAGE;
  if (start >= size) return {}; // no byte of the page is in the file
  if (size > static_cast<uint64>(MAXFILE) * BSIZE) return Error::TooBig;
  uint in_file = min(static_cast<uint>(PAGE), static_cast<uint>(size - start)); // bytes of the page
  uint nblocks = (in_file + BSIZE - 1) / BSIZE;
  uint first_bn = static_cast<uint>(index * BLOCKS_PER_PAGE);

  // Find (or allocate) every block first. If allocation fails half way, the
  // blocks already allocated are still written below: they are attached to
  // the inode (the caller's transaction commits that), so they must not
  // keep a former file's bytes.
  //
  // The blocks the file already has are overwritten in place when they are
  // consecutive on disk: one request, which the disk does whole. Otherwise
  // (the first block behind an indirect block is never next to the one
  // before it) in place would take several requests, and a crash between
  // two would leave the page part old, part new: they go through the log
  // instead, with the caller's transaction, and the page is all old or all
  // new after a crash. New blocks are written in place (ordered mode): no
  // pointer to them is on disk before the caller's commit.
  const uchar *src = static_cast<const uchar *>(page);
  uint addrs[BLOCKS_PER_PAGE] = {};
  uint old_addrs[NDIRECT + 2];
  memmove(old_addrs, ip->addrs, sizeof(old_addrs));
  Result<void> status;
  uint have = 0, last = 0;
  bool one_request = true;
  for (uint i = 0; i < nblocks; i++) {
    auto r = bmap(ip, first_bn + i, Alloc::No);
    if (r.is_error()) return r.error();
    addrs[i] = r.value();
    if (addrs[i] == 0) continue;
    if (have > 0 && (addrs[i - 1] == 0 || addrs[i] != last + 1)) one_request = false;
    last = addrs[i];
    have++;
  }
  for (uint i = 0; i < nblocks; i++) {
    if (addrs[i] != 0 && !one_request) {
      Buf *b = TRY(bread(ip->dev, addrs[i]));
      memmove(b->data, src + i * BSIZE, BSIZE);
      log_write(b);
      brelse(b);
      addrs[i] = 0; // not in place
      continue;
    }
    if (addrs[i] != 0) continue;
    if (!may_allocate) {
      status = Error::NotFound; // missing, and allocation not allowed
      break;
    }
    auto r = bmap(ip, first_bn + i, Alloc::Data);
    if (r.is_error()) {
      status = r.error();
      break;
    }
    addrs[i] = r.value();
  }
  if (memcmp(old_addrs, ip->addrs, sizeof(old_addrs)) != 0) iupdate(ip);

  // Ordered mode: the blocks written in place reach the disk before this
  // returns, so the caller's end_op() commits block pointers only to
  // written blocks.
  TRY(page_io(addrs, 0, nblocks, const_cast<uchar *>(src), true));
  return status;
}

// ---------------------------------------------------------------- the pager

// The page cache reads a page in under the inode's lock: a fault takes it
// here; readi's caller already holds it.
bool Inode::lock_io() {
  if (lock.holding()) return false;
  lock.acquire();
  return true;
}

void Inode::unlock_io() { lock.release(); }

Result<void> Inode::read_page(uint64 index, void *page) { return inode_read_page(this, index, page); }

// Write back a page a MAP_SHARED mapping dirtied: its blocks below the size
// (a store past the end of the file never grows it), in place. A block the
// file does not have yet (a hole) is allocated in a transaction.
Result<void> Inode::write_page(uint64 index, const void *page) {
  TRY(begin_op());
  lock.acquire();
  auto r = inode_write_page(this, index, page, size, true);
  lock.release();
  end_op();
  return r;
}

void Inode::hold() { idup(this); }

void Inode::release() { iput_op(this); }

// ---------------------------------------------------------------- read() and write()

// readi of a T_FILE. File data comes from the page cache (the caller holds
// the lock, which read_page sees), so it is the same bytes that mappings
// show.
Result<uint> read_file_pages(Inode *ip, bool user_dst, uint64 dst, uint off, uint n) {
  uint tot = 0;
  while (tot < n) {
    auto page = ip->object.get_page(off / mm::PAGE_SIZE);
    if (page.is_error()) return partial(tot, page.error());
    uint m = min(n - tot, static_cast<uint>(mm::PAGE_SIZE - off % mm::PAGE_SIZE));
    int r = either_copyout(user_dst, dst, mm::phys_to_ptr<uchar>(page.value()) + off % mm::PAGE_SIZE, m);
    mm::frames.release(page.value());
    if (r == -1) return Error::BadAddress; // even after some bytes, as in xv6
    tot += m;
    off += m;
    dst += m;
  }
  return tot;
}

Result<uint> file_read(Inode *ip, uint64 dst, uint *off, uint n) {
  uint tot = 0;
  while (tot < n) {
    if (killed(myproc())) break; // a long read stops when the reader is killed
    if (auto r = ilock(ip); r.is_error()) return partial(tot, r.error());
    uint size = ip->size;
    iunlock(ip);
    if (*off >= size) break;
    uint64 pos = *off;
    auto page = ip->object.get_page(pos / mm::PAGE_SIZE);   // takes the lock on a miss
    if (page.is_error()) return partial(tot, page.error()); // no memory, or a disk error
    uint m = min(min(n - tot, static_cast<uint>(mm::PAGE_SIZE - pos % mm::PAGE_SIZE)), size - *off);
    int r = either_copyout(true, dst, mm::phys_to_ptr<uchar>(page.value()) + pos % mm::PAGE_SIZE, m);
    mm::frames.release(page.value());
    if (r == -1) return partial(tot, Error::BadAddress);
    tot += m;
    *off += m;
    dst += m;
  }
  return tot;
}

namespace {

// Copy m bytes from src into ip's cached page at offset off (all in that
// page) and write the page through to its blocks (allocating them); the
// file grows to off + m if that is past its end.
Result<void> write_file_page(Inode *ip, uint off, bool user_src, uint64 src, uint m) {
  uint64 index = off / mm::PAGE_SIZE, in = off % mm::PAGE_SIZE;
  mm::PhysAddr frame = TRY(ip->object.get_page(index)); // read in under our lock if missing
  uchar *p = mm::phys_to_ptr<uchar>(frame);
  Result<void> r = Error::BadAddress;
  if (either_copyin(p + in, user_src, src, m) == 0) {
    uint64 end = static_cast<uint64>(off) + m;
    uint64 size = end > ip->size ? end : ip->size;
    // A new end of file inside this page: what follows it reads as zeros
    // (a MAP_SHARED store past the old end may have left bytes there).
    if (size == end && end % mm::PAGE_SIZE)
      memset(p + end % mm::PAGE_SIZE, 0, mm::PAGE_SIZE - end % mm::PAGE_SIZE);
    r = inode_write_page(ip, index, p, size, true);
    if (r.ok()) ip->size = static_cast<uint>(size);
  }
  mm::frames.release(frame);
  return r;
}

} // namespace

// write() of a T_FILE: into the cached pages (so mappings and read() see it
// at once), each page written through to its blocks in place before the
// caller's transaction commits the block pointers and the size (ordered
// mode). The source should be a kernel buffer (filewrite's bounce page): a
// fault on user memory here would happen under the inode lock.
Result<uint> write_file_pages(Inode *ip, bool user_src, uint64 src, uint off, uint n) {
  // The inode's block stays in the buffer cache until the iupdates below:
  // they must not need a disk read, since one that failed there could not
  // be undone (log.h). The page writes may use many buffers meanwhile.
  Buf *inode_block = TRY(bread(ip->dev, iblock(ip)));
  bpin(inode_block);
  brelse(inode_block);
  uint tot = 0;
  Result<void> r;
  while (tot < n) {
    uint m = min(n - tot, static_cast<uint>(mm::PAGE_SIZE - off % mm::PAGE_SIZE));
    // No memory, the disk full or failing, or a bad address: a short write.
    if ((r = write_file_page(ip, off, user_src, src, m)).is_error()) break;
    tot += m;
    off += m;
    src += m;
  }
  iupdate(ip); // the size, and block pointers bmap may have added
  bunpin(inode_block);
  if (r.is_error()) return partial(tot, r.error());
  return tot;
}

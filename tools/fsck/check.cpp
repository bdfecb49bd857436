// The file system checker (see check.h).

#include "check.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

// kernel/stat.h for T_DIR and friends; its struct stat would clash with the
// host's, so it is declared under another name here.
#define stat xv6_stat
#include "kernel/stat.h"
#undef stat

namespace fsck {

static_assert(std::endian::native == std::endian::little, "fsck assumes a little-endian host");
static_assert(sizeof(dinode) == 64);

namespace {

constexpr uint SUPER_BLOCK = 1;
constexpr size_t MAX_REPORTS_PER_KIND = 20; // then "... and N more"

const uint8_t ZEROS[BSIZE] = {};

std::string str(uint v) { return std::to_string(v); }

} // namespace

const uint8_t *Disk::block(uint b) const {
  size_t at = static_cast<size_t>(b) * BSIZE;
  if (at + BSIZE > len) return nullptr;
  return data + at;
}

uint8_t *Disk::mutable_block(uint b) {
  size_t at = static_cast<size_t>(b) * BSIZE;
  if (at + BSIZE > len) return nullptr;
  return data + at;
}

uint Disk::word(uint b, uint i) const {
  const uint8_t *p = block(b);
  if (p == nullptr) return 0;
  uint v;
  std::memcpy(&v, p + i * sizeof(uint), sizeof(v));
  return v;
}

namespace {

// The log header's layout (kernel/fs/log.cpp): n, then n home block numbers.
struct LogHead {
  int n;
  int block[(BSIZE - sizeof(int)) / sizeof(int)];
};
static_assert(sizeof(LogHead) == BSIZE);

class Checker {
public:
  Checker(Disk &disk, bool replay, Report &r) : disk_(disk), replay_(replay), r_(r) {}

  void run() {
    if (!superblock_ok()) return;
    log();
    owner_.assign(sb_.size, 0);
    walk_inodes();
    walk_tree();
    link_counts();
    bitmap();
    flush_counts();
  }

private:
  // A problem of some kind; at most MAX_REPORTS_PER_KIND of each are
  // spelled out.
  void problem(const std::string &kind, const std::string &text) {
    size_t &n = counts_[kind];
    if (n++ < MAX_REPORTS_PER_KIND) r_.problems.push_back(text);
  }
  void flush_counts() {
    for (auto &[kind, n] : counts_)
      if (n > MAX_REPORTS_PER_KIND)
        r_.problems.push_back("... and " + std::to_string(n - MAX_REPORTS_PER_KIND) + " more: " + kind);
  }

  const uint8_t *block(uint b) const {
    const uint8_t *p = disk_.block(b);
    return p ? p : ZEROS;
  }

  // ---- superblock
  bool superblock_ok() {
    const uint8_t *p = disk_.block(SUPER_BLOCK);
    if (p == nullptr) {
      r_.problems.push_back("image too small for a superblock (" + std::to_string(disk_.len) + " bytes)");
      return false;
    }
    std::memcpy(&sb_, p, sizeof(sb_));
    if (sb_.magic != FSMAGIC) {
      char m[32];
      std::snprintf(m, sizeof m, "0x%x", sb_.magic);
      r_.problems.push_back(std::string("superblock: bad magic ") + m + " (not a cowix file system)");
      return false;
    }
    bool ok = true;
    auto bad = [&](const std::string &what) {
      r_.problems.push_back("superblock: " + what);
      ok = false;
    };
    size_t disk_blocks = disk_.len / BSIZE;
    if (sb_.size > disk_blocks)
      bad("size " + str(sb_.size) + " blocks, but the image holds only " + std::to_string(disk_blocks));
    if (sb_.ninodes < 2 || sb_.ninodes > 0x10000) bad("ninodes " + str(sb_.ninodes) + " out of range");
    if (sb_.nlog < 2) bad("log of " + str(sb_.nlog) + " blocks is too small");
    if (sb_.logstart < 2) bad("log starts at block " + str(sb_.logstart) + ", inside the boot/super blocks");
    uint64_t ninodeblocks = sb_.ninodes / IPB + 1;
    uint64_t nbitmap = sb_.size / BPB + 1;
    if (static_cast<uint64_t>(sb_.logstart) + sb_.nlog > sb_.inodestart)
      bad("inode blocks (at " + str(sb_.inodestart) + ") overlap the log");
    if (sb_.inodestart + ninodeblocks > sb_.bmapstart)
      bad("bitmap (at " + str(sb_.bmapstart) + ") overlaps the inode blocks");
    datastart_ = static_cast<uint64_t>(sb_.bmapstart) + nbitmap;
    if (datastart_ >= sb_.size)
      bad("no room for data blocks (metadata ends at " + std::to_string(datastart_) + ")");
    else if (sb_.nblocks != sb_.size - datastart_)
      bad("nblocks " + str(sb_.nblocks) + ", expected " + std::to_string(sb_.size - datastart_));
    return ok;
  }

  // ---- the log
  void log() {
    LogHead lh;
    std::memcpy(&lh, block(sb_.logstart), sizeof(lh));
    int max = static_cast<int>(std::min<uint>(sb_.nlog - 1, sizeof(lh.block) / sizeof(int)));
    if (lh.n == 0) return;
    if (lh.n < 0 || lh.n > max) {
      r_.problems.push_back("log header: count " + std::to_string(lh.n) + " out of range (0.." +
                            std::to_string(max) + "): the kernel will refuse to boot");
      return;
    }
    for (int i = 0; i < lh.n; i++) {
      if (lh.block[i] < 2 || static_cast<uint>(lh.block[i]) >= sb_.size ||
          (static_cast<uint>(lh.block[i]) >= sb_.logstart &&
           static_cast<uint>(lh.block[i]) < sb_.logstart + sb_.nlog)) {
        r_.problems.push_back("log header: entry " + std::to_string(i) + " names block " +
                              std::to_string(lh.block[i]) + ", outside the file system or inside the log");
        return;
      }
    }
    if (!replay_) {
      r_.problems.push_back("log: a committed transaction of " + std::to_string(lh.n) +
                            " blocks was never installed (a crash); the kernel replays it at boot, "
                            "fsck --replay installs it now");
      return;
    }
    for (int i = 0; i < lh.n; i++) {
      uint8_t *to = disk_.mutable_block(static_cast<uint>(lh.block[i]));
      const uint8_t *from = block(sb_.logstart + 1 + static_cast<uint>(i));
      if (to == nullptr) {
        r_.problems.push_back("log: cannot install block " + std::to_string(lh.block[i]) +
                              ": past the image's end");
        return;
      }
      std::memcpy(to, from, BSIZE);
    }
    uint8_t *head = disk_.mutable_block(sb_.logstart);
    int zero = 0;
    std::memcpy(head, &zero, sizeof(zero));
    r_.notes.push_back("log: installed a committed transaction of " + std::to_string(lh.n) + " blocks");
  }

  // ---- inodes and their blocks
  dinode inode(uint inum) const {
    dinode di;
    std::memcpy(&di, block(IBLOCK(inum, sb_)) + (inum % IPB) * sizeof(dinode), sizeof(di));
    return di;
  }

  // Record that inode inum uses block b (as `what`); false if b is not a
  // valid data block (then it must not be followed).
  bool use(uint inum, uint b, const char *what) {
    if (b < datastart_ || b >= sb_.size) {
      problem("block out of range", "inode " + str(inum) + ": " + what + " block " + str(b) +
                                        " is outside the data area [" + std::to_string(datastart_) + ", " +
                                        str(sb_.size) + ")");
      return false;
    }
    if (owner_[b] != 0) {
      problem("block used twice", "block " + str(b) + " is used twice: by inode " + str(owner_[b]) +
                                      " and by inode " + str(inum) + " (" + what + ")");
      return false;
    }
    owner_[b] = inum;
    return true;
  }

  // The blocks of file block numbers [first, first + count) named by the
  // indirect block ind (depth 1: data blocks; depth 2: singly indirect
  // blocks). Blocks at or past `nblocks` (the size) must be 0.
  void walk_indirect(uint inum, uint ind, int depth, uint64_t first, uint64_t nblocks) {
    uint64_t span = depth == 1 ? 1 : NINDIRECT;
    for (uint i = 0; i < NINDIRECT; i++) {
      uint b = disk_.word(ind, i);
      if (b == 0) continue;
      uint64_t fbn = first + i * span;
      if (fbn >= nblocks) {
        problem("block past the size", "inode " + str(inum) + ": block " + str(b) + " at file block " +
                                           std::to_string(fbn) + " lies past its size");
      }
      if (!use(inum, b, depth == 1 ? "data" : "indirect")) continue;
      if (depth == 2) walk_indirect(inum, b, 1, fbn, nblocks);
    }
  }

  void walk_inodes() {
    inodes_.resize(sb_.ninodes);
    for (uint inum = 1; inum < sb_.ninodes; inum++) {
      dinode di = inode(inum);
      inodes_[inum] = di;
      if (di.type == 0) continue;
      r_.inodes_used++;
      if (di.type != T_DIR && di.type != T_FILE && di.type != T_DEVICE) {
        problem("bad inode type", "inode " + str(inum) + ": unknown type " + std::to_string(di.type));
        continue;
      }
      if (di.size > static_cast<uint64_t>(MAXFILE) * BSIZE) {
        problem("size too large",
                "inode " + str(inum) + ": size " + str(di.size) + " is past MAXFILE blocks");
      }
      if (di.type == T_DIR && di.size % sizeof(dirent) != 0)
        problem("directory size",
                "directory " + str(inum) + ": size " + str(di.size) + " is not a multiple of the entry size");
      uint64_t nblocks = (static_cast<uint64_t>(di.size) + BSIZE - 1) / BSIZE;
      for (uint i = 0; i < NDIRECT; i++) {
        if (di.addrs[i] == 0) continue;
        if (i >= nblocks)
          problem("block past the size", "inode " + str(inum) + ": block " + str(di.addrs[i]) +
                                             " at file block " + str(i) + " lies past its size");
        use(inum, di.addrs[i], "data");
      }
      if (uint ind = di.addrs[NDIRECT]) {
        if (nblocks <= NDIRECT)
          problem("block past the size", "inode " + str(inum) + ": has a singly indirect block (" + str(ind) +
                                             ") but only " + std::to_string(nblocks) + " blocks of data");
        if (use(inum, ind, "singly indirect")) walk_indirect(inum, ind, 1, NDIRECT, nblocks);
      }
      if (uint dind = di.addrs[NDIRECT + 1]) {
        if (nblocks <= NDIRECT + NINDIRECT)
          problem("block past the size", "inode " + str(inum) + ": has a doubly indirect block (" +
                                             str(dind) + ") but only " + std::to_string(nblocks) +
                                             " blocks of data");
        if (use(inum, dind, "doubly indirect")) walk_indirect(inum, dind, 2, NDIRECT + NINDIRECT, nblocks);
      }
    }
  }

  // The disk block of file block fbn of inode di (0: a hole).
  uint bmap(const dinode &di, uint64_t fbn) const {
    if (fbn < NDIRECT) return di.addrs[fbn];
    fbn -= NDIRECT;
    if (fbn < NINDIRECT)
      return valid(di.addrs[NDIRECT]) ? disk_.word(di.addrs[NDIRECT], static_cast<uint>(fbn)) : 0;
    fbn -= NINDIRECT;
    if (fbn >= NDINDIRECT || !valid(di.addrs[NDIRECT + 1])) return 0;
    uint ind = disk_.word(di.addrs[NDIRECT + 1], static_cast<uint>(fbn / NINDIRECT));
    return valid(ind) ? disk_.word(ind, static_cast<uint>(fbn % NINDIRECT)) : 0;
  }
  bool valid(uint b) const { return b >= datastart_ && b < sb_.size; }

  std::vector<std::pair<std::string, uint>> entries(uint inum) const {
    const dinode &di = inodes_[inum];
    std::vector<std::pair<std::string, uint>> out;
    uint size = std::min<uint>(di.size, MAXFILE * BSIZE);
    for (uint off = 0; off + sizeof(dirent) <= size; off += sizeof(dirent)) {
      uint b = bmap(di, off / BSIZE);
      dirent de;
      std::memcpy(&de, (valid(b) ? block(b) : ZEROS) + off % BSIZE, sizeof(de));
      out.emplace_back(std::string(de.name, strnlen(de.name, DIRSIZ)), de.inum);
    }
    return out;
  }

  // ---- the directory tree
  void walk_tree() {
    refs_.assign(sb_.ninodes, 0);
    reached_.assign(sb_.ninodes, false);
    if (inodes_[ROOTINO].type != T_DIR) {
      r_.problems.push_back("the root (inode " + str(ROOTINO) + ") is not a directory");
      return;
    }
    refs_[ROOTINO]++; // the root counts one link for itself (mkfs)
    std::vector<std::pair<uint, uint>> todo = {{ROOTINO, ROOTINO}}; // (dir, parent)
    reached_[ROOTINO] = true;
    while (!todo.empty()) {
      auto [dir, parent] = todo.back();
      todo.pop_back();
      auto es = entries(dir);
      if (es.size() < 2 || es[0].first != "." || es[0].second != dir)
        problem("dot", "directory " + str(dir) + ": its first entry is not \".\" naming itself");
      if (es.size() < 2 || es[1].first != ".." || es[1].second != parent)
        problem("dotdot", "directory " + str(dir) + ": its second entry is not \"..\" naming its parent " +
                              str(parent));
      for (size_t i = 0; i < es.size(); i++) {
        auto &[name, inum] = es[i];
        if (inum == 0) continue;
        bool dot = i == 0 && name == ".", dotdot = i == 1 && name == "..";
        if (inum >= sb_.ninodes) {
          problem("bad entry", "directory " + str(dir) + ": entry '" + name + "' names inode " + str(inum) +
                                   ", past the last (" + str(sb_.ninodes - 1) + ")");
          continue;
        }
        if (inodes_[inum].type == 0) {
          problem("bad entry",
                  "directory " + str(dir) + ": entry '" + name + "' names free inode " + str(inum));
          continue;
        }
        if (dot) continue;                   // "." never counts
        if (dotdot) {                        // ".." counts for the parent,
          if (dir != ROOTINO) refs_[inum]++; // except the root's own
          continue;
        }
        if (name == "." || name == "..") {
          problem("bad entry", "directory " + str(dir) + ": a second '" + name + "' entry");
          continue;
        }
        refs_[inum]++;
        if (inodes_[inum].type == T_DIR) {
          if (reached_[inum]) {
            problem("directory linked twice",
                    "directory " + str(inum) + " has a second name '" + name + "' in directory " + str(dir));
            continue;
          }
          reached_[inum] = true;
          todo.emplace_back(inum, dir);
        } else {
          reached_[inum] = true;
        }
      }
    }
  }

  void link_counts() {
    for (uint inum = 1; inum < sb_.ninodes; inum++) {
      const dinode &di = inodes_[inum];
      if (di.type == 0) continue;
      if (!reached_[inum]) {
        problem("unreachable inode",
                "inode " + str(inum) + " (type " + std::to_string(di.type) + ", nlink " +
                    std::to_string(di.nlink) + ", size " + str(di.size) +
                    ") is allocated but no directory names it" +
                    (di.nlink == 0 ? " (a file still open when the system stopped?)" : ""));
        continue;
      }
      if (static_cast<uint>(di.nlink) != refs_[inum])
        problem("link count", "inode " + str(inum) + ": nlink " + std::to_string(di.nlink) + ", but " +
                                  str(refs_[inum]) + " links found");
    }
  }

  // ---- the bitmap
  bool bit(uint b) const {
    const uint8_t *bm = block(BBLOCK(b, sb_));
    uint bi = b % BPB;
    return bm[bi / 8] & (1u << (bi % 8));
  }

  void bitmap() {
    for (uint b = 0; b < sb_.size; b++) {
      bool used = bit(b);
      if (used) r_.blocks_used++;
      bool meta = b < datastart_;
      bool owned = owner_[b] != 0;
      if (meta && !used)
        problem("metadata free", "block " + str(b) + " (metadata) is marked free in the bitmap");
      else if (!meta && used && !owned)
        problem("leaked block", "block " + str(b) + " is marked in use but no inode uses it");
      else if (owned && !used)
        problem("free block in use",
                "block " + str(b) + " is used by inode " + str(owner_[b]) + " but marked free in the bitmap");
    }
  }

  Disk &disk_;
  bool replay_;
  Report &r_;
  superblock sb_{};
  uint64_t datastart_ = 0;
  std::vector<dinode> inodes_;
  std::vector<uint> owner_; // block -> the inode that uses it, or 0
  std::vector<uint> refs_;  // links found, per inode
  std::vector<bool> reached_;
  std::map<std::string, size_t> counts_;
};

} // namespace

Report check(Disk &disk, bool replay) {
  Report r;
  Checker(disk, replay, r).run();
  return r;
}

} // namespace fsck

// Building an xv6-format file system image (see image.h).

#include "image.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace mkfs {

// The image is written with the host's byte order; the disk format and
// RISC-V are little-endian.
static_assert(std::endian::native == std::endian::little, "mkfs assumes a little-endian host");
static_assert(BSIZE % sizeof(dinode) == 0, "inodes must not straddle blocks");
static_assert(BSIZE % sizeof(dirent) == 0, "directory entries must not straddle blocks");

namespace {

constexpr uint SUPER_BLOCK = 1;
constexpr uint LOG_START = 2;
constexpr uint MAX_INUM = 0xffff; // dirent.inum is a ushort

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// Indirect blocks (singly and doubly) a file of n blocks has.
size_t indirect_blocks(size_t n) {
  size_t ind = 0;
  if (n > NDIRECT) ind++; // the singly indirect block
  if (n > NDIRECT + NINDIRECT) {
    size_t d = n - NDIRECT - NINDIRECT;
    ind += 1 + (d + NINDIRECT - 1) / NINDIRECT; // the doubly indirect block and its children
  }
  return ind;
}

} // namespace

Layout Layout::compute(uint size, uint ninodes) {
  Layout l;
  l.size = size;
  l.ninodes = ninodes;
  l.nlog = LOGSIZE + 1; // header block + LOGSIZE data blocks
  l.ninodeblocks = ninodes / IPB + 1;
  l.nbitmap = size / BPB + 1;
  l.nmeta = LOG_START + l.nlog + l.ninodeblocks + l.nbitmap;
  if (ninodes < 2 || ninodes > MAX_INUM + 1)
    throw Error("the inode count must be between 2 and " + std::to_string(MAX_INUM + 1));
  // Room for the metadata and the root directory's first block.
  if (size <= l.nmeta)
    throw Error("an image of " + std::to_string(size) + " blocks is too small (the metadata alone takes " +
                std::to_string(l.nmeta) + ")");
  l.nblocks = size - l.nmeta;
  return l;
}

superblock Layout::superblock_for() const {
  superblock sb{};
  sb.magic = FSMAGIC;
  sb.size = size;
  sb.nblocks = nblocks;
  sb.ninodes = ninodes;
  sb.nlog = nlog;
  sb.logstart = LOG_START;
  sb.inodestart = LOG_START + nlog;
  sb.bmapstart = LOG_START + nlog + ninodeblocks;
  return sb;
}

FileArg parse_file_arg(std::string_view arg) {
  // NAME=PATH, where NAME cannot contain a '/' (so "dir/a=b" is a path).
  size_t eq = arg.find('=');
  if (eq != std::string_view::npos && arg.substr(0, eq).find('/') == std::string_view::npos) {
    return {std::string(arg.substr(0, eq)), std::string(arg.substr(eq + 1))};
  }
  std::string_view base = arg;
  size_t slash = base.rfind('/');
  if (slash != std::string_view::npos) base = base.substr(slash + 1);
  if (base.size() > 1 && base[0] == '_') base.remove_prefix(1); // xv6: _ls is ls
  return {std::string(base), std::string(arg)};
}

void Image::check_name(std::string_view name) {
  if (name.empty()) throw Error("empty file name");
  if (name.size() > DIRSIZ)
    throw Error("file name " + quoted(name) + " is longer than " + std::to_string(DIRSIZ) + " bytes");
  if (name == "." || name == "..") throw Error("file name " + quoted(name) + " is reserved");
  if (name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos)
    throw Error("file name " + quoted(name) + " contains '/' or NUL");
}

Image::Image(uint size, uint ninodes)
    : layout_(Layout::compute(size, ninodes)), sb_(layout_.superblock_for()) {
  // Only blocks [0, next_block_) are kept; the rest of the image is zeros.
  // Reserving the whole image up front costs no memory until blocks are
  // used (the host allocator maps it lazily) and keeps block() pointers
  // valid while the used part grows.
  img_.reserve(static_cast<size_t>(size) * BSIZE);
  img_.resize(static_cast<size_t>(layout_.nmeta) * BSIZE, 0);

  // The boot block (0), superblock, log, inode and bitmap blocks are in use
  // from the start; data blocks are handed out after them, in order.
  while (next_block_ < layout_.nmeta) alloc_block();
  std::memcpy(block(SUPER_BLOCK), &sb_, sizeof(sb_));

  uint root = alloc_inode(T_DIR);
  if (root != ROOTINO) throw Error("internal: root is not inode " + std::to_string(ROOTINO));
  add_dirent(root, ".", root);
  add_dirent(root, "..", root); // the root is its own parent
}

dinode Image::read_inode(uint inum) const {
  dinode di;
  size_t at = static_cast<size_t>(IBLOCK(inum, sb_)) * BSIZE + (inum % IPB) * sizeof(dinode);
  std::memcpy(&di, &img_[at], sizeof(di));
  return di;
}

void Image::write_inode(uint inum, const dinode &di) {
  size_t at = static_cast<size_t>(IBLOCK(inum, sb_)) * BSIZE + (inum % IPB) * sizeof(dinode);
  std::memcpy(&img_[at], &di, sizeof(di));
}

uint Image::alloc_inode(short type) {
  // The kernel's ialloc() scans inums 1 .. ninodes-1.
  if (next_inum_ >= layout_.ninodes) throw Error("out of inodes");
  uint inum = next_inum_++;
  dinode di{};
  di.type = type;
  di.nlink = 1;
  write_inode(inum, di);
  return inum;
}

uint Image::alloc_block() {
  if (next_block_ >= layout_.size) throw Error("disk full");
  uint b = next_block_++;
  img_.resize(std::max(img_.size(), static_cast<size_t>(next_block_) * BSIZE), 0);
  uint8_t *bitmap = block(BBLOCK(b, sb_));
  uint bi = b % BPB;
  bitmap[bi / 8] |= static_cast<uint8_t>(1u << (bi % 8));
  return b;
}

uint Image::blocks_needed(uint inum, size_t n) const {
  dinode di = read_inode(inum);
  size_t first = (di.size + BSIZE - 1) / BSIZE; // blocks already there
  size_t last = (di.size + n + BSIZE - 1) / BSIZE;
  // Files only grow at the end, so the indirect blocks already there are
  // exactly those of a file of `first` blocks.
  size_t need = last - first + indirect_blocks(last) - indirect_blocks(first);
  return static_cast<uint>(need);
}

uint *Image::slot_of(dinode &di, uint fbn) {
  if (fbn < NDIRECT) return &di.addrs[fbn];
  fbn -= NDIRECT;
  // The entry `i` of the indirect block named by `slot`, allocating that
  // block if it is missing.
  auto entry = [this](uint &slot, uint i) -> uint * {
    if (slot == 0) slot = alloc_block(); // zeroed: fresh blocks are zeros
    return reinterpret_cast<uint *>(block(slot)) + i;
  };
  if (fbn < NINDIRECT) return entry(di.addrs[NDIRECT], fbn);
  fbn -= NINDIRECT;
  if (fbn >= NDINDIRECT) throw Error("internal: block beyond MAXFILE");
  uint *ind = entry(di.addrs[NDIRECT + 1], fbn / NINDIRECT);
  return entry(*ind, fbn % NINDIRECT);
}

uint Image::bmap(const dinode &di, uint fbn) const {
  auto word = [this](uint b, uint i) {
    uint v;
    std::memcpy(&v, &img_[static_cast<size_t>(b) * BSIZE + i * sizeof(uint)], sizeof(v));
    return v;
  };
  if (fbn < NDIRECT) return di.addrs[fbn];
  fbn -= NDIRECT;
  if (fbn < NINDIRECT) return word(di.addrs[NDIRECT], fbn);
  fbn -= NINDIRECT;
  return word(word(di.addrs[NDIRECT + 1], fbn / NINDIRECT), fbn % NINDIRECT);
}

void Image::append(uint inum, const void *data, size_t n) {
  dinode di = read_inode(inum);
  if (di.size + n > static_cast<size_t>(MAXFILE) * BSIZE)
    throw Error("file too large: at most " + std::to_string(MAXFILE * BSIZE) + " bytes");
  if (blocks_needed(inum, n) > free_blocks()) throw Error("disk full");

  const uint8_t *src = static_cast<const uint8_t *>(data);
  uint off = di.size;
  while (n > 0) {
    uint *slot = slot_of(di, off / BSIZE);
    if (*slot == 0) *slot = alloc_block();
    size_t m = std::min<size_t>(n, BSIZE - off % BSIZE);
    std::memcpy(block(*slot) + off % BSIZE, src, m);
    src += m;
    off += static_cast<uint>(m);
    n -= m;
  }
  di.size = off;
  write_inode(inum, di);
}

bool Image::has_entry(uint dir, std::string_view name) const {
  dinode di = read_inode(dir);
  for (uint off = 0; off < di.size; off += sizeof(dirent)) {
    uint b = bmap(di, off / BSIZE);
    dirent de;
    std::memcpy(&de, &img_[static_cast<size_t>(b) * BSIZE + off % BSIZE], sizeof(de));
    if (de.inum != 0 && std::string_view(de.name, strnlen(de.name, DIRSIZ)) == name) return true;
  }
  return false;
}

void Image::add_dirent(uint dir, std::string_view name, uint inum) {
  dirent de{};
  de.inum = static_cast<ushort>(inum);
  std::memcpy(de.name, name.data(), name.size()); // no NUL if exactly DIRSIZ
  append(dir, &de, sizeof(de));
}

uint Image::add_file(std::string_view name, std::span<const uint8_t> contents) {
  check_name(name);
  if (has_entry(ROOTINO, name)) throw Error("duplicate file name " + quoted(name));
  if (contents.size() > static_cast<size_t>(MAXFILE) * BSIZE)
    throw Error("file " + quoted(name) + " is too large (" + std::to_string(contents.size()) +
                " bytes; at most " + std::to_string(MAXFILE * BSIZE) + ")");
  if (next_inum_ >= layout_.ninodes) throw Error("out of inodes for " + quoted(name));
  // Blocks for the contents (a fresh inode), plus perhaps one more block of
  // root directory entries.
  size_t data_blocks = (contents.size() + BSIZE - 1) / BSIZE;
  uint need = static_cast<uint>(data_blocks + indirect_blocks(data_blocks)) +
              blocks_needed(ROOTINO, sizeof(dirent));
  if (need > free_blocks())
    throw Error("disk full: " + quoted(name) + " needs " + std::to_string(need) + " blocks, " +
                std::to_string(free_blocks()) + " are free");

  uint inum = alloc_inode(T_FILE);
  append(inum, contents.data(), contents.size());
  add_dirent(ROOTINO, name, inum);
  return inum;
}

void Image::write_to(const std::string &path) const {
  // A sparse file: the used blocks, then a hole up to the image's size. The
  // unused blocks are zeros either way, and a 100 MB image that holds 2 MB
  // then costs 2 MB to write, copy and store.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw Error("cannot create " + path + ": " + std::strerror(errno));
  const uint8_t *p = img_.data();
  size_t left = img_.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      throw Error("cannot write " + path + ": " + std::strerror(errno));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::ftruncate(fd, static_cast<off_t>(image_bytes())) != 0 || ::close(fd) != 0)
    throw Error("cannot write " + path + ": " + std::strerror(errno));
}

} // namespace mkfs

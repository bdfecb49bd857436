// Building an xv6-format file system image (host side).
//
// The image is kept in memory, block by block, exactly as the kernel will
// find it on disk (only the blocks in use: the rest are zeros, and the file
// written is sparse):
//
//   [ boot | super | log (LOGSIZE+1) | inodes | free-block bitmap | data ... ]
//
// Image creates the root directory (inode ROOTINO, holding "." and ".."),
// and add_file() puts regular files into it. Every block handed out is
// marked in the bitmap at once, so bytes() is a valid file system at any
// time. Errors (bad names, a full disk, too big a file) throw mkfs::Error
// before anything is changed.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

// The ABI headers rely on kernel/types.h coming first.
#include "kernel/types.h"
#include "kernel/fs.h"
#include "kernel/param.h"
// kernel/stat.h for T_DIR and T_FILE; its struct stat would clash with the
// host's, so it is declared under another name here.
#define stat xv6_stat
#include "kernel/stat.h"
#undef stat

namespace mkfs {

class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Where everything goes, for an image of `size` blocks with `ninodes` inodes.
struct Layout {
  uint size = 0;
  uint ninodes = 0;
  uint nlog = 0;         // log blocks, header included
  uint ninodeblocks = 0; // blocks of struct dinode
  uint nbitmap = 0;      // blocks of the free-block bitmap
  uint nmeta = 0;        // boot + super + log + inodes + bitmap
  uint nblocks = 0;      // data blocks

  static Layout compute(uint size, uint ninodes);
  superblock superblock_for() const;
};

// A command-line FILE argument: "PATH" (named after PATH's last component,
// without one leading '_', as xv6 does for its programs) or "NAME=PATH".
struct FileArg {
  std::string name;
  std::string path;
};
FileArg parse_file_arg(std::string_view arg);

class Image {
public:
  static constexpr uint DEFAULT_INODES = 1000; // xv6's mkfs: 200

  explicit Image(uint size = FSSIZE, uint ninodes = DEFAULT_INODES);

  // Add a regular file to the root directory. Returns its inode number.
  uint add_file(std::string_view name, std::span<const uint8_t> contents);

  const Layout &layout() const { return layout_; }
  const superblock &sb() const { return sb_; }
  // Blocks in use (metadata and data). Allocation is sequential, so they
  // are exactly blocks [0, used_blocks()).
  uint used_blocks() const { return next_block_; }
  // The used blocks' bytes; the image continues with zeros up to
  // image_bytes().
  const std::vector<uint8_t> &bytes() const { return img_; }
  size_t image_bytes() const { return static_cast<size_t>(layout_.size) * BSIZE; }
  // Write the image as a sparse file of image_bytes() bytes.
  void write_to(const std::string &path) const;

  // Checks used by add_file, exposed for the command-line tool's messages.
  static void check_name(std::string_view name);

private:
  uint8_t *block(uint b) { return &img_[static_cast<size_t>(b) * BSIZE]; }
  // The disk block of block fbn of a file (which has it).
  uint bmap(const dinode &di, uint fbn) const;
  // Where the number of the file's block fbn is kept, allocating the
  // indirect blocks on the way.
  uint *slot_of(dinode &di, uint fbn);
  dinode read_inode(uint inum) const;
  void write_inode(uint inum, const dinode &di);
  uint alloc_inode(short type);
  uint alloc_block();
  uint free_blocks() const { return layout_.size - next_block_; }
  // Blocks append() would allocate to add n bytes to inode inum.
  uint blocks_needed(uint inum, size_t n) const;
  void append(uint inum, const void *data, size_t n);
  void add_dirent(uint dir, std::string_view name, uint inum);
  bool has_entry(uint dir, std::string_view name) const;

  Layout layout_;
  superblock sb_;
  std::vector<uint8_t> img_;
  uint next_inum_ = ROOTINO;
  uint next_block_ = 0;
};

} // namespace mkfs

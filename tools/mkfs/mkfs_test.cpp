// Tests for the image builder: build images in memory, then read them back
// with a small independent reader that follows the on-disk format the way
// the kernel does.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "image.h"

namespace {

using Bytes = std::vector<uint8_t>;

// Reads an image the way the kernel's fs code does.
class Reader {
public:
  explicit Reader(const Bytes &img) : img_(img) { std::memcpy(&sb, block(1), sizeof(sb)); }

  const uint8_t *block(uint b) const {
    EXPECT_LT(static_cast<size_t>(b) * BSIZE, img_.size());
    return &img_[static_cast<size_t>(b) * BSIZE];
  }

  dinode inode(uint inum) const {
    dinode di;
    std::memcpy(&di, block(IBLOCK(inum, sb)) + (inum % IPB) * sizeof(dinode), sizeof(di));
    return di;
  }

  // Disk block of the fbn'th block of a file.
  uint bmap(const dinode &di, uint fbn) const {
    if (fbn < NDIRECT) return di.addrs[fbn];
    uint ind[NINDIRECT];
    std::memcpy(ind, block(di.addrs[NDIRECT]), sizeof(ind));
    return ind[fbn - NDIRECT];
  }

  Bytes contents(uint inum) const {
    dinode di = inode(inum);
    Bytes out(di.size);
    for (uint off = 0; off < di.size; off += BSIZE) {
      uint n = std::min<uint>(BSIZE, di.size - off);
      std::memcpy(&out[off], block(bmap(di, off / BSIZE)), n);
    }
    return out;
  }

  // Root directory: name -> inum, in order.
  std::vector<std::pair<std::string, uint>> root_entries() const {
    Bytes dir = contents(ROOTINO);
    EXPECT_EQ(dir.size() % sizeof(dirent), 0u);
    std::vector<std::pair<std::string, uint>> out;
    for (size_t off = 0; off + sizeof(dirent) <= dir.size(); off += sizeof(dirent)) {
      dirent de;
      std::memcpy(&de, &dir[off], sizeof(de));
      if (de.inum == 0) continue;
      out.emplace_back(std::string(de.name, strnlen(de.name, DIRSIZ)), de.inum);
    }
    return out;
  }

  uint lookup(const std::string &name) const {
    for (auto &[n, inum] : root_entries())
      if (n == name) return inum;
    return 0;
  }

  bool bit(uint b) const {
    const uint8_t *bm = block(BBLOCK(b, sb));
    uint bi = b % BPB;
    return bm[bi / 8] & (1u << (bi % 8));
  }

  // Every block an allocated inode refers to (data and indirect blocks).
  std::multiset<uint> referenced_blocks() const {
    std::multiset<uint> out;
    for (uint inum = 1; inum < sb.ninodes; inum++) {
      dinode di = inode(inum);
      if (di.type == 0) continue;
      uint nblocks = (di.size + BSIZE - 1) / BSIZE;
      for (uint i = 0; i < nblocks; i++) out.insert(bmap(di, i));
      if (di.addrs[NDIRECT]) out.insert(di.addrs[NDIRECT]);
    }
    return out;
  }

  superblock sb;

private:
  const Bytes &img_;
};

Bytes pattern(size_t n, uint seed) {
  Bytes b(n);
  uint x = seed * 2654435761u + 1;
  for (auto &c : b) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<uint8_t>(x);
  }
  return b;
}

constexpr size_t MAXBYTES = static_cast<size_t>(MAXFILE) * BSIZE;

TEST(Layout, SuperblockMatchesXv6Layout) {
  mkfs::Image img;
  Reader r(img.bytes());
  EXPECT_EQ(img.bytes().size(), static_cast<size_t>(FSSIZE) * BSIZE);
  EXPECT_EQ(r.sb.magic, static_cast<uint>(FSMAGIC));
  EXPECT_EQ(r.sb.size, static_cast<uint>(FSSIZE));
  EXPECT_EQ(r.sb.ninodes, mkfs::Image::DEFAULT_INODES);
  EXPECT_EQ(r.sb.nlog, static_cast<uint>(LOGSIZE + 1));
  EXPECT_EQ(r.sb.logstart, 2u);
  uint ninodeblocks = mkfs::Image::DEFAULT_INODES / IPB + 1;
  uint nbitmap = FSSIZE / BPB + 1;
  EXPECT_EQ(r.sb.inodestart, 2u + LOGSIZE + 1);
  EXPECT_EQ(r.sb.bmapstart, r.sb.inodestart + ninodeblocks);
  uint nmeta = r.sb.bmapstart + nbitmap;
  EXPECT_EQ(r.sb.nblocks, FSSIZE - nmeta);
  EXPECT_EQ(img.layout().nmeta, nmeta);
}

TEST(Layout, SizeOption) {
  mkfs::Image img(3000);
  Reader r(img.bytes());
  EXPECT_EQ(img.bytes().size(), 3000u * BSIZE);
  EXPECT_EQ(r.sb.size, 3000u);
  EXPECT_EQ(r.sb.nblocks, 3000u - img.layout().nmeta);
}

TEST(Layout, TooSmallImageIsAnError) { EXPECT_THROW(mkfs::Image(40), mkfs::Error); }

TEST(RootDir, HasDotAndDotDot) {
  mkfs::Image img;
  Reader r(img.bytes());
  dinode root = r.inode(ROOTINO);
  EXPECT_EQ(root.type, T_DIR);
  EXPECT_EQ(root.nlink, 1);
  auto e = r.root_entries();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0], (std::pair<std::string, uint>(".", ROOTINO)));
  EXPECT_EQ(e[1], (std::pair<std::string, uint>("..", ROOTINO)));
}

TEST(Files, RoundTripSmallAndEmptyFiles) {
  mkfs::Image img;
  Bytes hello = {'h', 'e', 'l', 'l', 'o', '\n'};
  uint a = img.add_file("hello", hello);
  uint b = img.add_file("empty", Bytes{});
  Reader r(img.bytes());
  EXPECT_EQ(r.lookup("hello"), a);
  EXPECT_EQ(r.lookup("empty"), b);
  EXPECT_NE(a, b);
  EXPECT_EQ(r.inode(a).type, T_FILE);
  EXPECT_EQ(r.inode(a).nlink, 1);
  EXPECT_EQ(r.contents(a), hello);
  EXPECT_EQ(r.inode(b).size, 0u);
  EXPECT_EQ(r.inode(b).addrs[0], 0u);
}

TEST(Files, RoundTripAcrossTheIndirectBlock) {
  mkfs::Image img;
  // Exactly the direct blocks; one byte more; well into the indirect
  // range with a partial last block; and the largest possible file.
  std::vector<std::pair<std::string, Bytes>> files = {
      {"direct", pattern(NDIRECT * BSIZE, 1)},
      {"direct_plus1", pattern(NDIRECT * BSIZE + 1, 2)},
      {"indirect", pattern((NDIRECT + 40) * BSIZE + 123, 3)},
      {"maxfile", pattern(MAXBYTES, 4)},
  };
  for (auto &[name, data] : files) img.add_file(name, data);

  Reader r(img.bytes());
  for (auto &[name, data] : files) {
    uint inum = r.lookup(name);
    ASSERT_NE(inum, 0u) << name;
    EXPECT_EQ(r.inode(inum).size, data.size()) << name;
    EXPECT_EQ(r.contents(inum), data) << name;
  }
  EXPECT_EQ(r.inode(r.lookup("direct")).addrs[NDIRECT], 0u); // no indirect block needed
  EXPECT_NE(r.inode(r.lookup("direct_plus1")).addrs[NDIRECT], 0u);
}

TEST(Files, TooLargeFileIsAnError) {
  mkfs::Image img;
  EXPECT_THROW(img.add_file("big", pattern(MAXBYTES + 1, 5)), mkfs::Error);
  Reader r(img.bytes());
  EXPECT_EQ(r.lookup("big"), 0u);
}

TEST(Bitmap, MarksExactlyTheUsedBlocks) {
  mkfs::Image img;
  img.add_file("a", pattern(5000, 6));
  img.add_file("b", pattern((NDIRECT + 3) * BSIZE, 7));
  img.add_file("c", Bytes{});
  // Enough entries that the root directory needs a second block.
  for (int i = 0; i < 70; i++) img.add_file("f" + std::to_string(i), pattern(i, 8));

  Reader r(img.bytes());
  EXPECT_GT(r.inode(ROOTINO).size, static_cast<uint>(BSIZE));
  auto refs = r.referenced_blocks();
  std::set<uint> unique(refs.begin(), refs.end());
  EXPECT_EQ(unique.size(), refs.size()) << "a block is used twice";

  uint nmeta = img.layout().nmeta;
  for (uint b : unique) {
    EXPECT_GE(b, nmeta) << "data in a metadata block";
    EXPECT_LT(b, r.sb.size);
  }
  for (uint b = 0; b < r.sb.size; b++) {
    bool used = b < nmeta || unique.count(b);
    ASSERT_EQ(r.bit(b), used) << "block " << b;
  }
}

TEST(Names, LongestNameFitsWithoutNul) {
  mkfs::Image img;
  std::string name(DIRSIZ, 'x');
  uint inum = img.add_file(name, pattern(10, 9));
  Reader r(img.bytes());
  EXPECT_EQ(r.lookup(name), inum);
}

TEST(Names, Errors) {
  mkfs::Image img;
  EXPECT_THROW(img.add_file(std::string(DIRSIZ + 1, 'y'), Bytes{}), mkfs::Error);
  EXPECT_THROW(img.add_file("", Bytes{}), mkfs::Error);
  EXPECT_THROW(img.add_file(".", Bytes{}), mkfs::Error);
  EXPECT_THROW(img.add_file("..", Bytes{}), mkfs::Error);
  EXPECT_THROW(img.add_file("a/b", Bytes{}), mkfs::Error);
  img.add_file("dup", Bytes{1});
  EXPECT_THROW(img.add_file("dup", Bytes{2}), mkfs::Error);
  Reader r(img.bytes());
  EXPECT_EQ(r.root_entries().size(), 3u); // ".", "..", "dup"
  EXPECT_EQ(r.contents(r.lookup("dup")), Bytes{1});
}

TEST(Names, ParseFileArg) {
  auto check = [](const char *arg, const char *name, const char *path) {
    mkfs::FileArg fa = mkfs::parse_file_arg(arg);
    EXPECT_EQ(fa.name, name) << arg;
    EXPECT_EQ(fa.path, path) << arg;
  };
  check("build/prog/_ls", "ls", "build/prog/_ls");
  check("build/prog/cat", "cat", "build/prog/cat");
  check("README.md", "README.md", "README.md");
  check("_", "_", "_");
  check("init=build/prog/init2", "init", "build/prog/init2");
  check("dir/a=b", "a=b", "dir/a=b");
}

TEST(Limits, FullDiskIsAnErrorAndChangesNothing) {
  mkfs::Image img(100);
  uint before = img.used_blocks();
  Bytes all = img.bytes();
  size_t room = (100 - before) * static_cast<size_t>(BSIZE);
  EXPECT_THROW(img.add_file("huge", pattern(room + 1, 10)), mkfs::Error);
  EXPECT_EQ(img.used_blocks(), before);
  EXPECT_EQ(img.bytes(), all);
  // What does fit: fill the disk exactly (the root directory block is
  // already there and has room for the entry).
  size_t fit = room - BSIZE; // minus the indirect block
  img.add_file("fits", pattern(fit, 11));
  EXPECT_EQ(img.used_blocks(), 100u);
  Reader r(img.bytes());
  EXPECT_EQ(r.contents(r.lookup("fits")), pattern(fit, 11));
  EXPECT_THROW(img.add_file("more", Bytes{1}), mkfs::Error);
}

TEST(Limits, OutOfInodes) {
  mkfs::Image img(FSSIZE, 4); // inums 1..3: root and two files
  img.add_file("one", Bytes{});
  img.add_file("two", Bytes{});
  EXPECT_THROW(img.add_file("three", Bytes{}), mkfs::Error);
}

TEST(Output, WriteToFileRoundTrips) {
  mkfs::Image img(500);
  img.add_file("x", pattern(3000, 12));
  char path[] = "/tmp/mkfs_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  img.write_to(path);
  std::ifstream in(path, std::ios::binary);
  Bytes back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(path);
  EXPECT_EQ(back, img.bytes());
}

} // namespace

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

#include <sys/stat.h>

#include "image.h"

namespace {

using Bytes = std::vector<uint8_t>;

// Reads an image the way the kernel's fs code does.
class Reader {
public:
  // img: the image's first blocks; the rest (up to sb.size) are zeros.
  explicit Reader(const Bytes &img) : img_(img) { std::memcpy(&sb, block(1), sizeof(sb)); }

  const uint8_t *block(uint b) const {
    static const uint8_t zeros[BSIZE] = {};
    if (static_cast<size_t>(b) * BSIZE >= img_.size()) {
      EXPECT_LT(b, sb.size);
      return zeros;
    }
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
    fbn -= NDIRECT;
    if (fbn < NINDIRECT) return word(di.addrs[NDIRECT], fbn);
    fbn -= NINDIRECT;
    EXPECT_LT(fbn, NDINDIRECT);
    return word(word(di.addrs[NDIRECT + 1], fbn / NINDIRECT), fbn % NINDIRECT);
  }

  uint word(uint b, uint i) const {
    EXPECT_NE(b, 0u) << "missing indirect block";
    uint v;
    std::memcpy(&v, block(b) + i * sizeof(uint), sizeof(v));
    return v;
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
      if (uint d = di.addrs[NDIRECT + 1]) {
        out.insert(d);
        for (uint i = 0; i < NINDIRECT; i++)
          if (uint ind = word(d, i)) out.insert(ind);
      }
    }
    return out;
  }

  superblock sb;

private:
  const Bytes &img_;
};

Bytes pattern(size_t n, uint seed) {
  // xorshift64, eight bytes at a time (the largest files are 64 MiB).
  Bytes b(n);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(&b[i], &x, std::min<size_t>(8, n - i));
  }
  return b;
}

constexpr size_t MAXBYTES = static_cast<size_t>(MAXFILE) * BSIZE;

TEST(Layout, SuperblockMatchesXv6Layout) {
  mkfs::Image img;
  Reader r(img.bytes());
  EXPECT_EQ(img.image_bytes(), static_cast<size_t>(FSSIZE) * BSIZE);
  EXPECT_EQ(img.bytes().size(), static_cast<size_t>(img.used_blocks()) * BSIZE);
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
  EXPECT_EQ(img.image_bytes(), 3000u * BSIZE);
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

TEST(Files, RoundTripAcrossTheIndirectBlocks) {
  mkfs::Image img;
  // Exactly the direct blocks; one byte more; well into the indirect
  // range with a partial last block; exactly the singly indirect range;
  // one block into the doubly indirect range; across two of its singly
  // indirect blocks; and the largest possible file.
  constexpr size_t SINGLE_END = (NDIRECT + NINDIRECT) * BSIZE;
  std::vector<std::pair<std::string, Bytes>> files = {
      {"direct", pattern(NDIRECT * BSIZE, 1)},
      {"direct_plus1", pattern(NDIRECT * BSIZE + 1, 2)},
      {"indirect", pattern((NDIRECT + 40) * BSIZE + 123, 3)},
      {"single_end", pattern(SINGLE_END, 13)},
      {"double_1", pattern(SINGLE_END + 1, 14)},
      {"double_2", pattern(SINGLE_END + (NINDIRECT + 5) * BSIZE + 7, 15)},
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
  EXPECT_EQ(r.inode(r.lookup("single_end")).addrs[NDIRECT + 1], 0u);
  EXPECT_NE(r.inode(r.lookup("double_1")).addrs[NDIRECT + 1], 0u);
  // The singly indirect blocks of the doubly indirect one: 2 for double_2.
  dinode d2 = r.inode(r.lookup("double_2"));
  EXPECT_NE(r.word(d2.addrs[NDIRECT + 1], 1), 0u);
  EXPECT_EQ(r.word(d2.addrs[NDIRECT + 1], 2), 0u);
}

TEST(Files, MaxFileIsAtLeast64MiB) { EXPECT_GE(MAXBYTES, 64u << 20); }

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
  constexpr uint SIZE = 300;
  mkfs::Image img(SIZE);
  uint before = img.used_blocks();
  Bytes all = img.bytes();
  size_t room = (SIZE - before) * static_cast<size_t>(BSIZE);
  EXPECT_THROW(img.add_file("huge", pattern(room + 1, 10)), mkfs::Error);
  EXPECT_EQ(img.used_blocks(), before);
  EXPECT_EQ(img.bytes(), all);
  // What does fit: fill the disk exactly (the root directory block is
  // already there and has room for the entry).
  size_t fit = room - BSIZE; // minus the indirect block
  img.add_file("fits", pattern(fit, 11));
  EXPECT_EQ(img.used_blocks(), SIZE);
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
  struct stat st;
  ASSERT_EQ(::stat(path, &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), img.image_bytes());
  // Sparse: the unused blocks take no space (or at most as much as the
  // used ones, on file systems without holes).
  EXPECT_LE(static_cast<size_t>(st.st_blocks) * 512, img.image_bytes());
  std::ifstream in(path, std::ios::binary);
  Bytes back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(path);
  ASSERT_EQ(back.size(), img.image_bytes());
  Bytes expect = img.bytes();
  expect.resize(img.image_bytes(), 0);
  EXPECT_EQ(back, expect);
}

} // namespace

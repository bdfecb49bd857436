// Tests for the checker: images built by mkfs's image builder are clean;
// each kind of damage, done on purpose, is reported.

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "image.h"

namespace {

using Bytes = std::vector<uint8_t>;

Bytes pattern(size_t n, uint seed) {
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

// A whole image in memory, with helpers to damage it.
class Img {
public:
  explicit Img(const mkfs::Image &img) : bytes_(img.bytes()) {
    bytes_.resize(img.image_bytes(), 0);
    std::memcpy(&sb, block(1), sizeof(sb));
  }

  uint8_t *block(uint b) { return &bytes_[static_cast<size_t>(b) * BSIZE]; }
  uint word(uint b, uint i) {
    uint v;
    std::memcpy(&v, block(b) + i * sizeof(uint), sizeof(v));
    return v;
  }
  void set_word(uint b, uint i, uint v) { std::memcpy(block(b) + i * sizeof(uint), &v, sizeof(v)); }

  dinode inode(uint inum) {
    dinode di;
    std::memcpy(&di, block(IBLOCK(inum, sb)) + (inum % IPB) * sizeof(dinode), sizeof(di));
    return di;
  }
  void set_inode(uint inum, const dinode &di) {
    std::memcpy(block(IBLOCK(inum, sb)) + (inum % IPB) * sizeof(dinode), &di, sizeof(di));
  }
  void set_bit(uint b, bool on) {
    uint8_t &byte = block(BBLOCK(b, sb))[(b % BPB) / 8];
    uint8_t mask = static_cast<uint8_t>(1u << (b % 8));
    byte = on ? (byte | mask) : (byte & ~mask);
  }
  // The root directory's i'th entry (in its first block).
  dirent *root_entry(uint i) { return reinterpret_cast<dirent *>(block(inode(ROOTINO).addrs[0])) + i; }

  fsck::Report check(bool replay = false) {
    fsck::Disk d{bytes_.data(), bytes_.size()};
    return fsck::check(d, replay);
  }

  superblock sb;

private:
  Bytes bytes_;
};

// Does some problem line contain `what`?
bool mentions(const fsck::Report &r, const std::string &what) {
  for (auto &p : r.problems)
    if (p.find(what) != std::string::npos) return true;
  return false;
}

std::string all(const fsck::Report &r) {
  std::string s;
  for (auto &p : r.problems) s += p + "\n";
  return s;
}

// Root entries 0, 1 are "." and ".."; files get 2, 3, ...
constexpr uint SMALL = 2, BIG = 3, OTHER = 4;

mkfs::Image sample() {
  mkfs::Image img(4000);
  img.add_file("small", pattern(3000, 1));
  // Into the doubly indirect range: 300 blocks.
  img.add_file("big", pattern((NDIRECT + NINDIRECT + 33) * BSIZE + 5, 2));
  img.add_file("other", pattern(5 * BSIZE, 3));
  return img;
}

TEST(Fsck, FreshImageIsClean) {
  mkfs::Image img;
  Img m(img);
  auto r = m.check();
  EXPECT_TRUE(r.clean()) << all(r);
  EXPECT_EQ(r.inodes_used, 1u);
  EXPECT_EQ(r.blocks_used, img.used_blocks());
}

TEST(Fsck, FilesThroughTheDoublyIndirectBlockAreClean) {
  Img m(sample());
  auto r = m.check();
  EXPECT_TRUE(r.clean()) << all(r);
  EXPECT_EQ(r.inodes_used, 4u);
  EXPECT_NE(m.inode(m.root_entry(BIG)->inum).addrs[NDIRECT + 1], 0u);
}

TEST(Fsck, BadMagic) {
  Img m(sample());
  m.block(1)[0] ^= 1;
  auto r = m.check();
  EXPECT_TRUE(mentions(r, "bad magic")) << all(r);
}

TEST(Fsck, BadSuperblockLayout) {
  Img m(sample());
  superblock sb = m.sb;
  sb.nblocks += 1;
  std::memcpy(m.block(1), &sb, sizeof(sb));
  EXPECT_TRUE(mentions(m.check(), "nblocks"));
}

TEST(Fsck, LeakedBlock) {
  mkfs::Image img = sample();
  uint unused = img.used_blocks() + 10;
  Img m(img);
  m.set_bit(unused, true);
  auto r = m.check();
  EXPECT_TRUE(mentions(r, "block " + std::to_string(unused) + " is marked in use but no inode uses it"))
      << all(r);
  EXPECT_EQ(r.problems.size(), 1u) << all(r);
}

TEST(Fsck, BlockInUseButFree) {
  Img m(sample());
  uint b = m.inode(m.root_entry(SMALL)->inum).addrs[1];
  m.set_bit(b, false);
  auto r = m.check();
  EXPECT_TRUE(mentions(r, "block " + std::to_string(b) + " is used by inode")) << all(r);
}

TEST(Fsck, BlockUsedTwice) {
  Img m(sample());
  uint a = m.root_entry(SMALL)->inum, o = m.root_entry(OTHER)->inum;
  dinode di = m.inode(o);
  m.set_bit(di.addrs[0], false); // its own block is freed properly
  di.addrs[0] = m.inode(a).addrs[0];
  m.set_inode(o, di);
  auto r = m.check();
  EXPECT_TRUE(mentions(r, "is used twice")) << all(r);
}

TEST(Fsck, BlockUsedTwiceInTheDoublyIndirectRange) {
  Img m(sample());
  dinode big = m.inode(m.root_entry(BIG)->inum);
  uint child = m.word(big.addrs[NDIRECT + 1], 0); // first singly indirect block under it
  uint victim = m.word(child, 7);
  m.set_bit(victim, false);
  m.set_word(child, 7, m.word(child, 3)); // the same data block twice
  auto r = m.check();
  EXPECT_TRUE(mentions(r, "is used twice")) << all(r);
}

TEST(Fsck, BlockOutOfRange) {
  Img m(sample());
  uint o = m.root_entry(OTHER)->inum;
  dinode di = m.inode(o);
  m.set_bit(di.addrs[2], false);
  di.addrs[2] = m.sb.size + 3;
  m.set_inode(o, di);
  EXPECT_TRUE(mentions(m.check(), "outside the data area"));
  di.addrs[2] = 3; // the log
  m.set_inode(o, di);
  EXPECT_TRUE(mentions(m.check(), "outside the data area"));
}

TEST(Fsck, BlockPastTheSize) {
  Img m(sample());
  uint o = m.root_entry(OTHER)->inum;
  dinode di = m.inode(o);
  di.size = BSIZE; // 5 blocks remain attached
  m.set_inode(o, di);
  auto r = m.check();
  EXPECT_TRUE(mentions(r, "lies past its size")) << all(r);
}

TEST(Fsck, WrongLinkCount) {
  Img m(sample());
  uint a = m.root_entry(SMALL)->inum;
  dinode di = m.inode(a);
  di.nlink = 2;
  m.set_inode(a, di);
  auto r = m.check();
  EXPECT_TRUE(mentions(r, "inode " + std::to_string(a) + ": nlink 2, but 1 links found")) << all(r);
}

TEST(Fsck, UnreachableInode) {
  Img m(sample());
  uint a = m.root_entry(SMALL)->inum;
  m.root_entry(SMALL)->inum = 0; // the entry goes, the inode stays
  auto r = m.check();
  EXPECT_TRUE(mentions(r, "inode " + std::to_string(a) + " (type 2, nlink 1")) << all(r);
  EXPECT_TRUE(mentions(r, "no directory names it")) << all(r);
}

TEST(Fsck, EntryNamesAFreeInode) {
  Img m(sample());
  uint a = m.root_entry(OTHER)->inum;
  dinode di = m.inode(a);
  for (uint i = 0; i < NDIRECT; i++)
    if (di.addrs[i]) m.set_bit(di.addrs[i], false);
  m.set_inode(a, dinode{});
  auto r = m.check();
  EXPECT_TRUE(mentions(r, "names free inode " + std::to_string(a))) << all(r);
}

TEST(Fsck, DotAndDotDot) {
  Img m(sample());
  std::memcpy(m.root_entry(0)->name, "x", 2);
  EXPECT_TRUE(mentions(m.check(), "\".\""));
  Img m2(sample());
  m2.root_entry(1)->inum = m2.root_entry(SMALL)->inum;
  EXPECT_TRUE(mentions(m2.check(), "\"..\""));
}

TEST(Fsck, CommittedLogIsReportedAndReplayed) {
  Img m(sample());
  uint a = m.root_entry(OTHER)->inum;
  uint target = m.inode(a).addrs[1];
  // A committed transaction of one block: header n = 1, block[0] = target,
  // log block 1 holds the new contents.
  Bytes fresh = pattern(BSIZE, 99);
  std::memcpy(m.block(m.sb.logstart + 1), fresh.data(), BSIZE);
  int head[2] = {1, static_cast<int>(target)};
  std::memcpy(m.block(m.sb.logstart), head, sizeof(head));

  auto r = m.check();
  EXPECT_TRUE(mentions(r, "never installed")) << all(r);
  EXPECT_NE(std::memcmp(m.block(target), fresh.data(), BSIZE), 0);

  r = m.check(true);
  EXPECT_TRUE(r.clean()) << all(r);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(std::memcmp(m.block(target), fresh.data(), BSIZE), 0);
  EXPECT_TRUE(m.check().clean()); // the header is cleared
}

TEST(Fsck, CorruptLogHeader) {
  Img m(sample());
  int n = 1000;
  std::memcpy(m.block(m.sb.logstart), &n, sizeof(n));
  EXPECT_TRUE(mentions(m.check(true), "out of range"));
}

TEST(Fsck, TruncatedImage) {
  mkfs::Image img(4000);
  Bytes b = img.bytes();
  b.resize(200 * BSIZE);
  fsck::Disk d{b.data(), b.size()};
  EXPECT_TRUE(mentions(fsck::check(d, false), "the image holds only 200"));
}

} // namespace

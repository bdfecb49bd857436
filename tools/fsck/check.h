// Checking a cowix (xv6-format) file system image on the host (see fsck.cpp).
//
// The checker reads the image the way the kernel does (include/kernel/fs.h)
// and reports every inconsistency it finds: a bad superblock, a committed
// log that was never installed, blocks out of range, referenced twice, in
// use but unreachable or reachable but free, wrong link counts, inodes
// allocated but named by no directory, directories without a proper "." and
// "..", sizes that disagree with the blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

// The ABI headers rely on kernel/types.h coming first.
#include "kernel/types.h"
#include "kernel/fs.h"

namespace fsck {

// An image in memory: `len` bytes at `data` (a file mapped, or a vector).
// Bytes past `len` read as zeros (an image whose tail was never written).
struct Disk {
  uint8_t *data = nullptr;
  size_t len = 0;

  // Block b, or nullptr if it lies past the end (it is then all zeros).
  const uint8_t *block(uint b) const;
  uint8_t *mutable_block(uint b);  // nullptr past the end
  uint word(uint b, uint i) const; // entry i of block b as an array of uint
};

struct Report {
  std::vector<std::string> problems; // inconsistencies: exit status 1
  std::vector<std::string> notes;    // what was found or done, for the reader
  // Summary figures (valid when the superblock was sane).
  uint inodes_used = 0;
  uint blocks_used = 0; // blocks marked in use in the bitmap
  bool clean() const { return problems.empty(); }
};

// Check the image. With replay, a committed but uninstalled log is first
// installed into the image (as the kernel's recovery does at boot) and the
// log header cleared; without it, such a log is reported as a problem.
Report check(Disk &disk, bool replay);

} // namespace fsck

// fsck: check a cowix (xv6-format) file system image.
//
//   fsck [--replay] [-q] IMAGE
//
// Exits 0 if the image is consistent, 1 (after printing each problem) if
// not, 2 on a usage or I/O error. --replay installs a committed log left by
// a crash into the image, as the kernel would at boot, then checks it.
// See check.h for what is checked.

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

namespace {

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: fsck [--replay] [-q] IMAGE\n");
  std::exit(2);
}

} // namespace

int main(int argc, char **argv) {
  bool replay = false, quiet = false;
  const char *path = nullptr;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--replay")
      replay = true;
    else if (a == "-q")
      quiet = true;
    else if (a.rfind("-", 0) == 0 || path != nullptr)
      usage();
    else
      path = argv[i];
  }
  if (path == nullptr) usage();

  // Map the image: a sparse 100 MB image costs only the blocks touched.
  int fd = ::open(path, replay ? O_RDWR : O_RDONLY);
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    std::fprintf(stderr, "fsck: %s: %s\n", path, std::strerror(errno));
    return 2;
  }
  fsck::Disk disk;
  disk.len = static_cast<size_t>(st.st_size);
  if (disk.len > 0) {
    void *p = ::mmap(nullptr, disk.len, replay ? PROT_READ | PROT_WRITE : PROT_READ,
                     replay ? MAP_SHARED : MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      std::fprintf(stderr, "fsck: %s: mmap: %s\n", path, std::strerror(errno));
      return 2;
    }
    disk.data = static_cast<uint8_t *>(p);
  }

  fsck::Report r = fsck::check(disk, replay);
  if (replay && disk.data != nullptr && ::msync(disk.data, disk.len, MS_SYNC) != 0) {
    std::fprintf(stderr, "fsck: %s: msync: %s\n", path, std::strerror(errno));
    return 2;
  }
  for (const std::string &n : r.notes) std::printf("fsck: %s: %s\n", path, n.c_str());
  for (const std::string &p : r.problems) std::printf("fsck: %s: %s\n", path, p.c_str());
  if (!r.clean()) {
    std::printf("fsck: %s: NOT CLEAN (%zu problems listed)\n", path, r.problems.size());
    return 1;
  }
  if (!quiet)
    std::printf("fsck: %s: clean, %u inodes in use, %u blocks in use\n", path, r.inodes_used, r.blocks_used);
  return 0;
}

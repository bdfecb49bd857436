// mkfs: build a cowix (xv6-format) file system image.
//
//   mkfs OUT.img [--size BLOCKS] FILE...
//
// Each FILE goes into the root directory, named after its last path
// component without a leading '_' (xv6 names its programs _ls, _cat, ...),
// or NAME=PATH to choose the name.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "image.h"

namespace {

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: mkfs OUT.img [--size BLOCKS] FILE|NAME=PATH...\n");
  std::exit(2);
}

std::vector<uint8_t> read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw mkfs::Error("cannot open " + path);
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw mkfs::Error("cannot read " + path);
  return data;
}

uint parse_blocks(const char *s) {
  char *end;
  unsigned long v = std::strtoul(s, &end, 0);
  if (*s == '\0' || *end != '\0' || v == 0 || v > 0xffffffffUL) usage();
  return static_cast<uint>(v);
}

} // namespace

int main(int argc, char **argv) {
  std::string out;
  uint size = FSSIZE;
  std::vector<std::string> files;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--size") {
      if (++i >= argc) usage();
      size = parse_blocks(argv[i]);
    } else if (a.rfind("--size=", 0) == 0) {
      size = parse_blocks(a.c_str() + 7);
    } else if (a.rfind("--", 0) == 0) {
      usage();
    } else if (out.empty()) {
      out = a;
    } else {
      files.push_back(a);
    }
  }
  if (out.empty()) usage();

  try {
    mkfs::Image img(size);
    const mkfs::Layout &l = img.layout();
    std::printf("mkfs: nmeta %u (boot, super, log blocks %u, inode blocks %u, bitmap blocks %u) "
                "blocks %u total %u\n",
                l.nmeta, l.nlog, l.ninodeblocks, l.nbitmap, l.nblocks, l.size);
    for (const std::string &f : files) {
      mkfs::FileArg fa = mkfs::parse_file_arg(f);
      std::vector<uint8_t> data = read_file(fa.path);
      try {
        img.add_file(fa.name, data);
      } catch (const mkfs::Error &e) {
        throw mkfs::Error(fa.path + ": " + e.what());
      }
    }
    img.write_to(out);
    std::printf("mkfs: %s: %zu files, %u of %u blocks used\n", out.c_str(), files.size(), img.used_blocks(),
                l.size);
  } catch (const mkfs::Error &e) {
    std::fprintf(stderr, "mkfs: %s\n", e.what());
    std::remove(out.c_str()); // no half-made image for make to trust
    return 1;
  }
  return 0;
}

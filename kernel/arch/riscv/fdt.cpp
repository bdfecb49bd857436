// Flattened device tree (devicetree spec v0.4, chapter 5): a header, a
// structure block of tokens, and a strings block. All numbers big-endian.
#include "arch/riscv/fdt.h"

#include "lib/string.h"

namespace {

constexpr uint32 FDT_MAGIC = 0xd00dfeed;
constexpr uint32 FDT_BEGIN_NODE = 1;
constexpr uint32 FDT_END_NODE = 2;
constexpr uint32 FDT_PROP = 3;
constexpr uint32 FDT_NOP = 4;
constexpr uint32 FDT_END = 9;

uint32 be32(const void *p) {
  auto *b = static_cast<const uint8 *>(p);
  return (uint32(b[0]) << 24) | (uint32(b[1]) << 16) | (uint32(b[2]) << 8) | b[3];
}
uint64 be64(const void *p) {
  auto *b = static_cast<const uint8 *>(p);
  return (uint64(be32(b)) << 32) | be32(b + 4);
}
uint64 align4(uint64 x) { return (x + 3) & ~3UL; }

} // namespace

uint64 fdt_memory_end(const void *fdt) {
  auto *base = static_cast<const uint8 *>(fdt);
  if (be32(base) != FDT_MAGIC) return 0;
  const uint8 *structs = base + be32(base + 8);
  const char *strings = reinterpret_cast<const char *>(base + be32(base + 12));

  bool in_memory = false;
  int depth = 0, memory_depth = -1;
  for (uint64 off = 0;;) {
    uint32 token = be32(structs + off);
    off += 4;
    switch (token) {
    case FDT_BEGIN_NODE: {
      const char *name = reinterpret_cast<const char *>(structs + off);
      depth++;
      if (strncmp(name, "memory", 6) == 0) {
        in_memory = true;
        memory_depth = depth;
      }
      off = align4(off + strlen(name) + 1);
      break;
    }
    case FDT_END_NODE:
      if (depth == memory_depth) in_memory = false;
      depth--;
      break;
    case FDT_PROP: {
      uint32 len = be32(structs + off);
      const char *name = strings + be32(structs + off + 4);
      const uint8 *value = structs + off + 8;
      // QEMU virt: #address-cells = #size-cells = 2, so reg is <addr64 size64>.
      if (in_memory && strncmp(name, "reg", 4) == 0 && len >= 16) return be64(value) + be64(value + 8);
      off = align4(off + 8 + len);
      break;
    }
    case FDT_NOP: break;
    case FDT_END:
    default: return 0;
    }
  }
}

const char *fdt_bootargs(const void *fdt) {
  auto *base = static_cast<const uint8 *>(fdt);
  if (be32(base) != FDT_MAGIC) return nullptr;
  const uint8 *structs = base + be32(base + 8);
  const char *strings = reinterpret_cast<const char *>(base + be32(base + 12));

  // /chosen is a child of the root: depth 2 with the root at depth 1.
  int depth = 0, chosen_depth = -1;
  for (uint64 off = 0;;) {
    uint32 token = be32(structs + off);
    off += 4;
    switch (token) {
    case FDT_BEGIN_NODE: {
      const char *name = reinterpret_cast<const char *>(structs + off);
      depth++;
      if (depth == 2 && strncmp(name, "chosen", 7) == 0) chosen_depth = depth;
      off = align4(off + strlen(name) + 1);
      break;
    }
    case FDT_END_NODE:
      if (depth == chosen_depth) return nullptr;
      depth--;
      break;
    case FDT_PROP: {
      uint32 len = be32(structs + off);
      const char *name = strings + be32(structs + off + 4);
      const char *value = reinterpret_cast<const char *>(structs + off + 8);
      if (depth == chosen_depth && strncmp(name, "bootargs", 9) == 0 && len > 0 && value[len - 1] == 0) return value;
      off = align4(off + 8 + len);
      break;
    }
    case FDT_NOP: break;
    case FDT_END:
    default: return nullptr;
    }
  }
}

int fdt_cpu_count(const void *fdt) {
  auto *base = static_cast<const uint8 *>(fdt);
  if (be32(base) != FDT_MAGIC) return 0;
  const uint8 *structs = base + be32(base + 8);

  int count = 0;
  for (uint64 off = 0;;) {
    uint32 token = be32(structs + off);
    off += 4;
    switch (token) {
    case FDT_BEGIN_NODE: {
      const char *name = reinterpret_cast<const char *>(structs + off);
      if (strncmp(name, "cpu@", 4) == 0) count++; // (cpu-map's nodes are clusterN, coreN)
      off = align4(off + strlen(name) + 1);
      break;
    }
    case FDT_END_NODE: break;
    case FDT_PROP: off = align4(off + 8 + be32(structs + off)); break;
    case FDT_NOP: break;
    case FDT_END: return count;
    default: return 0;
    }
  }
}

uint64 fdt_device_address(const void *fdt, const char *compat) {
  auto *base = static_cast<const uint8 *>(fdt);
  if (be32(base) != FDT_MAGIC) return 0;
  const uint8 *structs = base + be32(base + 8);
  const char *strings = reinterpret_cast<const char *>(base + be32(base + 12));
  uint64 want = strlen(compat) + 1;

  // A node's properties come before its children: they end at the next
  // BEGIN_NODE or END_NODE, where we decide about the node.
  bool matches = false;
  uint64 reg = 0;
  for (uint64 off = 0;;) {
    uint32 token = be32(structs + off);
    off += 4;
    switch (token) {
    case FDT_BEGIN_NODE:
    case FDT_END_NODE:
      if (matches && reg != 0) return reg;
      matches = false;
      reg = 0;
      if (token == FDT_BEGIN_NODE)
        off = align4(off + strlen(reinterpret_cast<const char *>(structs + off)) + 1);
      break;
    case FDT_PROP: {
      uint32 len = be32(structs + off);
      const char *name = strings + be32(structs + off + 4);
      const char *value = reinterpret_cast<const char *>(structs + off + 8);
      // QEMU virt: #address-cells = 2 everywhere, so reg starts with a 64-bit address.
      if (strncmp(name, "reg", 4) == 0 && len >= 8) reg = be64(value);
      if (strncmp(name, "compatible", 11) == 0) {
        // A list of NUL-terminated strings.
        for (uint64 i = 0; i < len; i += strlen(value + i) + 1)
          if (len - i >= want && strncmp(value + i, compat, want) == 0) matches = true;
      }
      off = align4(off + 8 + len);
      break;
    }
    case FDT_NOP: break;
    case FDT_END:
    default: return 0;
    }
  }
}

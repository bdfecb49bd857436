// ELF64 file format: the two headers exec needs (System V ABI, ELF-64).
#pragma once

#include "lib/types.h"

constexpr uint32 ELF_MAGIC = 0x464C457FU; // "\x7FELF" read as little-endian

struct ElfHeader {
  uint32 magic;
  uint8 ident[12];
  uint16 type;
  uint16 machine;
  uint32 version;
  uint64 entry;
  uint64 phoff;
  uint64 shoff;
  uint32 flags;
  uint16 ehsize;
  uint16 phentsize;
  uint16 phnum;
  uint16 shentsize;
  uint16 shnum;
  uint16 shstrndx;
};

struct ProgramHeader {
  uint32 type;
  uint32 flags;
  uint64 off;
  uint64 vaddr;
  uint64 paddr;
  uint64 filesz;
  uint64 memsz;
  uint64 align;
};

constexpr uint32 PT_LOAD = 1;
constexpr uint32 PF_X = 1;
constexpr uint32 PF_W = 2;
constexpr uint32 PF_R = 4;
constexpr uint16 EM_RISCV = 243;

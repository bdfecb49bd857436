// The kernel image's protection in the direct map (kernel_map.h).
#include "arch/riscv/kernel_map.h"

#include "arch/riscv/csr.h"
#include "arch/riscv/platform.h"
#include "lib/print.h"
#include "mm/addr.h"
#include "mm/pte.h"

extern "C" char kernel_start[], etext[], erodata[], kernel_end[];
extern "C" mm::Pte kernel_root_table[512];

namespace kmap {

namespace {

constexpr uint64 MEGA = 2UL << 20;        // a level-1 leaf: 2 MiB
constexpr uint64 GIGA = 1UL << 30;        // a root leaf: 1 GiB
constexpr int IMAGE_MEGAPAGES = 4;        // the image may span 8 MiB
constexpr uint64 RAM_SLOT = 256 + platform::RAM_BASE / GIGA; // root entry of RAM's gigapage

using namespace mm;

// The 2 MiB pages of RAM's gigapage, and the 4 KiB pages of the image's
// first IMAGE_MEGAPAGES of them. Written by hart 0 before the others run
// and by unmap_guard (procinit, also before).
alignas(PAGE_SIZE) Pte ram_megapages[512];
alignas(PAGE_SIZE) Pte image_pages[IMAGE_MEGAPAGES][512];

constexpr uint64 KERNEL_LEAF = pte::Valid | pte::Global | pte::Accessed | pte::Dirty;

uint64 va_of(const char *p) { return reinterpret_cast<uint64>(p); }

// The image's 4 KiB entry for `va`.
Pte *image_entry(uint64 va) {
  uint64 offset = va - va_of(kernel_start);
  if (va < va_of(kernel_start) || offset >= IMAGE_MEGAPAGES * MEGA) return nullptr;
  return &image_pages[offset / MEGA][(offset % MEGA) / PAGE_SIZE];
}

} // namespace

void protect_image() {
  uint64 start = va_of(kernel_start);
  if (ptr_to_phys(kernel_start).value != platform::RAM_BASE) panic("kmap: image not at RAM_BASE");
  uint64 megapages = (va_of(kernel_end) - start + MEGA - 1) / MEGA;
  if (megapages > IMAGE_MEGAPAGES) panic("kmap: kernel image over %d MiB", int(IMAGE_MEGAPAGES * 2));

  for (uint64 m = 0; m < 512; m++) {
    PhysAddr pa(platform::RAM_BASE + m * MEGA);
    if (m >= megapages) {
      ram_megapages[m] = Pte::make(pa, KERNEL_LEAF | pte::Read | pte::Write);
      continue;
    }
    for (uint64 k = 0; k < 512; k++) {
      uint64 va = start + m * MEGA + k * PAGE_SIZE;
      uint64 perm = va < va_of(etext)     ? pte::Read | pte::Exec
                    : va < va_of(erodata) ? pte::Read
                                          : pte::Read | pte::Write;
      image_pages[m][k] = Pte::make(PhysAddr(pa.value + k * PAGE_SIZE), KERNEL_LEAF | perm);
    }
    ram_megapages[m] = Pte::make(ptr_to_phys(image_pages[m]), pte::Valid);
  }
  // Devices and anything else: read and write, never execute.
  for (uint64 slot = 256; slot < 512; slot++) {
    Pte &e = kernel_root_table[slot];
    if (e.valid()) e = Pte::make(e.phys(), e.flags() & ~pte::Exec);
  }
  // One store switches RAM's gigapage for the table: the old translation
  // (the same frames, more rights) is harmless until the flush.
  kernel_root_table[RAM_SLOT] = Pte::make(ptr_to_phys(ram_megapages), pte::Valid);
  riscv::flush_all();
}

void unmap_guard(const void *page) {
  uint64 va = reinterpret_cast<uint64>(page);
  Pte *e = image_entry(va);
  if (!e || va % PAGE_SIZE != 0 || va < va_of(erodata)) panic("kmap: bad guard page %p", page);
  *e = Pte{};
  riscv::flush_page(va);
}

bool is_guard(uint64 va) {
  Pte *e = image_entry(va);
  return e && va < va_of(kernel_end) && !e->valid();
}

} // namespace kmap

// kmain: where every hart arrives in supervisor mode, paging on, running at
// the kernel's virtual addresses (see arch/riscv/entry.S). Hart 0 sets up the
// machine; the others wait for it, then all of them schedule processes.
#include <atomic>

#include "arch/riscv/csr.h"
#include "arch/riscv/fdt.h"
#include "arch/riscv/kernel_map.h"
#include "arch/riscv/plic.h"
#include "arch/riscv/platform.h"
#include "arch/riscv/shootdown.h"
#include "arch/riscv/trap.h"
#include "dev/console.h"
#include "dev/virtio_blk.h"
#include "fs/buf.h"
#include "fs/file.h"
#include "fs/fs.h"
#include "lib/print.h"
#include "lib/string.h"
#include "mm/frame.h"
#include "mm/object.h"
#include "mm/reclaim.h"
#include "mm/swap.h"
#include "mm/page_table.h"
#include "proc/proc.h"

extern "C" char kernel_end[];
extern "C" void (*__init_array_start[])();
extern "C" void (*__init_array_end[])();
extern "C" char kernel_root_table[];
extern "C" char boot_stacks[]; // entry.S: NCPU times a guard page and a 16 KiB stack

namespace {

std::atomic<bool> started{false};
std::atomic<int> harts_up{0};
constexpr uint64 BOOT_STACK_SLOT = mm::PAGE_SIZE + 16384; // entry.S

void init_memory(uint64 dtb_pa) {
  mm::direct_map_base = KERNEL_DIRECT_MAP;
  kmap::protect_image();
  for (int i = 0; i < NCPU; i++) kmap::unmap_guard(boot_stacks + i * BOOT_STACK_SLOT);
  uint64 ram_end = fdt_memory_end(mm::phys_to_ptr(mm::PhysAddr(dtb_pa)));
  if (ram_end == 0) ram_end = platform::RAM_BASE + 128 * 1024 * 1024;
  // Keep the device tree out of the frame pool (QEMU puts it near the top of RAM).
  if (dtb_pa > platform::RAM_BASE && dtb_pa < ram_end) ram_end = mm::page_round_down(dtb_pa);
  mm::frames.init(mm::ptr_to_phys(kernel_end), mm::PhysAddr(ram_end));
  mm::page_cache::init();
  mm::reclaim::init();
  mm::PageTable::set_kernel_root(mm::ptr_to_phys(&kernel_root_table));
}

// Whether the boot argument word[0..len) is `key` or `key=N`; if it has a
// number, it goes into `value`.
bool bootarg(const char *word, uint64 len, const char *key, uint64 &value) {
  uint64 k = strlen(key);
  if (len < k || strncmp(word, key, k) != 0 || (len > k && word[k] != '=')) return false;
  if (len == k) return true;
  uint64 n = 0;
  for (uint64 i = k + 1; i < len; i++) {
    if (word[i] < '0' || word[i] > '9') return false;
    n = n * 10 + (word[i] - '0');
  }
  value = n;
  return true;
}

// Boot arguments (QEMU -append), for testing (tools/run-tests):
//   testpanic=N        panic at tick N, to check that a panic powers the
//                      machine off at once;
//   testswapdev[=N]    the swap disk's self-test, timing N pages (default 1024;
//                      dev/swaptest.cpp);
//   testshootdown[=N]  the TLB shootdown self-test, N shootdowns per hart
//                      (default 1000; arch/riscv/shootdown.cpp).
void parse_bootargs(uint64 dtb_pa) {
  const char *args = fdt_bootargs(mm::phys_to_ptr(mm::PhysAddr(dtb_pa)));
  if (args == nullptr) return;
  for (const char *p = args; *p;) {
    while (*p == ' ') p++;
    const char *word = p;
    while (*p && *p != ' ') p++;
    uint64 len = p - word, n = 0;
    if (bootarg(word, len, "testpanic", n) && n > 0) {
      test_panic_tick = n;
      kprintf("cowix: boot argument testpanic=%lu: will panic at that tick\n", n);
    }
    n = test_swapdev_pages;
    if (bootarg(word, len, "testswapdev", n)) {
      test_swapdev = true;
      test_swapdev_pages = n;
    }
    n = 1000;
    if (bootarg(word, len, "testshootdown", n)) test_shootdown_rounds = n > 0 ? n : 1;
  }
}

} // namespace

extern "C" [[noreturn]] void kmain(uint64 hartid, uint64 dtb_pa) {
  if (hartid == 0) {
    for (auto f = __init_array_start; f != __init_array_end; ++f) (*f)();
    console_init();
    init_memory(dtb_pa);
    kprintf("\ncowix: booting, %lu MiB free in %lu frames\n", mm::frames.free_count() * mm::PAGE_SIZE >> 20,
            mm::frames.total());
    parse_bootargs(dtb_pa);
    procinit();
    trap_init_hart();
    plic_init();
    plic_init_hart();
    binit();
    iinit();
    fileinit();
    virtio_disk_init();
    if (mm::swap::init().is_error()) panic("swap: no memory for the slot counts");
    userinit();
    shootdown_init(mm::phys_to_ptr(mm::PhysAddr(dtb_pa)));
    shootdown_init_hart();
    harts_up.fetch_add(1);
    started.store(true, std::memory_order_release);
  } else {
    while (!started.load(std::memory_order_acquire)) {
    }
    riscv::flush_all(); // hart 0 changed the kernel's mappings (kmap::protect_image)
    trap_init_hart();
    plic_init_hart();
    shootdown_init_hart();
    harts_up.fetch_add(1);
  }
  if (test_shootdown_rounds) shootdown_selftest(test_shootdown_rounds);
  scheduler();
}

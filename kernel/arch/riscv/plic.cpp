// PLIC (SiFive/RISC-V PLIC spec). On QEMU virt, hart h's supervisor context
// is number 2h+1. Each source has a priority; a context takes interrupts from
// the sources it enables whose priority exceeds its threshold.
#include "arch/riscv/plic.h"

#include "arch/riscv/csr.h"
#include "arch/riscv/platform.h"

namespace {

using platform::PLIC;
constexpr uint64 PRIORITY = PLIC + 0x0;       // 4 bytes per source
constexpr uint64 ENABLE = PLIC + 0x2000;      // 0x80 per context
constexpr uint64 THRESHOLD = PLIC + 0x200000; // 0x1000 per context
constexpr uint64 CLAIM = PLIC + 0x200004;     // 0x1000 per context

uint64 s_context() { return 2 * riscv::hart_id() + 1; }

// The UART and every virtio-mmio slot (an empty slot never interrupts).
constexpr uint32 irq_mask() {
  uint32 m = 1u << platform::UART0_IRQ;
  for (int s = 0; s < platform::VIRTIO_SLOTS; s++) m |= 1u << (platform::VIRTIO0_IRQ + s);
  return m;
}

} // namespace

void plic_init() {
  *platform::mmio<uint32>(PRIORITY + platform::UART0_IRQ * 4) = 1;
  for (int s = 0; s < platform::VIRTIO_SLOTS; s++)
    *platform::mmio<uint32>(PRIORITY + (platform::VIRTIO0_IRQ + s) * 4) = 1;
}

void plic_init_hart() {
  uint64 ctx = s_context();
  *platform::mmio<uint32>(ENABLE + ctx * 0x80) = irq_mask();
  *platform::mmio<uint32>(THRESHOLD + ctx * 0x1000) = 0;
}

int plic_claim() { return static_cast<int>(*platform::mmio<uint32>(CLAIM + s_context() * 0x1000)); }

void plic_complete(int irq) {
  *platform::mmio<uint32>(CLAIM + s_context() * 0x1000) = static_cast<uint32>(irq);
}

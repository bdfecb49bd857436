// QEMU `virt` machine: physical addresses of the devices cowix uses, and how
// the kernel reaches them (through the direct map, like all of memory).
#pragma once

#include "kernel/memlayout.h"
#include "lib/types.h"

namespace platform {

constexpr uint64 TEST_DEVICE = 0x00100000; // SiFive test: power off / exit code
constexpr uint64 PLIC = 0x0c000000;
constexpr uint64 UART0 = 0x10000000;
constexpr uint64 VIRTIO0 = 0x10001000; // virtio-mmio slot 0; slot N at VIRTIO0 + N * VIRTIO_SLOT_SIZE
constexpr uint64 VIRTIO_SLOT_SIZE = 0x1000;
constexpr int VIRTIO_SLOTS = 8;
constexpr uint64 RAM_BASE = 0x80000000;

constexpr int UART0_IRQ = 10;
constexpr int VIRTIO0_IRQ = 1; // slot N interrupts on VIRTIO0_IRQ + N

// A device register at physical address pa.
template <typename T> inline volatile T *mmio(uint64 pa) {
  return reinterpret_cast<volatile T *>(KERNEL_DIRECT_MAP + pa);
}

} // namespace platform

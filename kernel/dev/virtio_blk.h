// The virtio block devices (QEMU's virtio-blk on the virtio-mmio transport):
// the disk that holds the file system (virtio-mmio slot 0) and, if the
// machine has one, the swap disk (the first block device in slots 1-7).
// The memory core reaches the swap disk through mm/hal.h (swap_pages,
// swap_read, swap_write), which this driver implements.
#pragma once

#include "lib/result.h"
#include "lib/types.h"

struct Buf;

// Largest transfer virtio_disk_rw_raw accepts: one page (the page cache's
// unit). The device takes more; nothing needs it yet.
constexpr uint32 VIRTIO_RAW_MAX = 4096;

// Find and set up both disks (boot hart, before any disk I/O). Panics if
// slot 0 has no usable block device; prints "swap: N MiB on virtioK" or
// "swap: none".
void virtio_disk_init();
// Read (write == false) or write the block b->blockno to/from b->data, and
// sleep until the device has finished. The caller holds b's sleep-lock.
// Errors: IO (the device reported a failure, or one was injected).
Result<void> virtio_disk_rw(Buf *b, bool write);
// Read (write == false) or write `len` bytes at 512-byte sector `sector`
// to/from the kernel buffer `data`, without the buffer cache, and sleep
// until the device has finished. `data` must be physically contiguous (in
// the kernel's direct map: a frame, or part of one); len a multiple of 512,
// at most VIRTIO_RAW_MAX. Sleeps: never call it holding a spinlock. Errors:
// Invalid (bad length), IO (the device reported a failure).
Result<void> virtio_disk_rw_raw(uint64 sector, void *data, uint32 len, bool write);
// Fault injection for tests (faultinject(FAULT_DISK, n)): the next n
// requests, of either kind, go to the device; every later one fails with IO
// without reaching it. n < 0 ends the injection. Returns how many requests
// failed by injection since the previous call.
long virtio_disk_fail_after(long n);
// Called by the trap code on an interrupt from virtio-mmio slot `slot`
// (PLIC IRQ 1 + slot).
void virtio_disk_intr(int slot);

// The swap disk. Fault injection for tests (faultinject(FAULT_SWAP, n)):
// as virtio_disk_fail_after, for the swap disk's requests only.
long virtio_swap_fail_after(long n);
// Pages the swap disk has read and written (successful requests) since boot.
struct SwapCounts {
  uint64 reads;
  uint64 writes;
};
SwapCounts virtio_swap_counts();

// Testing and measuring (dev/swaptest.cpp).
// Time `pages` sequential one-page writes of slots 0..pages-1, then reads of
// them (process context; overwrites those slots). Times in µs of the `time`
// CSR: host time, or virtual time under -icount (1 instruction = 1 ns).
struct SwapTiming {
  uint64 pages;
  uint64 write_us;
  uint64 read_us;
};
Result<SwapTiming> swapdev_time(uint64 pages);
// Boot argument testswapdev[=N]: test_swapdev is set and the first process
// runs swapdev_selftest(N) (default 1024): reads and writes checked, then
// N pages timed with swapdev_time (none if N = 0). Prints
// "swapdev: selftest ok: ..." (or FAILED) and the timing.
extern bool test_swapdev;
extern uint64 test_swapdev_pages;
void swapdev_selftest(uint64 time_pages);

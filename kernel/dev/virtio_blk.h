// The virtio block device (QEMU's virtio-blk on the virtio-mmio transport):
// the disk that holds the file system.
#pragma once

#include "lib/result.h"
#include "lib/types.h"

struct Buf;

// Largest transfer virtio_disk_rw_raw accepts: one page (the page cache's
// unit). The device takes more; nothing needs it yet.
constexpr uint32 VIRTIO_RAW_MAX = 4096;

// Find and set up the device (boot hart, before any disk I/O).
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
// Called by the trap code on the device's interrupt (PLIC IRQ 1).
void virtio_disk_intr();

// The virtio block device (QEMU's virtio-blk on the virtio-mmio transport):
// the disk that holds the file system.
#pragma once

struct Buf;

// Find and set up the device (boot hart, before any disk I/O).
void virtio_disk_init();
// Read (write == false) or write the block b->blockno to/from b->data, and
// sleep until the device has finished. The caller holds b's sleep-lock.
void virtio_disk_rw(Buf *b, bool write);
// Called by the trap code on the device's interrupt (PLIC IRQ 1).
void virtio_disk_intr();

// Driver for virtio block devices, modern (version 2) virtio-mmio
// transport, as QEMU's `virt` machine provides with
// `-global virtio-mmio.force-legacy=false`. Facts from the virtio 1.x spec,
// sections 2.7 (split virtqueues), 4.2 (MMIO transport) and 5.2 (block).
//
// QEMU `virt` has eight virtio-mmio slots (`-device ...,bus=virtio-mmio-bus.N`):
// slot N's registers are at VIRTIO0 + N * 0x1000 and it interrupts on PLIC
// IRQ VIRTIO0_IRQ + N. An empty slot reads DeviceId 0. cowix drives two
// disks, each an instance of the class VirtioDisk below: the file system's
// in slot 0, and the swap disk, the first block device in slots 1 to 7
// (`make qemu` and tools/qemu-run put it in slot 1).
//
// The driver and the device share three rings in RAM, which the device reads
// and writes by physical address (DMA):
//  - the descriptor table: each entry points at one buffer (address, length)
//    and may chain to the next entry;
//  - the available ring ("driver area"): the driver appends the head of a
//    descriptor chain to hand a request to the device;
//  - the used ring ("device area"): the device appends the head of each
//    chain it has finished, then raises an interrupt.
// A block request is a chain of three descriptors: a header saying what to
// do (read or write, which sector), the data (one file system block, or up
// to VIRTIO_RAW_MAX contiguous bytes for virtio_disk_rw_raw), and a
// one-byte status the device writes at the end.

#include "dev/virtio_blk.h"

#include <atomic>

#include "arch/riscv/platform.h"
#include "fs/buf.h"
#include "lib/print.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "mm/addr.h"
#include "mm/frame.h"
#include "mm/hal.h"
#include "proc/proc.h"

namespace {

// ---- virtio-mmio registers (byte offsets from the device base) ----
namespace reg {
constexpr uint64 MagicValue = 0x000;        // reads "virt" (0x74726976)
constexpr uint64 Version = 0x004;           // 2 for the modern interface
constexpr uint64 DeviceId = 0x008;          // 2 for a block device, 0 if absent
constexpr uint64 DeviceFeatures = 0x010;    // 32 feature bits selected by ...
constexpr uint64 DeviceFeaturesSel = 0x014; // ... this word index
constexpr uint64 DriverFeatures = 0x020;    // the bits the driver accepts ...
constexpr uint64 DriverFeaturesSel = 0x024; // ... for this word index
constexpr uint64 QueueSel = 0x030;          // which virtqueue the Queue* registers mean
constexpr uint64 QueueNumMax = 0x034;       // largest queue size the device supports
constexpr uint64 QueueNum = 0x038;          // queue size the driver chose
constexpr uint64 QueueReady = 0x044;        // write 1 once the queue is set up
constexpr uint64 QueueNotify = 0x050;       // write a queue index: "new requests"
constexpr uint64 InterruptStatus = 0x060;   // why the device interrupted
constexpr uint64 InterruptAck = 0x064;      // write those bits back to clear them
constexpr uint64 Status = 0x070;            // device status (below); 0 resets
constexpr uint64 QueueDescLow = 0x080;      // physical address of the descriptor table
constexpr uint64 QueueDescHigh = 0x084;
constexpr uint64 QueueDriverLow = 0x090; // physical address of the available ring
constexpr uint64 QueueDriverHigh = 0x094;
constexpr uint64 QueueDeviceLow = 0x0a0; // physical address of the used ring
constexpr uint64 QueueDeviceHigh = 0x0a4;
constexpr uint64 Config = 0x100; // device-specific: for a block device, first
                                 // the capacity in sectors (64 bits)
} // namespace reg

constexpr uint32 MAGIC = 0x74726976; // "virt", little-endian
constexpr uint32 MODERN_VERSION = 2;
constexpr uint32 BLOCK_DEVICE_ID = 2;

// Device status bits, set by the driver in this order during setup.
namespace status {
constexpr uint32 Acknowledge = 1; // the guest has noticed the device
constexpr uint32 Driver = 2;      // ... and knows how to drive it
constexpr uint32 DriverOk = 4;    // the driver is ready: the device may run
constexpr uint32 FeaturesOk = 8;  // feature negotiation is complete
constexpr uint32 Failed = 128;    // the driver gave up on the device
} // namespace status

// VIRTIO_F_VERSION_1 (feature bit 32, i.e. bit 0 of feature word 1): the
// driver follows the virtio 1.x rules (little-endian rings, ...). A modern
// device requires it; the file system's disk accepts no other feature, so
// none of the optional behaviours (indirect descriptors, event index,
// read-only disk checks, write-cache control, multiple queues) is in effect.
constexpr uint32 FEATURE_WORD_VERSION_1 = 1;
constexpr uint32 FEATURE_VERSION_1 = 1u << 0;
// VIRTIO_BLK_F_FLUSH (bit 9 of word 0): the device may cache writes, and the
// driver would send flush requests to make them durable. A driver that does
// not accept it gets write-through: QEMU then syncs the image file after
// every write (~3 ms each on our hosts). The swap disk accepts it and never
// flushes: its contents die with the machine.
constexpr uint32 FEATURE_BLK_FLUSH = 1u << 9;

// InterruptStatus bits: the used ring changed / the configuration changed.
constexpr uint32 INTERRUPT_MASK = 0x3;

// Number of descriptors in our single request queue (a power of two, at
// most QueueNumMax). Three per request, so two requests can be in flight.
constexpr uint32 NUM = 8;

// ---- split virtqueue layout (spec 2.7), all little-endian ----
struct VirtqDesc {
  uint64 addr;  // physical address of the buffer
  uint32 len;   // its length in bytes
  uint16 flags; // DESC_F_*
  uint16 next;  // the next descriptor of the chain, if DESC_F_NEXT
};
constexpr uint16 DESC_F_NEXT = 1;  // the chain continues at `next`
constexpr uint16 DESC_F_WRITE = 2; // the device writes this buffer (else reads it)

struct VirtqAvail {
  uint16 flags;      // 0: we want interrupts
  uint16 idx;        // where the driver will put the next entry (mod NUM)
  uint16 ring[NUM];  // heads of descriptor chains
  uint16 used_event; // unused (no VIRTIO_F_EVENT_IDX)
};

struct VirtqUsedElem {
  uint32 id;  // head of the finished chain
  uint32 len; // bytes the device wrote
};

struct VirtqUsed {
  uint16 flags;
  uint16 idx; // where the device will put the next entry (mod NUM)
  VirtqUsedElem ring[NUM];
  uint16 avail_event;
};

// The request header, the first buffer of each chain (spec 5.2.6).
struct BlkReq {
  uint32 type; // BLK_T_IN (read from disk) or BLK_T_OUT (write to disk)
  uint32 reserved;
  uint64 sector; // in units of SECTOR_SIZE bytes
};
constexpr uint32 BLK_T_IN = 0;
constexpr uint32 BLK_T_OUT = 1;
constexpr uint8 BLK_S_OK = 0;          // the status byte the device writes on success
constexpr uint8 STATUS_INJECTED = 0xfe; // ours: a failure injected for a test
constexpr uint8 STATUS_PENDING = 0xff; // anything but OK, until the device writes
constexpr uint64 SECTOR_SIZE = 512;    // virtio-blk addresses 512-byte sectors
static_assert(BSIZE % SECTOR_SIZE == 0);

// Each ring must fit in the one page we give it.
static_assert(sizeof(VirtqDesc) * NUM <= mm::PAGE_SIZE);
static_assert(sizeof(VirtqAvail) <= mm::PAGE_SIZE);
static_assert(sizeof(VirtqUsed) <= mm::PAGE_SIZE);

// A register of the device in virtio-mmio slot `slot`.
volatile uint32 *slot_reg(int slot, uint64 offset) {
  return platform::mmio<uint32>(platform::VIRTIO0 + slot * platform::VIRTIO_SLOT_SIZE + offset);
}

// Whether slot `slot` holds a modern virtio block device.
bool block_device_at(int slot) {
  return *slot_reg(slot, reg::MagicValue) == MAGIC && *slot_reg(slot, reg::Version) == MODERN_VERSION &&
         *slot_reg(slot, reg::DeviceId) == BLOCK_DEVICE_ID;
}

// Full fence, including device I/O (RISC-V `fence iorw,iorw`): orders our
// ring updates against the device's view and the MMIO notify.
inline void fence() { __sync_synchronize(); }

// Read a field the device may change behind the compiler's back.
template <typename T> T read_shared(const T &x) { return *static_cast<const volatile T *>(&x); }

class VirtioDisk {
public:
  // write_cache: accept VIRTIO_BLK_F_FLUSH (above).
  constexpr VirtioDisk(const char *name, bool write_cache) : lock_(name), write_cache_(write_cache) {}

  // Set up the block device in virtio-mmio slot `slot` (boot hart, before
  // any I/O). Returns nullptr, or why the device cannot be used.
  const char *init(int slot);
  bool attached() const { return slot_ >= 0; }
  int slot() const { return slot_; }
  uint64 sectors() const { return sectors_; } // capacity, 512-byte sectors
  Result<void> rw(Buf *b, bool write);
  Result<void> rw_raw(uint64 sector, void *data, uint32 len, bool write);
  void intr();
  long fail_after(long n) {
    fail_after_.store(n);
    return injected_.exchange(0);
  }

private:
  volatile uint32 *regp(uint64 offset) const { return slot_reg(slot_, offset); }
  uint32 read_reg(uint64 offset) const { return *regp(offset); }
  void write_reg(uint64 offset, uint32 value) const { *regp(offset) = value; }
  // Write a 64-bit physical address to a Low/High register pair.
  void write_reg64(uint64 low, uint64 high, mm::PhysAddr pa) const {
    write_reg(low, static_cast<uint32>(pa.value));
    write_reg(high, static_cast<uint32>(pa.value >> 32));
  }

  bool inject_failure();
  uint8 transfer(uint64 sector, void *data, uint32 len, bool write);
  int alloc_desc();
  void free_desc(uint32 i);
  void free_chain(uint32 i);
  bool alloc3(uint32 idx[3]);

  Spinlock lock_;
  bool write_cache_;   // VIRTIO_BLK_F_FLUSH accepted
  int slot_ = -1;      // virtio-mmio slot; -1: no device
  uint64 sectors_ = 0; // capacity

  // The three rings, one zeroed kernel frame each.
  VirtqDesc *desc_ = nullptr;
  VirtqAvail *avail_ = nullptr;
  VirtqUsed *used_ = nullptr;

  bool free_[NUM] = {}; // descriptor i is unused
  uint16 used_idx_ = 0; // how far we have consumed the used ring

  // Per request in flight, indexed by its chain's first descriptor. The
  // device reads `reqs_[i]` and writes `status_[i]` by DMA (the kernel's
  // .bss is in RAM like everything else). pending_[i] is set while the
  // device owns the request; its address is the channel the submitter
  // sleeps on.
  BlkReq reqs_[NUM] = {};
  uint8 status_[NUM] = {};
  bool pending_[NUM] = {};

  // Fault injection (faultinject(FAULT_DISK, n)): requests left to let
  // through before every later one fails; -1: no injection.
  std::atomic<long> fail_after_{-1};
  std::atomic<long> injected_{0}; // failures injected since fail_after()
};

const char *VirtioDisk::init(int slot) {
  if (!block_device_at(slot)) return "no modern virtio block device there";
  slot_ = slot;
  // Give the device up (status Failed, slot_ back to -1), saying why.
  auto fail = [this](const char *why) {
    write_reg(reg::Status, status::Failed);
    slot_ = -1;
    return why;
  };

  // Device initialisation, in the order spec 3.1.1 requires.
  uint32 st = 0;
  write_reg(reg::Status, st); // reset
  st |= status::Acknowledge;
  write_reg(reg::Status, st);
  st |= status::Driver;
  write_reg(reg::Status, st);

  // Feature negotiation: accept VERSION_1, and FLUSH if we want a write
  // cache and the device offers it (see above).
  write_reg(reg::DeviceFeaturesSel, FEATURE_WORD_VERSION_1);
  if (!(read_reg(reg::DeviceFeatures) & FEATURE_VERSION_1)) return fail("no VIRTIO_F_VERSION_1");
  write_reg(reg::DeviceFeaturesSel, 0);
  uint32 word0 = write_cache_ ? read_reg(reg::DeviceFeatures) & FEATURE_BLK_FLUSH : 0;
  write_reg(reg::DriverFeaturesSel, 0);
  write_reg(reg::DriverFeatures, word0);
  write_reg(reg::DriverFeaturesSel, FEATURE_WORD_VERSION_1);
  write_reg(reg::DriverFeatures, FEATURE_VERSION_1);
  st |= status::FeaturesOk;
  write_reg(reg::Status, st);
  // The device clears FeaturesOk again if it cannot work with our choice.
  if (!(read_reg(reg::Status) & status::FeaturesOk)) return fail("the device rejected the features");

  // Set up queue 0, the block device's only request queue.
  write_reg(reg::QueueSel, 0);
  if (read_reg(reg::QueueReady)) return fail("queue 0 already in use");
  uint32 max = read_reg(reg::QueueNumMax);
  if (max < NUM) return fail("queue 0 is missing or too small");

  // The three rings: one zeroed frame each (kept for good).
  mm::PhysAddr ring[3];
  for (int i = 0; i < 3; i++) {
    auto r = mm::frames.alloc_zeroed(mm::FrameKind::Kernel);
    if (r.is_error()) {
      for (int j = 0; j < i; j++) mm::frames.unref(ring[j]);
      return fail("no memory for the rings");
    }
    ring[i] = r.value();
  }
  desc_ = mm::phys_to_ptr<VirtqDesc>(ring[0]);
  avail_ = mm::phys_to_ptr<VirtqAvail>(ring[1]);
  used_ = mm::phys_to_ptr<VirtqUsed>(ring[2]);

  write_reg(reg::QueueNum, NUM);
  write_reg64(reg::QueueDescLow, reg::QueueDescHigh, ring[0]);
  write_reg64(reg::QueueDriverLow, reg::QueueDriverHigh, ring[1]);
  write_reg64(reg::QueueDeviceLow, reg::QueueDeviceHigh, ring[2]);
  write_reg(reg::QueueReady, 1);

  for (bool &f : free_) f = true;

  // The capacity (virtio_blk_config.capacity, 64 bits little-endian) as two
  // 32-bit reads: it never changes for our disks, so no generation check.
  sectors_ = read_reg(reg::Config) | static_cast<uint64>(read_reg(reg::Config + 4)) << 32;

  st |= status::DriverOk;
  write_reg(reg::Status, st);
  return nullptr;
}

int VirtioDisk::alloc_desc() {
  for (uint32 i = 0; i < NUM; i++) {
    if (free_[i]) {
      free_[i] = false;
      return static_cast<int>(i);
    }
  }
  return -1;
}

void VirtioDisk::free_desc(uint32 i) {
  if (i >= NUM) panic("virtio_disk: free_desc %u out of range", i);
  if (free_[i]) panic("virtio_disk: descriptor %u freed twice", i);
  desc_[i] = VirtqDesc{};
  free_[i] = true;
  wakeup(&free_[0]); // rw() may be waiting for descriptors
}

void VirtioDisk::free_chain(uint32 i) {
  for (;;) {
    bool more = desc_[i].flags & DESC_F_NEXT;
    uint32 next = desc_[i].next;
    free_desc(i);
    if (!more) break;
    i = next;
  }
}

// Three descriptors, all or none.
bool VirtioDisk::alloc3(uint32 idx[3]) {
  for (int i = 0; i < 3; i++) {
    int d = alloc_desc();
    if (d < 0) {
      for (int j = 0; j < i; j++) free_desc(idx[j]);
      return false;
    }
    idx[i] = static_cast<uint32>(d);
  }
  return true;
}

// Hand the device one request for `len` bytes at `data` (physically
// contiguous: the kernel direct map) and sleep until it has finished.
// Returns the status byte the device wrote (BLK_S_OK on success).
uint8 VirtioDisk::transfer(uint64 sector, void *data, uint32 len, bool write) {
  // An injected failure looks like the device's: the device is never asked.
  if (inject_failure()) return STATUS_INJECTED;
  SpinGuard guard(lock_);

  uint32 idx[3];
  while (!alloc3(idx)) sleep(&free_[0], lock_);

  BlkReq &req = reqs_[idx[0]];
  req.type = write ? BLK_T_OUT : BLK_T_IN;
  req.reserved = 0;
  req.sector = sector;

  desc_[idx[0]] =
      VirtqDesc{mm::ptr_to_phys(&req).value, sizeof(BlkReq), DESC_F_NEXT, static_cast<uint16>(idx[1])};
  // For a read the device writes the data into the buffer.
  uint16 data_flags = DESC_F_NEXT | (write ? 0 : DESC_F_WRITE);
  desc_[idx[1]] = VirtqDesc{mm::ptr_to_phys(data).value, len, data_flags, static_cast<uint16>(idx[2])};
  status_[idx[0]] = STATUS_PENDING;
  desc_[idx[2]] = VirtqDesc{mm::ptr_to_phys(&status_[idx[0]]).value, 1, DESC_F_WRITE, 0};

  // Record the request for intr(), then publish the chain: the ring entry
  // must be visible before the index that covers it, and both before the
  // notify.
  pending_[idx[0]] = true;
  avail_->ring[avail_->idx % NUM] = static_cast<uint16>(idx[0]);
  fence();
  avail_->idx = static_cast<uint16>(avail_->idx + 1);
  fence();
  write_reg(reg::QueueNotify, 0);

  // intr() clears pending_ when the device reports the chain as used.
  while (read_shared(pending_[idx[0]])) sleep(&pending_[idx[0]], lock_);

  uint8 st = read_shared(status_[idx[0]]);
  free_chain(idx[0]);
  return st;
}

// Whether this request is to fail by injection; counts it if not.
bool VirtioDisk::inject_failure() {
  long left = fail_after_.load(std::memory_order_relaxed);
  for (;;) {
    if (left < 0) return false; // no injection
    if (left == 0) {
      injected_.fetch_add(1);
      return true;
    }
    if (fail_after_.compare_exchange_weak(left, left - 1)) return false;
  }
}

Result<void> VirtioDisk::rw(Buf *b, bool write) {
  b->disk = true;
  uint8 st = transfer(static_cast<uint64>(b->blockno) * (BSIZE / SECTOR_SIZE), b->data, BSIZE, write);
  b->disk = false;
  if (st != BLK_S_OK) {
    if (st != STATUS_INJECTED) // (tests inject thousands: keep the console quiet)
      kprintf("virtio_disk: %s of block %u failed (status %u)\n", write ? "write" : "read", b->blockno,
              static_cast<uint>(st));
    return Error::IO;
  }
  return {};
}

Result<void> VirtioDisk::rw_raw(uint64 sector, void *data, uint32 len, bool write) {
  if (len == 0 || len % SECTOR_SIZE != 0 || len > VIRTIO_RAW_MAX) return Error::Invalid;
  uint8 st = transfer(sector, data, len, write);
  if (st != BLK_S_OK) {
    if (st != STATUS_INJECTED)
      kprintf("%s: %s of %u bytes at sector %lu failed (status %u)\n", lock_.name(), write ? "write" : "read",
              len, sector, static_cast<uint>(st));
    return Error::IO;
  }
  return {};
}

void VirtioDisk::intr() {
  SpinGuard guard(lock_);

  // Acknowledge first: a completion the device posts after we have scanned
  // the used ring then raises a new interrupt instead of being lost.
  write_reg(reg::InterruptAck, read_reg(reg::InterruptStatus) & INTERRUPT_MASK);
  fence();

  while (used_idx_ != read_shared(used_->idx)) {
    fence(); // read the element only after seeing the index that covers it
    uint32 id = read_shared(used_->ring[used_idx_ % NUM].id);
    if (id >= NUM || !pending_[id]) panic("virtio_disk_intr: bogus used id %u", id);
    // The data are in memory (or on disk) now; the submitter checks the
    // status byte.
    pending_[id] = false;
    wakeup(&pending_[id]);
    used_idx_++;
  }
}

// The file system's disk and the swap disk.
VirtioDisk disk{"virtio_disk", false};
VirtioDisk swap{"virtio_swap", true};

constexpr uint64 SECTORS_PER_PAGE = mm::PAGE_SIZE / SECTOR_SIZE;
uint64 swap_slots = 0; // pages of the swap disk: set at boot, then read-only
std::atomic<uint64> swap_reads{0}, swap_writes{0};

} // namespace

void virtio_disk_init() {
  if (const char *why = disk.init(0))
    panic("virtio_disk_init: slot 0 (%p): %s", reinterpret_cast<void *>(platform::VIRTIO0), why);

  // The swap disk: the first block device in the other slots.
  for (int slot = 1; slot < platform::VIRTIO_SLOTS && !swap.attached(); slot++) {
    if (!block_device_at(slot)) continue;
    if (const char *why = swap.init(slot)) kprintf("swap: virtio%d unusable: %s\n", slot, why);
  }
  swap_slots = swap.sectors() / SECTORS_PER_PAGE;
  if (swap.attached())
    kprintf("swap: %lu MiB on virtio%d\n", swap_slots * mm::PAGE_SIZE >> 20, swap.slot());
  else
    kprintf("swap: none\n");
}

Result<void> virtio_disk_rw(Buf *b, bool write) { return disk.rw(b, write); }

long virtio_disk_fail_after(long n) { return disk.fail_after(n); }

Result<void> virtio_disk_rw_raw(uint64 sector, void *data, uint32 len, bool write) {
  return disk.rw_raw(sector, data, len, write);
}

void virtio_disk_intr(int slot) {
  if (slot == disk.slot())
    disk.intr();
  else if (slot == swap.slot())
    swap.intr();
  else
    kprintf("virtio: unexpected interrupt from slot %d\n", slot);
}

long virtio_swap_fail_after(long n) { return swap.fail_after(n); }

SwapCounts virtio_swap_counts() { return {swap_reads.load(), swap_writes.load()}; }

// The memory core's view of the swap disk (mm/hal.h): one page per request.
namespace mm::hal {

uint64 swap_pages() { return swap_slots; }

Result<void> swap_read(uint64 slot, PhysAddr page) {
  if (slot >= swap_slots) return Error::Invalid;
  TRY(swap.rw_raw(slot * SECTORS_PER_PAGE, phys_to_ptr(page), PAGE_SIZE, false));
  swap_reads.fetch_add(1, std::memory_order_relaxed);
  return {};
}

Result<void> swap_write(uint64 slot, PhysAddr page) {
  if (slot >= swap_slots) return Error::Invalid;
  TRY(swap.rw_raw(slot * SECTORS_PER_PAGE, phys_to_ptr(page), PAGE_SIZE, true));
  swap_writes.fetch_add(1, std::memory_order_relaxed);
  return {};
}

} // namespace mm::hal

// The swap disk's self-test and raw throughput (boot argument
// testswapdev[=N]; tools/run-tests greps the line it prints). Runs in the
// first process once the file system is up: swap I/O sleeps, so it needs a
// process.
#include "arch/riscv/csr.h"
#include "dev/virtio_blk.h"
#include "lib/print.h"
#include "mm/frame.h"
#include "mm/hal.h"

bool test_swapdev = false;
uint64 test_swapdev_pages = 1024;

namespace {

constexpr uint64 WORDS = mm::PAGE_SIZE / 8;
constexpr uint64 TICKS_PER_US = 10; // the `time` CSR runs at 10 MHz

// What slot `slot` holds in the test: different in every word and slot.
uint64 pattern(uint64 slot, uint64 i) { return (slot + 1) * 0x9e3779b97f4a7c15 ^ (i * 0x100000001b3); }

void fill(mm::PhysAddr page, uint64 slot) {
  uint64 *w = mm::phys_to_ptr<uint64>(page);
  for (uint64 i = 0; i < WORDS; i++) w[i] = pattern(slot, i);
}

bool holds(mm::PhysAddr page, uint64 slot) {
  const uint64 *w = mm::phys_to_ptr<uint64>(page);
  for (uint64 i = 0; i < WORDS; i++)
    if (w[i] != pattern(slot, i)) return false;
  return true;
}

bool failed_with(Result<void> r, Error e) { return r.is_error() && r.error() == e; }

// The checks; returns the number of failures, each printed.
int check_swap_disk(mm::PhysAddr page) {
  using namespace mm::hal;
  int bad = 0;
  auto check = [&bad](bool ok, const char *what) {
    if (!ok) {
      kprintf("swapdev: selftest: %s\n", what);
      bad++;
    }
  };
  uint64 n = swap_pages();
  check(failed_with(swap_read(n, page), Error::Invalid),
        "a read past the last slot did not fail with Invalid");
  check(failed_with(swap_write(n, page), Error::Invalid),
        "a write past the last slot did not fail with Invalid");
  check(failed_with(swap_read(~0UL, page), Error::Invalid),
        "a read of slot 2^64-1 did not fail with Invalid");
  if (n == 0) return bad;

  // Distinct patterns into four slots (the last one among them), read back.
  const uint64 slots[] = {0, n / 3, n / 2, n - 1};
  SwapCounts before = virtio_swap_counts();
  for (uint64 s : slots) {
    fill(page, s);
    check(swap_write(s, page).ok(), "a write failed");
  }
  for (uint64 s : slots) {
    fill(page, ~s); // not what the disk holds
    check(swap_read(s, page).ok(), "a read failed");
    check(holds(page, s), "a slot read back wrong data");
  }
  SwapCounts after = virtio_swap_counts();
  check(after.reads - before.reads == 4 && after.writes - before.writes == 4, "wrong read/write counts");

  // Injection: one more request reaches the disk, then every one fails,
  // and a failed write leaves the slot as it was. The file system disk's
  // injection is separate (it has failed nothing).
  virtio_swap_fail_after(1);
  fill(page, 0);
  check(swap_write(0, page).ok(), "the write before the injected failure failed");
  fill(page, 0);
  check(failed_with(swap_write(n - 1, page), Error::IO), "an injected write failure did not fail with IO");
  check(failed_with(swap_read(n - 1, page), Error::IO), "an injected read failure did not fail with IO");
  check(virtio_swap_fail_after(-1) == 2, "faultinject(FAULT_SWAP, -1) did not count 2 failures");
  check(virtio_disk_fail_after(-1) == 0, "the file system disk's injection counted swap failures");
  check(swap_read(n - 1, page).ok() && holds(page, n - 1), "a failed write reached the disk");
  return bad;
}

} // namespace

Result<SwapTiming> swapdev_time(uint64 pages) {
  using namespace mm::hal;
  if (pages == 0 || pages > swap_pages()) return Error::Invalid;
  mm::PhysAddr page = TRY(mm::frames.alloc_zeroed(mm::FrameKind::Kernel));
  Result<void> r;
  uint64 t0 = riscv::read_time();
  for (uint64 s = 0; s < pages && r.ok(); s++) r = swap_write(s, page);
  uint64 t1 = riscv::read_time();
  for (uint64 s = 0; s < pages && r.ok(); s++) r = swap_read(s, page);
  uint64 t2 = riscv::read_time();
  mm::frames.unref(page);
  TRY(r);
  return SwapTiming{pages, (t1 - t0) / TICKS_PER_US, (t2 - t1) / TICKS_PER_US};
}

void swapdev_selftest(uint64 time_pages) {
  auto r = mm::frames.alloc(mm::FrameKind::Kernel);
  if (r.is_error()) panic("swapdev selftest: no memory");
  int bad = check_swap_disk(r.value());
  mm::frames.unref(r.value());
  uint64 n = mm::hal::swap_pages();
  if (bad)
    kprintf("swapdev: selftest FAILED: %d checks\n", bad);
  else if (n == 0)
    kprintf("swapdev: selftest ok: no swap disk, every slot refused\n");
  else
    kprintf("swapdev: selftest ok: slots 0, %lu, %lu and %lu (the last) written and read back; slot %lu and "
            "injected failures refused\n",
            n / 3, n / 2, n - 1, n);

  if (n == 0 || time_pages == 0) return;
  if (time_pages > n) time_pages = n;
  auto t = swapdev_time(time_pages);
  if (t.is_error()) {
    kprintf("swapdev: timing failed: %s\n", error_name(t.error()));
    return;
  }
  // KiB per µs * 1e6 / 1024 = MiB/s; in tenths.
  auto rate = [](uint64 pages, uint64 us) { return us ? pages * 4 * 1000000 * 10 / 1024 / us : 0; };
  auto per_page = [](uint64 pages, uint64 us) { return us * 10 / pages; }; // tenths of a µs
  const SwapTiming &v = t.value();
  kprintf("swapdev: %lu sequential 4 KiB writes: %lu us (%lu.%lu us/page, %lu.%lu MiB/s); reads: %lu us "
          "(%lu.%lu us/page, %lu.%lu MiB/s)\n",
          v.pages, v.write_us, per_page(v.pages, v.write_us) / 10, per_page(v.pages, v.write_us) % 10,
          rate(v.pages, v.write_us) / 10, rate(v.pages, v.write_us) % 10, v.read_us,
          per_page(v.pages, v.read_us) / 10, per_page(v.pages, v.read_us) % 10, rate(v.pages, v.read_us) / 10,
          rate(v.pages, v.read_us) % 10);
}

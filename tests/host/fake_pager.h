// A fake mm::Pager for host tests: an in-memory "disk" behind a memory
// object, standing in for fs's inode pager.
//
// The disk is a byte vector of `size` bytes (the file's data_size()); pages
// read past it are zeros, writes keep only the part below it, as an inode's
// would. The fake counts reads and writes, can be told to fail the N-th
// read or write from now with Error::IO, and can make each read take a
// while (so that concurrent faults find the page Busy and wait for it).
//
// lock_io / unlock_io model the inode's sleep lock with a real mutex and an
// owner: like the kernel's, lock_io returns false (and takes nothing) when
// the calling thread already holds it. read_page checks that it runs under
// the lock. hold / release count the references the object's mappings take
// on the "inode": a test ends with holds() == 0.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "mm/object.h"

namespace mmtest {

class FakePager final : public mm::Pager {
public:
  // A file of `size` bytes, page i's 64-bit words filled from seed(i).
  explicit FakePager(uint64 size);
  FakePager(const FakePager &) = delete;
  FakePager &operator=(const FakePager &) = delete;

  // The seed of page i's original contents (fill_frame / frame_has).
  static uint64 seed(uint64 index) { return 0x5eed0000 + index; }

  bool lock_io() override;
  void unlock_io() override;
  Result<void> read_page(uint64 index, void *page) override;
  Result<void> write_page(uint64 index, const void *page) override;
  uint64 data_size() override { return size_.load(std::memory_order_relaxed); }
  void hold() override { holds_.fetch_add(1, std::memory_order_relaxed); }
  void release() override;

  // Fail the n-th read (write) from now, counting from 1; 0: none.
  void fail_read(long n) { fail_read_.store(n); }
  void fail_write(long n) { fail_write_.store(n); }
  // Make every read sleep this long before it returns (0: no delay).
  void set_read_delay(std::chrono::microseconds d) { delay_us_.store(d.count()); }

  long reads() const { return reads_.load(); }
  long writes() const { return writes_.load(); }
  long holds() const { return holds_.load(); }
  // Reads done without lock_io held by the reader (should stay 0).
  long unlocked_reads() const { return unlocked_reads_.load(); }
  // Reads in progress at once, at most (lock_io keeps it at 1).
  long max_concurrent_reads() const { return max_in_read_.load(); }
  // The pages written, in order (index per write_page that succeeded).
  std::vector<uint64> written() const;

  // A copy of disk page `index` (the part below the size, zeros after).
  std::vector<uint8> disk_page(uint64 index) const;
  // Whether disk page `index` still holds its original contents.
  bool disk_page_original(uint64 index) const;
  // The first 8 bytes of disk page `index`.
  uint64 disk_word(uint64 index) const;

private:
  mutable std::mutex disk_lock_; // the bytes and written_ (reads run concurrently with writes)
  std::vector<uint8> disk_;
  std::vector<uint64> written_;
  std::atomic<uint64> size_;

  std::mutex io_lock_;
  std::atomic<std::thread::id> io_owner_{};

  std::atomic<long> reads_{0}, writes_{0}, holds_{0}, unlocked_reads_{0};
  std::atomic<long> in_read_{0}, max_in_read_{0};
  std::atomic<long> fail_read_{0}, fail_write_{0};
  std::atomic<long> delay_us_{0};
};

} // namespace mmtest

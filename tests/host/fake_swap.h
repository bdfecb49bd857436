// A fake swap disk for host tests: pages in memory, counted, able to fail.
#pragma once

#include <atomic>
#include <cstring>
#include <mutex>
#include <vector>

#include "mm/swap.h"

namespace mmtest {

class FakeSwapDisk final : public mm::swap::Device {
public:
  explicit FakeSwapDisk(uint64 pages) : data_(pages * mm::PAGE_SIZE, 0) {}

  uint64 pages() override { return data_.size() / mm::PAGE_SIZE; }
  Result<void> read(uint64 slot, void *page) override {
    if (slot >= pages() || fail(fail_read_)) return Error::IO;
    std::lock_guard g(lock_);
    std::memcpy(page, &data_[slot * mm::PAGE_SIZE], mm::PAGE_SIZE);
    reads_++;
    return {};
  }
  Result<void> write(uint64 slot, const void *page) override {
    if (slot >= pages() || fail(fail_write_)) return Error::IO;
    std::lock_guard g(lock_);
    std::memcpy(&data_[slot * mm::PAGE_SIZE], page, mm::PAGE_SIZE);
    writes_++;
    return {};
  }

  // Fail the n-th read (write) from now, counting from 1; 0: none; -1: all.
  void fail_read(long n) { fail_read_.store(n); }
  void fail_write(long n) { fail_write_.store(n); }
  long reads() const { return reads_.load(); }
  long writes() const { return writes_.load(); }

private:
  static bool fail(std::atomic<long> &n) {
    long v = n.load();
    if (v < 0) return true;
    while (v > 0)
      if (n.compare_exchange_weak(v, v - 1)) return v == 1;
    return false;
  }
  std::mutex lock_;
  std::vector<uint8> data_;
  std::atomic<long> reads_{0}, writes_{0}, fail_read_{0}, fail_write_{0};
};

} // namespace mmtest

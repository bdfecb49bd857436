// The fake pager of host tests (fake_pager.h).
#include "fake_pager.h"

#include <cstring>

#include "lib/print.h"
#include "mm_fixture.h"

namespace mmtest {

FakePager::FakePager(uint64 size) : disk_(mm::page_round_up(size)), size_(size) {
  for (uint64 i = 0; i < disk_.size() / PAGE_SIZE; i++) fill_frame(&disk_[i * PAGE_SIZE], seed(i));
  // Past the size a real file has nothing: keep the disk's tail zero so
  // that what is "on disk" is exactly what a read returns.
  std::memset(disk_.data() + size, 0, disk_.size() - size);
}

bool FakePager::lock_io() {
  if (io_owner_.load() == std::this_thread::get_id()) return false;
  io_lock_.lock();
  io_owner_.store(std::this_thread::get_id());
  return true;
}

void FakePager::unlock_io() {
  if (io_owner_.load() != std::this_thread::get_id()) panic("fake pager: unlock_io by a non-holder");
  io_owner_.store(std::thread::id());
  io_lock_.unlock();
}

// Counts down a "fail the n-th" setting; true when this call is the one.
static bool due(std::atomic<long> &n) {
  long v = n.load();
  while (v > 0)
    if (n.compare_exchange_weak(v, v - 1)) return v == 1;
  return false;
}

Result<void> FakePager::read_page(uint64 index, void *page) {
  reads_.fetch_add(1);
  if (io_owner_.load() != std::this_thread::get_id()) unlocked_reads_.fetch_add(1);
  long now = in_read_.fetch_add(1) + 1;
  for (long m = max_in_read_.load(); now > m && !max_in_read_.compare_exchange_weak(m, now);) {
  }
  if (long us = delay_us_.load(); us > 0) std::this_thread::sleep_for(std::chrono::microseconds(us));
  Result<void> r;
  if (due(fail_read_)) {
    std::memset(page, 0xEE, PAGE_SIZE); // a failed read leaves junk behind
    r = Error::IO;
  } else {
    std::lock_guard<std::mutex> g(disk_lock_);
    uint64 at = index * PAGE_SIZE, size = size_.load();
    std::memset(page, 0, PAGE_SIZE);
    if (at < size) std::memcpy(page, &disk_[at], size - at < PAGE_SIZE ? size - at : PAGE_SIZE);
  }
  in_read_.fetch_sub(1);
  return r;
}

Result<void> FakePager::write_page(uint64 index, const void *page) {
  writes_.fetch_add(1);
  if (due(fail_write_)) return Error::IO;
  std::lock_guard<std::mutex> g(disk_lock_);
  uint64 at = index * PAGE_SIZE, size = size_.load();
  // 8 bytes at a time with atomic loads: user stores into a mapped page may
  // race with this copy, as they race with a disk's DMA (ThreadSanitizer
  // would report plain copies).
  uint64 n = at < size ? (size - at < PAGE_SIZE ? size - at : PAGE_SIZE) : 0;
  const uint64 *src = static_cast<const uint64 *>(page);
  for (uint64 k = 0; k < n; k += 8) {
    uint64 w = __atomic_load_n(&src[k / 8], __ATOMIC_RELAXED);
    std::memcpy(&disk_[at + k], &w, n - k < 8 ? n - k : 8);
  }
  written_.push_back(index);
  return {};
}

void FakePager::release() {
  if (holds_.fetch_sub(1) <= 0) panic("fake pager: release without a hold");
}

std::vector<uint64> FakePager::written() const {
  std::lock_guard<std::mutex> g(disk_lock_);
  return written_;
}

std::vector<uint8> FakePager::disk_page(uint64 index) const {
  std::lock_guard<std::mutex> g(disk_lock_);
  std::vector<uint8> out(PAGE_SIZE, 0);
  uint64 at = index * PAGE_SIZE;
  if (at < disk_.size()) std::memcpy(out.data(), &disk_[at], PAGE_SIZE);
  return out;
}

bool FakePager::disk_page_original(uint64 index) const {
  std::vector<uint8> now = disk_page(index), want(PAGE_SIZE, 0);
  fill_frame(want.data(), seed(index));
  uint64 at = index * PAGE_SIZE, size = size_.load();
  uint64 valid = at >= size ? 0 : (size - at < PAGE_SIZE ? size - at : PAGE_SIZE);
  std::memset(want.data() + valid, 0, PAGE_SIZE - valid);
  return now == want;
}

uint64 FakePager::disk_word(uint64 index) const {
  std::vector<uint8> p = disk_page(index);
  uint64 w;
  std::memcpy(&w, p.data(), sizeof w);
  return w;
}

} // namespace mmtest

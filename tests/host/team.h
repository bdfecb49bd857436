// Team: run a test body on several threads at once (host tests only).
#pragma once

#include <gtest/gtest.h>

#include "mm_fixture.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace mmtest {

// Run fn(t, errors) for t = 0..n-1 on n threads (fn(0) on the calling
// thread), released together. Failures are collected per thread and
// reported afterwards from the main thread (gtest assertions are not made
// from other threads).
class Team {
public:
  template <typename F> void run(int n, F fn) {
    errors_.assign(n, {});
    std::atomic<int> ready{0};
    auto body = [&](int t) {
      ready.fetch_add(1);
      while (ready.load() < n) std::this_thread::yield();
      fn(t, errors_[t]);
    };
    std::vector<std::thread> threads;
    for (int t = 1; t < n; t++) threads.emplace_back(body, t);
    body(0);
    for (auto &th : threads) th.join();
    for (int t = 0; t < n; t++)
      for (auto &e : errors_[t]) ADD_FAILURE() << "thread " << t << ": " << e;
  }

private:
  std::vector<std::vector<std::string>> errors_;
};

// A thread's store: the write fault, a check that the page is now private
// and writable, then the page filled with `seed`. Problems go to err.
inline void store(AddressSpace &as, uint64 va, uint64 seed, std::vector<std::string> &err) {
  auto r = as.handle_fault(VirtAddr(va), mm::Access::Write);
  if (r.is_error()) {
    err.push_back(std::string("handle_fault: ") + error_name(r.error()));
    return;
  }
  Pte *p = pte_of(as, va);
  if (!p || !p->has(mm::pte::Write) || (p->raw & mm::pte::Cow)) {
    err.push_back("page not privately writable after the fault");
    return;
  }
  fill_frame(mm::phys_to_ptr(p->phys()), seed);
}

} // namespace mmtest

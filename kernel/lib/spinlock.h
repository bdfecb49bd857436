// Spinlocks. Holding one disables interrupts on this hart (so an interrupt
// handler can never deadlock against the code it interrupted). Take them
// through SpinGuard so every path releases them.
#pragma once

#include <atomic>

#include "lib/types.h"

class Spinlock {
public:
  explicit constexpr Spinlock(const char *name = "lock") : name_(name) {}
  Spinlock(const Spinlock &) = delete;
  Spinlock &operator=(const Spinlock &) = delete;

  void lock();
  void unlock();
  bool holding() const; // held by this hart? (call with interrupts off)
  const char *name() const { return name_; }

private:
  std::atomic<uint32_t> locked_{0};
  std::atomic<int> cpu_{-1}; // hart holding it, for holding() and debugging
  const char *name_;
};

class SpinGuard {
public:
  explicit SpinGuard(Spinlock &l) : lock_(l) { lock_.lock(); }
  ~SpinGuard() { lock_.unlock(); }
  SpinGuard(const SpinGuard &) = delete;
  SpinGuard &operator=(const SpinGuard &) = delete;

private:
  Spinlock &lock_;
};

// Long-term locks for processes: a process that finds one held sleeps
// instead of spinning (used by inodes and disk buffers, held across I/O).
#pragma once

#include "lib/spinlock.h"

class Sleeplock {
public:
  explicit constexpr Sleeplock(const char *name = "sleeplock") : name_(name) {}
  void acquire();
  void release();
  // acquire() if nobody holds it, without sleeping; whether it did.
  bool try_acquire();
  // The names SpinGuard-style code uses, so either lock fits a template.
  void lock() { acquire(); }
  void unlock() { release(); }
  bool holding(); // held by the current process?

private:
  Spinlock lk_{"sleeplock"};
  bool locked_ = false;
  int pid_ = 0;
  const char *name_;
};

class SleepGuard {
public:
  explicit SleepGuard(Sleeplock &l) : lock_(l) { lock_.acquire(); }
  ~SleepGuard() { lock_.release(); }
  SleepGuard(const SleepGuard &) = delete;
  SleepGuard &operator=(const SleepGuard &) = delete;

private:
  Sleeplock &lock_;
};

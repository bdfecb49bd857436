#include "proc/sleeplock.h"

#include "proc/proc.h"

void Sleeplock::acquire() {
  SpinGuard g(lk_);
  while (locked_) sleep(this, lk_);
  locked_ = true;
  pid_ = myproc() ? myproc()->pid : 0;
}

bool Sleeplock::try_acquire() {
  SpinGuard g(lk_);
  if (locked_) return false;
  locked_ = true;
  pid_ = myproc() ? myproc()->pid : 0;
  return true;
}

void Sleeplock::release() {
  SpinGuard g(lk_);
  locked_ = false;
  pid_ = 0;
  wakeup(this);
}

bool Sleeplock::holding() {
  SpinGuard g(lk_);
  return locked_ && pid_ == (myproc() ? myproc()->pid : 0);
}

// Pipes (see pipe.h).
//
// A pipe lives in one kernel frame: the bookkeeping at the start, the ring
// buffer filling the rest. nread and nwrite count the bytes ever read and
// written, so nwrite - nread bytes are buffered and the next byte to read is
// at data[nread % PIPESIZE]. They are 64-bit, so they never wrap.
//
// Sleep channels:
//  - a writer that finds the ring full sleeps on &nwrite; a reader wakes it
//    once it has made room (and the read end's close wakes it too);
//  - a reader that finds the ring empty sleeps on &nread; a writer wakes it
//    once there is data (and the write end's close wakes it for EOF).
// Both check killed() each time they wake, so kill() ends the wait.
//
// The bytes move between the ring and user memory with no spinlock held:
// copying may sleep (the address space's lock, a fault that reads a file
// page). One reader and one writer at a time (the sleep locks rlock and
// wlock) own their end: a writer fills only bytes past nwrite, which no
// reader looks at until nwrite moves (under `lock`), and a reader empties
// only bytes before nwrite, which no writer reuses until nread moves.

#include "fs/pipe.h"

#include <new>

#include "fs/file.h"
#include "lib/print.h"
#include "lib/spinlock.h"
#include "mm/addr.h"
#include "mm/frame.h"
#include "proc/proc.h"
#include "proc/sleeplock.h"

struct Pipe {
  static constexpr uint64 HEADER = 256; // bytes reserved for the fields below

  Spinlock lock{"pipe"};    // nread, nwrite, readopen, writeopen
  Sleeplock rlock{"pipe r"}; // the reader copying out
  Sleeplock wlock{"pipe w"}; // the writer copying in
  uint64 nread = 0;      // bytes read
  uint64 nwrite = 0;     // bytes written
  bool readopen = true;  // the read end is still open
  bool writeopen = true; // the write end is still open
  alignas(HEADER) char data[mm::PAGE_SIZE - HEADER];
};

namespace {

constexpr uint64 PIPESIZE = sizeof(Pipe::data);
static_assert(sizeof(Pipe) == mm::PAGE_SIZE, "a pipe is exactly one frame");

uint64 min(uint64 a, uint64 b) { return a < b ? a : b; }

} // namespace

int pipealloc(File **f0, File **f1) {
  *f0 = filealloc();
  *f1 = *f0 ? filealloc() : nullptr;
  auto frame = mm::frames.alloc(mm::FrameKind::Kernel);
  if (*f0 == nullptr || *f1 == nullptr || frame.is_error()) {
    if (frame.ok()) mm::frames.unref(frame.value());
    if (*f0) fileclose(*f0); // type None: closing just frees the entry
    if (*f1) fileclose(*f1);
    *f0 = *f1 = nullptr;
    return -1;
  }

  Pipe *pi = new (mm::phys_to_ptr(frame.value())) Pipe;

  (*f0)->type = File::Type::Pipe;
  (*f0)->readable = true;
  (*f0)->writable = false;
  (*f0)->pipe = pi;
  (*f1)->type = File::Type::Pipe;
  (*f1)->readable = false;
  (*f1)->writable = true;
  (*f1)->pipe = pi;
  return 0;
}

void pipeclose(Pipe *pi, bool writable) {
  bool free_it;
  {
    SpinGuard guard(pi->lock);
    if (writable) {
      pi->writeopen = false;
      wakeup(&pi->nread); // readers see end of file
    } else {
      pi->readopen = false;
      wakeup(&pi->nwrite); // writers see the broken pipe
    }
    free_it = !pi->readopen && !pi->writeopen;
  }
  // Both ends closed: nobody else can reach the pipe any more.
  if (free_it) {
    pi->~Pipe();
    mm::frames.unref(mm::ptr_to_phys(pi));
  }
}

int pipewrite(Pipe *pi, uint64 addr, int n) {
  Proc *pr = myproc();
  uint64 total = static_cast<uint64>(n);
  uint64 i = 0;

  SleepGuard writer(pi->wlock);
  while (i < total) {
    uint64 at, chunk;
    {
      SpinGuard guard(pi->lock);
      while (pi->nwrite - pi->nread == PIPESIZE) {
        if (!pi->readopen || killed(pr)) return -1;
        wakeup(&pi->nread);
        sleep(&pi->nwrite, pi->lock);
      }
      if (!pi->readopen || killed(pr)) return -1;
      // As much as fits in one contiguous stretch of the ring.
      uint64 buffered = pi->nwrite - pi->nread;
      at = pi->nwrite % PIPESIZE;
      chunk = min(total - i, min(PIPESIZE - buffered, PIPESIZE - at));
    }
    if (copyin(pr, &pi->data[at], addr + i, chunk) == -1) break;
    SpinGuard guard(pi->lock);
    pi->nwrite += chunk;
    i += chunk;
    wakeup(&pi->nread);
  }
  if (i == 0 && total > 0) return -1; // the very first copy faulted
  return static_cast<int>(i);
}

int piperead(Pipe *pi, uint64 addr, int n) {
  Proc *pr = myproc();
  SleepGuard reader(pi->rlock);
  uint64 start, want;
  {
    SpinGuard guard(pi->lock);
    while (pi->nread == pi->nwrite && pi->writeopen) {
      if (killed(pr)) return -1;
      sleep(&pi->nread, pi->lock);
    }
    start = pi->nread;
    want = min(static_cast<uint64>(n), pi->nwrite - pi->nread);
  }
  uint64 i = 0;
  // At most two stretches: up to the end of the ring, then from its start.
  while (i < want) {
    uint64 at = (start + i) % PIPESIZE;
    uint64 chunk = min(want - i, PIPESIZE - at);
    if (copyout(pr, addr + i, &pi->data[at], chunk) == -1) break;
    i += chunk;
  }
  SpinGuard guard(pi->lock);
  pi->nread += i;
  wakeup(&pi->nwrite);
  if (i == 0 && want > 0) return -1; // bad address: nothing consumed
  return static_cast<int>(i);
}

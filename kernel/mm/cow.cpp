// Copy-on-write resolution.
//
// Life of a shared frame: fork maps it in parent and child with W cleared and
// the Cow mark set, refs = number of mappings. A store faults; here:
//   refs > 1: copy the 4 KiB into a new frame, map the copy writable, drop
//             one reference to the old frame (the others still map it);
//   refs == 1: nobody else maps it any more (the others copied or exited),
//             so the page just becomes writable again: no copy. Only for
//             anonymous frames: a file page (private mapping of a file) is
//             always copied, since the page cache holds it too, and the
//             zero frame is never written.
// The order matters on many harts: the old frame is unreferenced only after
// the copy is complete, so a sharer that sees refs == 1 and starts writing
// can never race with our read of the frame.
#include "mm/cow.h"

#include "lib/string.h"
#include "mm/frame.h"
#include "mm/hal.h"
#include "mm/stats.h"

namespace mm {

Result<CowOutcome> resolve_cow(VirtAddr va, Pte &pte, CowCause cause, PhysAddr spare) {
  bool fault = cause == CowCause::Fault;
  if (fault) Counters::bump(counters.cow_faults);
  PhysAddr old = pte.phys();
  uint64 flags = (pte.flags() & ~pte::Cow) | pte::Write;

  // Reuse only anonymous memory this mapping alone holds: a file page is
  // also the cache's (and the file's), the zero frame everybody's.
  if (frames.kind(old) == FrameKind::Anon && frames.refcount(old) == 1) {
    // Same frame, more permission: no flush. A stale read-only translation
    // can at worst cause one more (spurious) store fault, which
    // handle_fault recognises and answers with a flush of this page.
    pte = Pte::make(old, flags);
    if (fault) Counters::bump(counters.cow_reuses);
    return CowOutcome::Reused;
  }

  PhysAddr copy = spare;
  if (!copy.value) copy = TRY(frames.alloc(FrameKind::Anon));
  pte = cow_copy(pte, copy, va);
  if (fault) hal::flush_page(va); // a stale translation would read the old frame
  frames.unref(old);
  if (fault) Counters::bump(counters.cow_copies);
  return CowOutcome::Copied;
}

} // namespace mm

// Copy-on-write resolution: the one place that turns a shared, marked page
// into a private writable one. Called only through AddressSpace::handle_fault.
#pragma once

#include "lib/result.h"
#include "lib/string.h"
#include "mm/frame.h"
#include "mm/pte.h"

namespace mm {

// `pte` maps va with the Cow mark. If this mapping holds the frame's last
// reference the page simply becomes writable again; otherwise the page is
// copied into a new frame and one reference to the old frame is dropped.
//
// Fault: a store (or a kernel write) hit this page; counted here (a COW
// fault, and a copy or a reuse), and the page's translation is flushed here.
// Ahead: part of a run after the faulting page, which a fault policy
// (copy_ahead.h) asked AddressSpace::resolve_fault for; the caller counts
// the outcomes and flushes once for the whole run.
//
// `spare`: a frame the caller allocated for the copy (copy-ahead allocates
// the frames of a whole run at once), or a null PhysAddr to allocate one
// here. A Reused outcome leaves the spare unused, still the caller's.
enum class CowCause { Fault, Ahead };
enum class CowOutcome { Reused, Copied };
Result<CowOutcome> resolve_cow(VirtAddr va, Pte &pte, CowCause cause = CowCause::Fault, PhysAddr spare = {});

// The copy itself: `fresh` receives the contents of the page `shared` maps,
// and becomes anonymous memory at va (Frame::vpage, for the reverse map);
// returns the entry that maps the copy, writable and unmarked. resolve_cow
// uses it, and so does a fault in a leaf table still shared with another
// address space, where copying is the only choice (the table's other holder
// maps the frame), done while the table is copied (AddressSpace).
inline Pte cow_copy(Pte shared, PhysAddr fresh, VirtAddr va) {
  copy_page(phys_to_ptr(fresh), phys_to_ptr(shared.phys()));
  frames.set_vpage(fresh, va);
  return Pte::make(fresh, (shared.flags() & ~pte::Cow) | pte::Write);
}

} // namespace mm

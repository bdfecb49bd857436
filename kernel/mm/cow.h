// Copy-on-write resolution: the one place that turns a shared, marked page
// into a private writable one. Called only through AddressSpace::handle_fault.
#pragma once

#include "lib/result.h"
#include "mm/pte.h"

namespace mm {

// `pte` maps va with the Cow mark. If this mapping holds the frame's last
// reference the page simply becomes writable again; otherwise the page is
// copied into a new frame and one reference to the old frame is dropped.
Result<void> resolve_cow(VirtAddr va, Pte &pte);

} // namespace mm

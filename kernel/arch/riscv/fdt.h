// Just enough of a flattened device tree reader to learn the size of RAM and
// the boot arguments.
#pragma once

#include "lib/types.h"

// End (exclusive) of the first /memory node's range, or 0 if none is found.
uint64 fdt_memory_end(const void *fdt);

// The /chosen node's bootargs string (QEMU -append), or nullptr if none.
const char *fdt_bootargs(const void *fdt);

// Just enough of a flattened device tree reader to learn the size of RAM,
// the boot arguments, the number of harts and where a device is.
#pragma once

#include "lib/types.h"

// End (exclusive) of the first /memory node's range, or 0 if none is found.
uint64 fdt_memory_end(const void *fdt);

// The /chosen node's bootargs string (QEMU -append), or nullptr if none.
const char *fdt_bootargs(const void *fdt);

// Number of /cpus/cpu@N nodes (harts), or 0 if the tree is unreadable.
int fdt_cpu_count(const void *fdt);

// The address (first cell pair of `reg`) of the first node whose
// `compatible` list holds `compat`, or 0 if there is none.
uint64 fdt_device_address(const void *fdt, const char *compat);

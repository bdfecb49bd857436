// Basic kernel types. The xv6 ABI typedefs (uint, uint64, ...) come from the
// shared user ABI header so kernel and user agree on every structure.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernel/types.h"

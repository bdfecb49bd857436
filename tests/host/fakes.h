// What the host fakes of the kernel's hardware interface expose to tests.
//
// The memory-management core talks to the machine only through lib/cpu.h
// (hart id, interrupt nesting), mm/hal.h (TLB flushes) and lib/print.h
// (console, panic). On the host these are fake_*.cpp; the counters below let
// tests check what the core asked the "hardware" to do.
#pragma once

#include <atomic>
#include <cstdint>

namespace hostfake {

// mm::hal::flush_page / flush_all calls since the last reset_counters().
extern std::atomic<uint64_t> flush_page_calls;
extern std::atomic<uint64_t> flush_all_calls;
void reset_counters();

// This thread's push_off nesting depth (0 when balanced).
int push_off_depth();

} // namespace hostfake

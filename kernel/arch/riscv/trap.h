// Traps: system calls, page faults, device and timer interrupts.
#pragma once

#include "lib/spinlock.h"
#include "lib/types.h"

extern Spinlock tickslock;
extern uint ticks; // timer ticks since boot (10 per second)
// Testing only: panic at this tick (boot argument testpanic=N), 0 = never.
extern uint test_panic_tick;

void trap_init_hart(); // stvec, timer, interrupt enables
void set_next_timer(); // this hart's next timer interrupt, 1 ms from now
[[noreturn]] void usertrapret();

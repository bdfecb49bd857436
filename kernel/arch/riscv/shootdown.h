// TLB shootdown between harts: the machine side of mm::hal::shootdown()
// (mm/hal.h), built on the ACLINT supervisor software interrupt device.
#pragma once

#include "lib/types.h"

// Boot hart, once, before the other harts start: find the SSWI device in
// the device tree. Panics if the machine has several harts but no SSWI
// (QEMU needs `-machine virt,aclint=on`).
void shootdown_init(const void *fdt);
// Each hart, once its trap vector is set: take supervisor software
// interrupts and count as online (a target of every later shootdown).
void shootdown_init_hart();
// Serve the flush requests sent to this hart: called, with interrupts off,
// on a supervisor software interrupt and by harts that spin (spin_hint).
void shootdown_serve();

// Testing only (boot argument testshootdown[=N], 0 = off): every hart runs
// shootdown_selftest before scheduling; see shootdown.cpp.
extern uint test_shootdown_rounds;
void shootdown_selftest(uint rounds);

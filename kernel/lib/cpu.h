// The few per-hart primitives that portable code (locks, the frame table)
// needs. The kernel implements them in arch/riscv; host tests fake them.
#pragma once

namespace cpu {
int id();         // current hart number, 0..NCPU-1 (call with interrupts off)
void push_off();  // disable interrupts, nestable
void pop_off();   // undo one push_off; re-enable when the outermost one ends
void spin_hint(); // called now and then by a hart spinning on a lock
} // namespace cpu

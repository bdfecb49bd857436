// Platform-level interrupt controller: routes device interrupts to harts.
#pragma once

void plic_init();      // once: device priorities
void plic_init_hart(); // per hart: enable our devices for S mode
int plic_claim();      // which device interrupted (0: none)
void plic_complete(int irq);

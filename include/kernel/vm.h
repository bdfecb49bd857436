// sbrk strategies: the second argument of the sbrk system call, as newer
// xv6-riscv defines it. sbrk(n) asks for EAGER, sbrklazy(n) for LAZY.
#pragma once

#define SBRK_EAGER 1 // map zeroed frames now; fail at once if memory is short
#define SBRK_LAZY 2  // only move the break; each page is made on first touch

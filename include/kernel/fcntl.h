// open() flags: identical to xv6-riscv.
#pragma once

#define O_RDONLY 0x000
#define O_WRONLY 0x001
#define O_RDWR 0x002
#define O_CREATE 0x200
#define O_TRUNC 0x400

// mmap() and mprotect(): the values of xv6's mmap lab, plus Linux's MAP_FIXED
// and MAP_ANONYMOUS. (MAP_FAILED is not defined here: the lab's mmaptest.c
// defines it itself; it is ((void *)-1).)
#define PROT_NONE 0x0
#define PROT_READ 0x1
#define PROT_WRITE 0x2
#define PROT_EXEC 0x4

#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20

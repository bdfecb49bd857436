// xv6-compatible basic types. Part of the user ABI: programs written for xv6
// include "kernel/types.h" first, and cowix's own headers rely on it too.
#pragma once

typedef unsigned int uint;
typedef unsigned short ushort;
typedef unsigned char uchar;

typedef unsigned char uint8;
typedef unsigned short uint16;
typedef unsigned int uint32;
typedef unsigned long uint64;

typedef uint64 pde_t;

// Memory and string routines. The mem* functions are what the compiler itself
// emits calls to; they move 8 bytes at a time when both pointers allow it.
#pragma once

#include "lib/types.h"

#ifdef COWIX_HOST
#include <cstring> // host tests: the C library provides these
#else
extern "C" {
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *p, const char *q, size_t n);
}
#endif

// Copy at most n-1 bytes and always NUL-terminate (like xv6's safestrcpy).
char *safestrcpy(char *dst, const char *src, int n);
// Copy and zero whole 4 KiB pages, 8 bytes per access, unrolled.
void copy_page(void *dst, const void *src);
void zero_page(void *dst);

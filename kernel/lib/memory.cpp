// The C memory and string functions for the kernel (the compiler also
// emits calls to memcpy/memset for struct copies). Kernel only: host tests
// use their libc's. Aligned bulk work moves
// 8 bytes per access; only ragged edges go a byte at a time.
#include "lib/string.h"

namespace {
constexpr bool aligned8(const void *p) { return (reinterpret_cast<uintptr_t>(p) & 7) == 0; }
} // namespace

extern "C" void *memset(void *dst, int c, size_t n) {
  auto *d = static_cast<uint8 *>(dst);
  if (aligned8(d) && n >= 8) {
    uint64 pattern = 0x0101010101010101UL * static_cast<uint8>(c);
    auto *d8 = reinterpret_cast<uint64 *>(d);
    for (; n >= 8; n -= 8) *d8++ = pattern;
    d = reinterpret_cast<uint8 *>(d8);
  }
  while (n--) *d++ = static_cast<uint8>(c);
  return dst;
}

extern "C" void *memcpy(void *dst, const void *src, size_t n) {
  auto *d = static_cast<uint8 *>(dst);
  auto *s = static_cast<const uint8 *>(src);
  if (aligned8(d) && aligned8(s)) {
    auto *d8 = reinterpret_cast<uint64 *>(d);
    auto *s8 = reinterpret_cast<const uint64 *>(s);
    for (; n >= 8; n -= 8) *d8++ = *s8++;
    d = reinterpret_cast<uint8 *>(d8);
    s = reinterpret_cast<const uint8 *>(s8);
  }
  while (n--) *d++ = *s++;
  return dst;
}

extern "C" void *memmove(void *dst, const void *src, size_t n) {
  auto *d = static_cast<uint8 *>(dst);
  auto *s = static_cast<const uint8 *>(src);
  if (d <= s || d >= s + n) return memcpy(dst, src, n);
  // Overlapping with dst above src: copy backwards.
  d += n;
  s += n;
  if (aligned8(d) && aligned8(s)) {
    while (n >= 8) {
      d -= 8;
      s -= 8;
      n -= 8;
      *reinterpret_cast<uint64 *>(d) = *reinterpret_cast<const uint64 *>(s);
    }
  }
  while (n--) *--d = *--s;
  return dst;
}

extern "C" int memcmp(const void *a, const void *b, size_t n) {
  auto *p = static_cast<const uint8 *>(a);
  auto *q = static_cast<const uint8 *>(b);
  for (; n; n--, p++, q++)
    if (*p != *q) return *p - *q;
  return 0;
}

extern "C" size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

extern "C" int strncmp(const char *p, const char *q, size_t n) {
  for (; n > 0 && *p && *p == *q; n--, p++, q++) {
  }
  if (n == 0) return 0;
  return static_cast<uint8>(*p) - static_cast<uint8>(*q);
}

// Portable string and page helpers (kernel and host tests).
#include "lib/string.h"

#include "mm/addr.h"

char *safestrcpy(char *dst, const char *src, int n) {
  char *d = dst;
  if (n <= 0) return dst;
  while (--n > 0 && (*d++ = *src++) != 0) {
  }
  *d = 0;
  return dst;
}

// One page in 64-byte steps: eight 8-byte loads, then eight stores, so the
// loop overhead is small next to the memory traffic.
void copy_page(void *dst, const void *src) {
  auto *d = static_cast<uint64 *>(dst);
  auto *s = static_cast<const uint64 *>(src);
  for (uint64 i = 0; i < mm::PAGE_SIZE / 8; i += 8) {
    uint64 a0 = s[i], a1 = s[i + 1], a2 = s[i + 2], a3 = s[i + 3];
    uint64 a4 = s[i + 4], a5 = s[i + 5], a6 = s[i + 6], a7 = s[i + 7];
    d[i] = a0, d[i + 1] = a1, d[i + 2] = a2, d[i + 3] = a3;
    d[i + 4] = a4, d[i + 5] = a5, d[i + 6] = a6, d[i + 7] = a7;
  }
}

void zero_page(void *dst) {
  auto *d = static_cast<uint64 *>(dst);
  for (uint64 i = 0; i < mm::PAGE_SIZE / 8; i += 8) {
    d[i] = 0, d[i + 1] = 0, d[i + 2] = 0, d[i + 3] = 0;
    d[i + 4] = 0, d[i + 5] = 0, d[i + 6] = 0, d[i + 7] = 0;
  }
}

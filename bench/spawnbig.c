// spawnbig: a program of about 200 KB for mapbench. Its text segment holds a
// 64 KiB constant table, its data segment 128 KiB of initialised data that
// it reads much and writes little.
//
//   spawnbig           read one word of a few pages, write one, exit
//   spawnbig -s R W    read every page, write one word, write a byte on fd W,
//                      wait for a byte on fd R, exit (mapbench's sleeping copies)
#include "kernel/types.h"
#include "user/user.h"

#define TABLE_WORDS (64 * 1024 / 8)
#define DATA_WORDS (128 * 1024 / 8)
#define PAGE_WORDS (4096 / 8)

// Any non-zero initialiser puts the whole array in the file.
static const uint64 table[TABLE_WORDS] = {0x243F6A8885A308D3UL, 0x13198A2E03707344UL, 0xA4093822299F31D0UL};
static uint64 data[DATA_WORDS] = {0x082EFA98EC4E6C89UL, 0x452821E638D01377UL, 0xBE5466CF34E90C6CUL};

// Sum one word of every page of [w, w + n) (volatile: the loads happen).
static uint64 sum_pages(const volatile uint64 *w, int n) {
  uint64 s = 0;
  for (int i = 0; i < n; i += PAGE_WORDS) s += w[i];
  return s;
}

int main(int argc, char *argv[]) {
  if (argc == 4 && strcmp(argv[1], "-s") == 0) {
    uint64 s = sum_pages(table, TABLE_WORDS) + sum_pages(data, DATA_WORDS);
    data[PAGE_WORDS + 1] = s; // the one page this copy writes
    char c = 'r';
    write(atoi(argv[3]), &c, 1);
    read(atoi(argv[2]), &c, 1);
    return 0;
  }
  const volatile uint64 *t = table;
  volatile uint64 *d = data;
  uint64 s = t[0] + t[TABLE_WORDS / 2] + d[0] + d[DATA_WORDS / 2];
  d[1] = s;
  return s == 0; // 0: the sum of the initialised words is not 0
}

// malloc and free: a first-fit allocator over a circular free list sorted
// by address (the classic design from Kernighan & Ritchie's "The C
// Programming Language", section 8.7). Each block starts with a header
// holding its size in header units; free merges a block with free
// neighbours. The heap grows with sbrk, at least GROW_UNITS at a time.

#include "kernel/types.h"
#include "user/user.h"

typedef union header {
  struct {
    union header *next; // next block on the free list
    uint64 units;       // size of this block, header included, in units
  } h;
  uint64 align[2]; // a unit is 16 bytes, keeping blocks 16-byte aligned
} Header;

#define GROW_UNITS 4096 // 64 KiB
// Largest request: its size in units must fit sbrk's int argument.
#define MAX_BYTES (0x7fffffffUL - GROW_UNITS * sizeof(Header))

static Header base;          // zero-size block that anchors the list
static Header *freep;        // where the next search starts

void free(void *ap) {
  if (ap == 0)
    return;
  Header *bp = (Header *)ap - 1;
  // Find p with p < bp < p->next, or the list's wrap-around point.
  Header *p = freep;
  while (!(bp > p && bp < p->h.next)) {
    if (p >= p->h.next && (bp > p || bp < p->h.next))
      break; // bp is beyond either end of the address-ordered list
    p = p->h.next;
  }
  if (bp + bp->h.units == p->h.next) { // merge with the upper neighbour
    bp->h.units += p->h.next->h.units;
    bp->h.next = p->h.next->h.next;
  } else {
    bp->h.next = p->h.next;
  }
  if (p + p->h.units == bp) { // merge with the lower neighbour
    p->h.units += bp->h.units;
    p->h.next = bp->h.next;
  } else {
    p->h.next = bp;
  }
  freep = p;
}

// Ask the kernel for at least units more and put them on the free list.
static Header *morecore(uint64 units) {
  if (units < GROW_UNITS)
    units = GROW_UNITS;
  char *mem = sbrk((int)(units * sizeof(Header)));
  if (mem == (char *)-1)
    return 0;
  Header *hp = (Header *)mem;
  hp->h.units = units;
  free(hp + 1);
  return freep;
}

void *malloc(uint nbytes) {
  if (nbytes == 0 || nbytes > MAX_BYTES)
    return 0;
  uint64 units = (nbytes + sizeof(Header) - 1) / sizeof(Header) + 1;
  if (freep == 0) { // first call: an empty list holding only base
    base.h.next = freep = &base;
    base.h.units = 0;
  }
  Header *prev = freep;
  for (Header *p = prev->h.next;; prev = p, p = p->h.next) {
    if (p->h.units >= units) {
      if (p->h.units == units) {
        prev->h.next = p->h.next; // exact fit: unlink
      } else {
        p->h.units -= units; // carve the request off the block's top
        p += p->h.units;
        p->h.units = units;
      }
      freep = prev;
      return (void *)(p + 1);
    }
    if (p == freep && (p = morecore(units)) == 0)
      return 0;
  }
}

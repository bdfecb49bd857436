// Shared anonymous memory (mmap with MAP_SHARED | MAP_ANONYMOUS): a memory
// object whose pager is the swap disk.
//
// Its pages live in the page cache like a file's, found by (object, page
// index), and start as zeros. When reclaim takes a dirty one, the pager
// writes it to a swap slot that the object keeps in a table by page index;
// the next fault reads it back through the page cache's usual way in (one
// read, however many processes fault on it: the page is Busy meanwhile).
// The slot stays with the index after the read, so a page that goes again
// unchanged costs no write (the page cache knows it is clean: a shared
// mapping maps it read-only until the first store, which marks it dirty);
// a changed one is written to the same slot. The slots go when the object
// does (its last mapping).
//
// A slot's count (swap.h) gains one while a table names it; the audit
// learns the total from slots_held().
#pragma once

#include "lib/result.h"
#include "mm/object.h"

namespace mm::shmem {

// A new object (no pages, no slots). Its last unref() calls destroy().
Result<VmObject *> create();
// Every page and slot of `o` goes, then `o`. May sleep.
void destroy(VmObject *o);

// Slots that objects' tables name (each counts once in its slot's count).
uint64 slots_held();
// Pages of `o` with index in [first, end) whose contents are only on the
// swap disk now (a slot and no cached page): pmap's "swapped" column.
uint64 swapped(VmObject *o, uint64 first, uint64 end);

} // namespace mm::shmem

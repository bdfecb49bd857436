// The reverse map: from a frame to the leaf entries that map it.
//
// There are no per-page lists to keep up to date on every fault and fork.
// Where a frame can be mapped is known from the frame alone:
//  - a private page (an Anon frame, or a swap-cache page) lives at the same
//    address in every address space that maps it (Frame::vpage): fork keeps
//    addresses and nothing moves a private page;
//  - a page of a memory object (an inode's, shared anonymous memory) lives
//    wherever a mapping of that object covers its index.
// So the entries of a frame are found by asking each address space at
// those addresses (hal::for_each_address_space, which holds the address
// space's lock meanwhile). A leaf table that fork shares is reached from
// each of its sharers: the same entry is then visited more than once, so
// visitors must be idempotent (look whether the entry still maps the page,
// as they must anyway).
//
// Several pages go in one walk, so that a batch of reclaim costs one visit
// of each address space, not one per page.
#pragma once

#include <type_traits>

#include "mm/addr.h"
#include "mm/pte.h"

namespace mm {
class AddressSpace;
}

namespace mm::rmap {

constexpr uint64 MAX_BATCH = 64;

struct Entry {
  AddressSpace &as;
  VirtAddr va;
  Pte &pte; // maps the page now (and stays so while the visitor runs, but
            // for hardware A/D updates: change it with an atomic exchange)
};
using Visitor = void (*)(uint64 which, Entry e, void *arg);

// For every address space that could be visited, for each pages[i] (i < n
// <= MAX_BATCH): fn(i, entry, arg) for each entry there that maps it.
void walk(const PhysAddr *pages, uint64 n, Visitor fn, void *arg);

template <typename F> void walk(const PhysAddr *pages, uint64 n, F &&f) {
  using Fn = std::remove_reference_t<F>;
  walk(pages, n, [](uint64 i, Entry e, void *a) { (*static_cast<Fn *>(a))(i, e); }, &f);
}

} // namespace mm::rmap

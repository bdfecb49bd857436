// The reverse map (see rmap.h).
#include "mm/rmap.h"

#include "lib/print.h"
#include "mm/address_space.h"
#include "mm/frame.h"
#include "mm/hal.h"
#include "mm/object.h"
#include "mm/swap.h"

namespace mm::rmap {

namespace {

// Where to look for one page, read once before the walk (a racy read: the
// visit itself checks that the entry maps the page).
struct Target {
  PhysAddr page;
  VmObject *object; // a file page's object; nullptr: a private page
  uint64 index;     // its index in the object
  VirtAddr va;      // a private page's address
};

struct Walk {
  Target targets[MAX_BATCH];
  uint64 n;
  Visitor fn;
  void *arg;
};

void look(AddressSpace &as, const Target &t, uint64 which, VirtAddr va, const Walk &w) {
  Pte *pte = as.page_table().find(va);
  if (pte && pte->valid() && pte->phys() == t.page) w.fn(which, Entry{as, va, *pte}, w.arg);
}

void visit(AddressSpace &as, void *arg) {
  const Walk &w = *static_cast<Walk *>(arg);
  if (as.is_null()) return;
  bool any_file = false;
  for (uint64 i = 0; i < w.n; i++) {
    const Target &t = w.targets[i];
    if (t.object)
      any_file = true;
    else if (t.page.value)
      look(as, t, i, t.va, w);
  }
  if (!any_file) return;
  // File pages: every mapping of their object that covers their index.
  as.mappings().for_each([&](Mapping &m) {
    if (!m.object) return;
    for (uint64 i = 0; i < w.n; i++) {
      const Target &t = w.targets[i];
      if (t.object != m.object || t.index < m.pgoff || t.index >= m.pgoff + m.pages()) continue;
      look(as, t, i, VirtAddr(m.start.value + (t.index - m.pgoff) * PAGE_SIZE), w);
    }
  });
}

} // namespace

void walk(const PhysAddr *pages, uint64 n, Visitor fn, void *arg) {
  KASSERT(n <= MAX_BATCH);
  Walk w; // 2 KiB of stack
  w.n = n;
  w.fn = fn;
  w.arg = arg;
  for (uint64 i = 0; i < n; i++) {
    Target &t = w.targets[i];
    t = Target{pages[i], nullptr, 0, VirtAddr()};
    if (!pages[i].value) continue;
    Frame &f = frames.record(pages[i]);
    FrameKind kind = f.kind.load(std::memory_order_acquire);
    VmObject *o = f.object.load(std::memory_order_acquire);
    if (kind == FrameKind::Anon || (kind == FrameKind::File && o == &swap::object())) {
      t.va = frames.vpage(pages[i]);
    } else if (kind == FrameKind::File && o) {
      t.object = o;
      t.index = f.index.load(std::memory_order_relaxed);
    } else {
      // The zero frame, kernel memory, a file page truncated out of its
      // object while still mapped: nothing the reverse map can find.
      t.page = PhysAddr();
    }
  }
  hal::for_each_address_space(visit, &w);
}

} // namespace mm::rmap

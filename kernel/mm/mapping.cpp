// The mapping set of an address space (mapping.h).
//
// A sorted, doubly-linked list of Mapping objects from one slab cache.
// Invariants (with the owner's lock held, between calls):
//  - head_ .. tail_ runs through count_ mappings in increasing address
//    order, each with start < end, both page aligned, end <= USER_TOP, and
//    m->end <= m->next->start (no overlap; adjacent is allowed).
//  - hint_ is nullptr or one of the mappings in the list.
//  - Each mapping with an object holds one reference to it, and one
//    deny-write as well if denies_write is set.
//
// A list, not a tree: address spaces here have a handful of mappings (text,
// data, stack, heap, a few mmaps), and find()'s hint makes a run of faults
// in one mapping O(1). Hundreds of mappings still work, at list speed.
#include "mm/mapping.h"

#include "lib/string.h"

#include "lib/print.h"
#include "mm/slab.h"

namespace mm {

namespace {
Slab<Mapping> mapping_slab("mapping");
} // namespace

SlabCache &mapping_cache() { return mapping_slab.cache(); }

// The last mapping with start <= va, or nullptr if there is none (va is
// below every mapping). Walks from the hint, backwards or forwards, so
// nearby lookups are short.
Mapping *MappingSet::last_starting_at_or_below(VirtAddr va) const {
  Mapping *m = hint_ ? hint_ : head_;
  if (!m) return nullptr;
  if (va < m->start) {
    while (m && va < m->start) m = m->prev;
    return m;
  }
  while (m->next && m->next->start <= va) m = m->next;
  return m;
}

Mapping *MappingSet::find(VirtAddr va) {
  if (hint_ && hint_->contains(va)) return hint_;
  Mapping *m = last_starting_at_or_below(va);
  if (!m || !m->contains(va)) return nullptr;
  hint_ = m;
  return m;
}

// Ends are in increasing order too (no overlap), so the answer is the last
// mapping starting at or below va if it reaches past va, else its successor.
Mapping *MappingSet::first_ending_after(VirtAddr va) {
  Mapping *m = last_starting_at_or_below(va);
  if (!m) return head_;
  return m->end > va ? m : m->next;
}

// Link m into the list right after prev (at the head if prev is nullptr).
void MappingSet::link_after(Mapping *prev, Mapping *m) {
  m->prev = prev;
  m->next = prev ? prev->next : head_;
  if (m->next)
    m->next->prev = m;
  else
    tail_ = m;
  if (prev)
    prev->next = m;
  else
    head_ = m;
  count_++;
}

// The references a mapping holds on its object: taken when it comes into
// being (insert, split_at), dropped when it goes (remove).
static void hold_object(const Mapping &m) {
  if (!m.object) return;
  vm_object_ref(m.object);
  if (m.denies_write) vm_object_deny_write(m.object, 1);
}

static void release_object(const Mapping &m) {
  if (!m.object) return;
  // Deny-write first: the unref may free the object.
  if (m.denies_write) vm_object_deny_write(m.object, -1);
  vm_object_unref(m.object);
}

Result<Mapping *> MappingSet::insert(const Mapping &fields) {
  VirtAddr start = fields.start, end = fields.end;
  if (!(start < end) || !start.is_page_aligned() || !end.is_page_aligned() || end.value > USER_TOP)
    return Error::Invalid;
  // Deny-write is a property of a file; without an object it means nothing.
  if (fields.denies_write && !fields.object) return Error::Invalid;
  Mapping *prev = last_starting_at_or_below(start);
  if (prev && prev->end > start) return Error::Invalid;
  Mapping *next = prev ? prev->next : head_;
  if (next && next->start < end) return Error::Invalid;

  Mapping *m = TRY(mapping_slab.make(fields));
  link_after(prev, m);
  hold_object(*m);
  return m;
}

Result<void> MappingSet::split_at(VirtAddr at) {
  if (!at.is_page_aligned()) return Error::Invalid;
  Mapping *m = last_starting_at_or_below(at);
  if (!m || m->start == at || !m->contains(at)) return {}; // a boundary already, or unmapped
  Mapping *upper = TRY(mapping_slab.make(*m));
  upper->start = at;
  upper->pgoff = m->page_index(at);
  m->end = at;
  link_after(m, upper);
  hold_object(*upper);
  return {};
}

void MappingSet::remove(Mapping *m) {
  KASSERT(m && count_ > 0);
  if (m->prev)
    m->prev->next = m->next;
  else
    head_ = m->next;
  if (m->next)
    m->next->prev = m->prev;
  else
    tail_ = m->prev;
  if (hint_ == m) hint_ = nullptr;
  count_--;
  Mapping gone = *m; // the fields release_object needs, once m is freed
  mapping_slab.destroy(m);
  release_object(gone);
}

// Whether b continues a exactly, so that one mapping [a.start, b.end) would
// describe both. Without an object pgoff means nothing (private anonymous
// memory is demand zero wherever it is), so only an object's pages must
// continue.
static bool continues(const Mapping &a, const Mapping &b) {
  if (a.end != b.start || a.prot != b.prot || a.shared != b.shared || a.kind != b.kind ||
      a.object != b.object || a.data_end != b.data_end || a.denies_write != b.denies_write ||
      a.max_prot != b.max_prot || strncmp(a.name, b.name, sizeof a.name) != 0)
    return false;
  return !a.object || b.pgoff == a.pgoff + a.pages();
}

void MappingSet::merge_around(Mapping *m) {
  KASSERT(m);
  if (Mapping *p = m->prev; p && continues(*p, *m)) {
    p->end = m->end;
    remove(m); // drops m's reference: p's covers the whole range now
    m = p;
  }
  if (Mapping *n = m->next; n && continues(*m, *n)) {
    m->end = n->end;
    remove(n);
  }
}

Result<VirtAddr> MappingSet::find_free(uint64 len, VirtAddr lo, VirtAddr hi, VirtAddr hint) const {
  if (len == 0 || len % PAGE_SIZE != 0 || len > USER_TOP) return Error::NoMemory;
  uint64 low = page_round_up(lo.value);
  uint64 high = page_round_down(hi.value < USER_TOP ? hi.value : USER_TOP);
  if (low >= high || high - low < len) return Error::NoMemory;

  // Address 0 is no hint (mmap's addr 0).
  if (hint.value != 0 && hint.is_page_aligned() && hint.value >= low && hint.value <= high - len) {
    // Free if the first mapping that ends after hint starts at or above
    // hint + len.
    Mapping *m = last_starting_at_or_below(hint);
    m = !m ? head_ : (m->end > hint ? m : m->next);
    if (!m || m->start.value >= hint.value + len) return hint;
  }

  // Top-down: the gaps between mappings, highest first. `top` is the upper
  // end of the current gap (never above `high`); the mapping below it, or
  // `low`, is its lower end.
  uint64 top = high;
  for (Mapping *m = tail_;; m = m->prev) {
    uint64 bottom = m && m->end.value > low ? m->end.value : low;
    if (top > bottom && top - bottom >= len) return VirtAddr(top - len);
    if (!m) break;
    if (m->start.value < top) top = m->start.value;
    if (top <= low) break;
  }
  return Error::NoMemory;
}

void MappingSet::clear() {
  while (head_) remove(head_);
}

void MappingSet::swap(MappingSet &other) {
  Mapping *h = head_, *t = tail_, *hi = hint_;
  uint64 c = count_;
  head_ = other.head_;
  tail_ = other.tail_;
  hint_ = other.hint_;
  count_ = other.count_;
  other.head_ = h;
  other.tail_ = t;
  other.hint_ = hi;
  other.count_ = c;
}

} // namespace mm

// The mapping set: a sorted list of Mapping slab objects, each holding a
// reference to its memory object.
//
// Memory objects are the fakes of fake_vm_object.cpp (made-up addresses
// whose references are counted) as long as the real kernel/mm/object.cpp is
// not linked; once it is, obj() returns nullptr (private anonymous memory)
// and the tests that need distinct objects are skipped.
#include <algorithm>
#include <map>
#include <random>
#include <sstream>

#include "mm/mapping.h"
#include "mm/slab.h"
#include "team.h"

namespace mmtest {
namespace {

using mm::MapKind;
using mm::Mapping;
using mm::MappingSet;
using mm::VmObject;
namespace prot = mm::prot;

constexpr uint64 P = PAGE_SIZE;
constexpr uint32 RW = prot::Read | prot::Write;

class MappingTest : public MmTest {
protected:
  void SetUp() override {
    MmTest::SetUp();
    mm::mapping_cache().reset_for_tests(); // the frame table was re-initialised
    hostfake::vm_object_fake_reset();
    faked_ = hostfake::vm_objects_faked();
  }

  void TearDown() override {
    // Every test leaves its references balanced (checked against the sets
    // it still holds), then everything goes back.
    expect_balanced();
    set_.clear();
    other_.clear();
    EXPECT_EQ(set_.count(), 0u);
    expect_balanced();
    EXPECT_EQ(mm::mapping_cache().in_use(), 0u);
    EXPECT_EQ(mm::mapping_cache().frames_held(), 0u);
    MmTest::TearDown();
  }

  // Fake object i (nullptr once the real objects are linked).
  VmObject *obj(int i) { return faked_ ? reinterpret_cast<VmObject *>(&objects_[i]) : nullptr; }
  long refs(int i) { return hostfake::vm_object_refs(&objects_[i]); }
  long denies(int i) { return hostfake::vm_object_denies(&objects_[i]); }

  // A mapping of pages [lo, hi).
  static Mapping mk(uint64 lo, uint64 hi, VmObject *o = nullptr, uint64 pgoff = 0, uint32 p = RW) {
    Mapping m;
    m.start = VirtAddr(lo * P);
    m.end = VirtAddr(hi * P);
    m.prot = p;
    m.object = o;
    m.pgoff = pgoff;
    m.kind = o ? MapKind::File : MapKind::Anon;
    return m;
  }

  Mapping *add(MappingSet &s, const Mapping &m) {
    auto r = s.insert(m);
    EXPECT_TRUE(r.ok()) << "insert [" << m.start.value / P << "," << m.end.value / P << ")";
    return r.ok() ? r.value() : nullptr;
  }

  // "[lo,hi)" per mapping, in pages, with "@pgoff" when the object is set.
  static std::string describe(MappingSet &s) {
    std::ostringstream out;
    s.for_each([&](Mapping &m) {
      if (out.tellp() > 0) out << ' ';
      out << '[' << m.start.value / P << ',' << m.end.value / P << ')';
      if (m.object) out << '@' << m.pgoff;
    });
    return out.str();
  }

  // The list's links, order and count are consistent.
  static void expect_well_formed(MappingSet &s) {
    uint64 n = 0;
    Mapping *prev = nullptr;
    for (Mapping *m = s.first(); m; m = m->next) {
      EXPECT_EQ(m->prev, prev);
      EXPECT_LT(m->start, m->end);
      EXPECT_TRUE(m->start.is_page_aligned() && m->end.is_page_aligned());
      if (prev) {
        EXPECT_LE(prev->end, m->start) << "overlap or out of order";
      }
      prev = m;
      n++;
    }
    EXPECT_EQ(n, s.count());
  }

  // Each fake object holds exactly one reference (and deny-write) per
  // mapping of it in set_ and other_.
  void expect_balanced() {
    expect_well_formed(set_);
    expect_well_formed(other_);
    if (!faked_) return;
    long want_refs[kObjects] = {}, want_denies[kObjects] = {};
    for (MappingSet *s : {&set_, &other_})
      s->for_each([&](Mapping &m) {
        if (!m.object) return;
        auto i = reinterpret_cast<int *>(m.object) - objects_;
        ASSERT_TRUE(i >= 0 && i < kObjects);
        want_refs[i]++;
        if (m.denies_write) want_denies[i]++;
      });
    for (int i = 0; i < kObjects; i++) {
      EXPECT_EQ(refs(i), want_refs[i]) << "object " << i;
      EXPECT_EQ(denies(i), want_denies[i]) << "object " << i;
    }
  }

  // Take mapping objects until the slab's frames are full, so the next
  // mapping needs a new frame. Returns what to free afterwards.
  void fill_slab_frames(MappingSet &filler, uint64 base_page) {
    auto &c = mm::mapping_cache();
    uint64 page = base_page;
    do {
      EXPECT_TRUE(filler.insert(mk(page, page + 1)).ok());
      page += 2;
    } while (c.in_use() % c.per_frame() != 0);
  }

  static constexpr int kObjects = 8;
  int objects_[kObjects] = {};
  bool faked_ = false;
  MappingSet set_, other_;
};

TEST_F(MappingTest, InsertKeepsAddressOrder) {
  EXPECT_EQ(set_.first(), nullptr);
  add(set_, mk(10, 12));
  add(set_, mk(2, 4, obj(0)));
  add(set_, mk(6, 8));
  add(set_, mk(4, 6)); // adjacent on both sides
  add(set_, mk(20, 21, obj(1), 7));
  EXPECT_EQ(set_.count(), 5u);
  if (faked_) {
    EXPECT_EQ(describe(set_), "[2,4)@0 [4,6) [6,8) [10,12) [20,21)@7");
  } else {
    EXPECT_EQ(describe(set_), "[2,4) [4,6) [6,8) [10,12) [20,21)");
  }
  EXPECT_EQ(set_.first()->start.value, 2 * P);
  if (faked_) {
    EXPECT_EQ(refs(0), 1);
    EXPECT_EQ(refs(1), 1);
  }
  // The new mapping is a copy of the fields, in a slab object.
  Mapping fields = mk(30, 33, obj(2), 4, prot::Read);
  fields.shared = true;
  fields.kind = MapKind::Data;
  fields.data_end = 5 * P + 100;
  Mapping *m = add(set_, fields);
  ASSERT_NE(m, nullptr);
  EXPECT_NE(m, &fields);
  EXPECT_EQ(m->prot, prot::Read);
  EXPECT_TRUE(m->shared);
  EXPECT_EQ(m->kind, MapKind::Data);
  EXPECT_EQ(m->pgoff, 4u);
  EXPECT_EQ(m->data_end, 5 * P + 100);
  EXPECT_EQ(m->pages(), 3u);
  EXPECT_EQ(m->page_index(VirtAddr(32 * P + 5)), 6u);
  EXPECT_EQ(m->next, nullptr);
  EXPECT_EQ(mm::mapping_cache().in_use(), 6u);
}

TEST_F(MappingTest, InsertRejectsOverlapAndMalformed) {
  add(set_, mk(10, 20, obj(0)));
  add(set_, mk(30, 40));
  std::string before = describe(set_);
  struct Case {
    uint64 lo, hi;
  } overlaps[] = {{10, 20}, {12, 14}, {5, 25}, {5, 11}, {19, 21}, {10, 11}, {15, 35}, {39, 50}, {0, 100}};
  for (auto [lo, hi] : overlaps) {
    auto r = set_.insert(mk(lo, hi, obj(1)));
    ASSERT_TRUE(r.is_error()) << lo << "," << hi;
    EXPECT_EQ(r.error(), Error::Invalid);
  }
  Mapping bad[4] = {mk(50, 50), mk(52, 51), mk(60, 61), mk(60, 61)};
  bad[2].start = VirtAddr(60 * P + 8);
  bad[3].end = VirtAddr(61 * P - 8);
  for (auto &m : bad) {
    auto r = set_.insert(m);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error(), Error::Invalid);
  }
  Mapping high;
  high.start = VirtAddr(USER_TOP - P);
  high.end = VirtAddr(USER_TOP + P);
  EXPECT_TRUE(set_.insert(high).is_error());
  Mapping deny_anon = mk(70, 71);
  deny_anon.denies_write = true; // deny-write needs a file
  EXPECT_TRUE(set_.insert(deny_anon).is_error());
  EXPECT_EQ(describe(set_), before);
  EXPECT_EQ(set_.count(), 2u);
  if (faked_) {
    EXPECT_EQ(refs(1), 0);
  }
  // Up to the very top is fine, and so is filling a gap exactly.
  high.end = VirtAddr(USER_TOP);
  EXPECT_TRUE(set_.insert(high).ok());
  EXPECT_TRUE(set_.insert(mk(20, 30)).ok());
  EXPECT_EQ(set_.count(), 4u);
}

TEST_F(MappingTest, ObjectReferencesAndDenyWrite) {
  if (!faked_) GTEST_SKIP() << "real memory objects are linked";
  Mapping text = mk(0, 4, obj(0));
  text.denies_write = true;
  text.kind = MapKind::Text;
  Mapping *t = add(set_, text);
  Mapping *d = add(set_, mk(4, 6, obj(0), 4));
  EXPECT_EQ(refs(0), 2);
  EXPECT_EQ(denies(0), 1);
  ASSERT_TRUE(set_.split_at(VirtAddr(2 * P)).ok());
  EXPECT_EQ(refs(0), 3);
  EXPECT_EQ(denies(0), 2); // the new half denies writes too
  set_.remove(t);
  EXPECT_EQ(refs(0), 2);
  EXPECT_EQ(denies(0), 1);
  set_.remove(d);
  EXPECT_EQ(refs(0), 1);
  set_.clear();
  EXPECT_EQ(refs(0), 0);
  EXPECT_EQ(denies(0), 0);
}

TEST_F(MappingTest, FindUsesAndKeepsItsHint) {
  for (uint64 i = 0; i < 10; i++) add(set_, mk(10 * i + 1, 10 * i + 5));
  for (int round = 0; round < 2; round++) {
    // Up and down the list: the hint must work in both directions.
    for (uint64 k = 0; k < 20; k++) {
      uint64 i = round ? 9 - k % 10 : k % 10;
      Mapping *m = set_.find(VirtAddr((10 * i + 1) * P));
      ASSERT_NE(m, nullptr);
      EXPECT_EQ(m->start.value, (10 * i + 1) * P);
      EXPECT_EQ(set_.find(VirtAddr((10 * i + 5) * P - 1)), m);   // last byte
      EXPECT_EQ(set_.find(VirtAddr((10 * i + 5) * P)), nullptr); // end is outside
      EXPECT_EQ(set_.find(VirtAddr((10 * i) * P)), nullptr);     // the gap below
      EXPECT_EQ(set_.find(VirtAddr((10 * i + 3) * P + 17)), m);
    }
  }
  EXPECT_EQ(set_.find(VirtAddr(0)), nullptr);
  EXPECT_EQ(set_.find(VirtAddr(1000 * P)), nullptr);
  EXPECT_EQ(set_.find(VirtAddr(USER_TOP + 5)), nullptr);
  EXPECT_EQ(set_.find(VirtAddr(~0UL)), nullptr);

  // Removing the hinted mapping does not leave find() a dangling hint.
  Mapping *m = set_.find(VirtAddr(42 * P));
  ASSERT_NE(m, nullptr);
  set_.remove(m);
  EXPECT_EQ(set_.find(VirtAddr(42 * P)), nullptr);
  EXPECT_NE(set_.find(VirtAddr(52 * P)), nullptr);
  EXPECT_NE(set_.find(VirtAddr(32 * P)), nullptr);

  MappingSet empty;
  EXPECT_EQ(empty.find(VirtAddr(P)), nullptr);
  EXPECT_EQ(empty.first_ending_after(VirtAddr(P)), nullptr);
}

TEST_F(MappingTest, FirstEndingAfter) {
  Mapping *a = add(set_, mk(2, 4));
  Mapping *b = add(set_, mk(4, 6));
  Mapping *c = add(set_, mk(10, 12));
  EXPECT_EQ(set_.first_ending_after(VirtAddr(0)), a);
  EXPECT_EQ(set_.first_ending_after(VirtAddr(3 * P)), a);
  EXPECT_EQ(set_.first_ending_after(VirtAddr(4 * P - 1)), a);
  EXPECT_EQ(set_.first_ending_after(VirtAddr(4 * P)), b);
  EXPECT_EQ(set_.first_ending_after(VirtAddr(6 * P)), c);
  EXPECT_EQ(set_.first_ending_after(VirtAddr(8 * P)), c);
  EXPECT_EQ(set_.first_ending_after(VirtAddr(11 * P)), c);
  EXPECT_EQ(set_.first_ending_after(VirtAddr(12 * P)), nullptr);
  set_.find(VirtAddr(11 * P)); // a hint high up does not change the answers
  EXPECT_EQ(set_.first_ending_after(VirtAddr(P)), a);
  EXPECT_EQ(set_.first_ending_after(VirtAddr(5 * P)), b);
}

TEST_F(MappingTest, SplitInsideCutsInTwo) {
  Mapping fields = mk(16, 32, obj(0), 5, prot::Read | prot::Exec);
  fields.shared = true;
  fields.kind = MapKind::Data;
  fields.data_end = 9 * P + 12;
  Mapping *m = add(set_, fields);
  add(set_, mk(40, 41));
  ASSERT_TRUE(set_.split_at(VirtAddr(20 * P)).ok());
  EXPECT_EQ(set_.count(), 3u);
  EXPECT_EQ(m->end.value, 20 * P);
  Mapping *up = m->next;
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->prev, m);
  EXPECT_EQ(up->start.value, 20 * P);
  EXPECT_EQ(up->end.value, 32 * P);
  EXPECT_EQ(m->pgoff, 5u);
  EXPECT_EQ(up->pgoff, 9u); // the same object page as before the split
  EXPECT_EQ(up->prot, m->prot);
  EXPECT_EQ(up->shared, m->shared);
  EXPECT_EQ(up->kind, m->kind);
  EXPECT_EQ(up->object, m->object);
  EXPECT_EQ(up->data_end, m->data_end);
  EXPECT_EQ(up->next->start.value, 40 * P);
  EXPECT_EQ(set_.find(VirtAddr(20 * P)), up);
  EXPECT_EQ(set_.find(VirtAddr(20 * P - 1)), m);
  if (faked_) {
    EXPECT_EQ(refs(0), 2);
  }

  // Split the top page off and the bottom page off too.
  ASSERT_TRUE(set_.split_at(VirtAddr(31 * P)).ok());
  ASSERT_TRUE(set_.split_at(VirtAddr(17 * P)).ok());
  if (faked_) {
    EXPECT_EQ(describe(set_), "[16,17)@5 [17,20)@6 [20,31)@9 [31,32)@20 [40,41)");
  }
  if (faked_) {
    EXPECT_EQ(refs(0), 4);
  }
}

TEST_F(MappingTest, SplitAtABoundaryOrUnmappedDoesNothing) {
  add(set_, mk(10, 20, obj(0)));
  add(set_, mk(20, 30, obj(1), 3));
  add(set_, mk(40, 50));
  std::string before = describe(set_);
  for (uint64 page : {0UL, 5UL, 10UL, 20UL, 30UL, 35UL, 40UL, 50UL, 60UL}) {
    ASSERT_TRUE(set_.split_at(VirtAddr(page * P)).ok()) << page;
    EXPECT_EQ(describe(set_), before) << page;
  }
  EXPECT_TRUE(set_.split_at(VirtAddr(USER_TOP)).ok());
  auto r = set_.split_at(VirtAddr(15 * P + 8)); // not a page boundary
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), Error::Invalid);
  EXPECT_EQ(describe(set_), before);
  EXPECT_EQ(set_.count(), 3u);
  EXPECT_EQ(mm::mapping_cache().in_use(), 3u);
}

TEST_F(MappingTest, RemoveHeadMiddleTail) {
  Mapping *a = add(set_, mk(1, 2, obj(0)));
  Mapping *b = add(set_, mk(3, 4, obj(0)));
  Mapping *c = add(set_, mk(5, 6, obj(1)));
  Mapping *d = add(set_, mk(7, 8));
  if (faked_) {
    EXPECT_EQ(refs(0), 2);
  }
  set_.remove(b);
  EXPECT_EQ(a->next, c);
  EXPECT_EQ(c->prev, a);
  if (faked_) {
    EXPECT_EQ(refs(0), 1);
  }
  set_.remove(a);
  EXPECT_EQ(set_.first(), c);
  EXPECT_EQ(c->prev, nullptr);
  set_.remove(d);
  EXPECT_EQ(c->next, nullptr);
  if (faked_) {
    EXPECT_EQ(refs(1), 1);
  }
  // The tail is right after removals: find_free starts from it.
  EXPECT_EQ(set_.find_free(P, VirtAddr(0), VirtAddr(6 * P), VirtAddr()).value().value, 4 * P);
  set_.remove(c);
  EXPECT_EQ(set_.count(), 0u);
  EXPECT_EQ(set_.first(), nullptr);
  if (faked_) {
    EXPECT_EQ(refs(1), 0);
  }
  EXPECT_EQ(set_.find_free(P, VirtAddr(0), VirtAddr(6 * P), VirtAddr()).value().value, 5 * P);
  add(set_, mk(1, 2));
  EXPECT_EQ(set_.first()->next, nullptr);
}

TEST_F(MappingTest, MergeAfterSplitRestoresOneMapping) {
  add(set_, mk(0, 3));
  Mapping *m = add(set_, mk(10, 30, obj(0), 100));
  add(set_, mk(40, 41));
  ASSERT_TRUE(set_.split_at(VirtAddr(15 * P)).ok());
  ASSERT_TRUE(set_.split_at(VirtAddr(20 * P)).ok());
  EXPECT_EQ(set_.count(), 5u);
  Mapping *mid = set_.find(VirtAddr(17 * P));
  ASSERT_NE(mid, nullptr);

  // mprotect of the middle: it stays apart while its protection differs...
  mid->prot = prot::Read;
  set_.merge_around(mid);
  EXPECT_EQ(set_.count(), 5u);
  // ...and joins both neighbours once it is the same again.
  mid->prot = RW;
  set_.merge_around(mid);
  EXPECT_EQ(set_.count(), 3u);
  if (faked_) {
    EXPECT_EQ(describe(set_), "[0,3) [10,30)@100 [40,41)");
  }
  Mapping *whole = set_.find(VirtAddr(25 * P));
  ASSERT_NE(whole, nullptr);
  EXPECT_EQ(whole, m); // the lowest piece absorbs the others
  EXPECT_EQ(whole->start.value, 10 * P);
  EXPECT_EQ(whole->end.value, 30 * P);
  EXPECT_EQ(whole->pgoff, 100u);
  if (faked_) {
    EXPECT_EQ(refs(0), 1);
  }

  // Merging with only the lower or only the upper neighbour.
  ASSERT_TRUE(set_.split_at(VirtAddr(12 * P)).ok());
  Mapping *upper = set_.find(VirtAddr(12 * P));
  set_.merge_around(upper);
  EXPECT_EQ(set_.count(), 3u);
  ASSERT_TRUE(set_.split_at(VirtAddr(12 * P)).ok());
  set_.merge_around(set_.find(VirtAddr(10 * P)));
  EXPECT_EQ(set_.count(), 3u);
  if (faked_) {
    EXPECT_EQ(refs(0), 1);
  }
}

TEST_F(MappingTest, MergeOnlyWhatContinuesExactly) {
  if (!faked_) GTEST_SKIP() << "real memory objects are linked";
  auto pair = [&](Mapping lo, Mapping hi) {
    set_.clear();
    add(set_, lo);
    Mapping *m = add(set_, hi);
    set_.merge_around(m);
    return set_.count();
  };
  Mapping a = mk(10, 12, obj(0), 4), b = mk(12, 14, obj(0), 6);
  EXPECT_EQ(pair(a, b), 1u);
  Mapping x = b;
  x.prot = prot::Read;
  EXPECT_EQ(pair(a, x), 2u) << "prot";
  x = b;
  x.shared = true;
  EXPECT_EQ(pair(a, x), 2u) << "shared";
  x = b;
  x.kind = MapKind::Data;
  EXPECT_EQ(pair(a, x), 2u) << "kind";
  x = b;
  x.object = obj(1);
  EXPECT_EQ(pair(a, x), 2u) << "object";
  x = b;
  x.pgoff = 7;
  EXPECT_EQ(pair(a, x), 2u) << "pgoff";
  x = b;
  x.data_end = 3 * P;
  EXPECT_EQ(pair(a, x), 2u) << "data_end";
  x = b;
  x.denies_write = true;
  EXPECT_EQ(pair(a, x), 2u) << "deny-write";
  x = mk(13, 15, obj(0), 7);
  EXPECT_EQ(pair(a, x), 2u) << "a gap";
  Mapping anon_lo = mk(10, 12), anon_hi = mk(12, 14, nullptr, 55);
  EXPECT_EQ(pair(anon_lo, anon_hi), 1u) << "anonymous memory: pgoff means nothing";
  EXPECT_EQ(pair(anon_lo, b), 2u) << "anonymous and object";
}

TEST_F(MappingTest, FindFreeTopDownWithHint) {
  // Mapped (pages): [10,20) [30,32) [33,40) [60,70); looking inside [5,65).
  add(set_, mk(10, 20));
  add(set_, mk(30, 32));
  add(set_, mk(33, 40));
  add(set_, mk(60, 70));
  VirtAddr lo(5 * P), hi(65 * P), none;
  auto ff = [&](uint64 pages, VirtAddr hint = VirtAddr(), VirtAddr l = VirtAddr(5 * P),
                VirtAddr h = VirtAddr(65 * P)) -> long {
    auto r = set_.find_free(pages * P, l, h, hint);
    if (r.is_error()) {
      EXPECT_EQ(r.error(), Error::NoMemory);
      return -1;
    }
    return static_cast<long>(r.value().value / P);
  };
  EXPECT_EQ(ff(1), 59);  // highest: just below [60,70)
  EXPECT_EQ(ff(20), 40); // exactly the gap [40,60)
  EXPECT_EQ(ff(21), -1); // no gap that big within [5,65): [20,30) and [40,60) are smaller
  EXPECT_EQ(ff(10), 50);
  EXPECT_EQ(ff(5), 55);
  EXPECT_EQ(ff(1, none, lo, VirtAddr(33 * P)), 32); // the one-page hole [32,33)
  EXPECT_EQ(ff(2, none, lo, VirtAddr(33 * P)), 28);
  EXPECT_EQ(ff(5, none, lo, VirtAddr(12 * P)), 5); // [5,10) from lo
  EXPECT_EQ(ff(6, none, lo, VirtAddr(12 * P)), -1);
  EXPECT_EQ(ff(3, none, VirtAddr(64 * P), VirtAddr(80 * P)), 77); // above the last mapping
  EXPECT_EQ(ff(3, none, VirtAddr(62 * P), VirtAddr(69 * P)), -1); // inside a mapping
  EXPECT_EQ(ff(1, none, VirtAddr(20 * P), VirtAddr(30 * P)), 29);
  EXPECT_EQ(ff(10, none, VirtAddr(20 * P), VirtAddr(30 * P)), 20);

  EXPECT_EQ(ff(1, none, VirtAddr(0), VirtAddr(10 * P)), 9); // address 0 is no hint
  EXPECT_EQ(ff(1, VirtAddr(0), VirtAddr(0), VirtAddr(10 * P)), 9);

  // A free, aligned hint inside [lo, hi) is taken as it is...
  EXPECT_EQ(ff(3, VirtAddr(22 * P)), 22);
  EXPECT_EQ(ff(10, VirtAddr(20 * P)), 20);
  EXPECT_EQ(ff(1, VirtAddr(32 * P)), 32);
  EXPECT_EQ(ff(5, VirtAddr(5 * P)), 5);
  // ...otherwise ignored: overlapping, unaligned, outside [lo, hi).
  EXPECT_EQ(ff(3, VirtAddr(18 * P)), 57);
  EXPECT_EQ(ff(3, VirtAddr(28 * P)), 57);
  EXPECT_EQ(ff(3, VirtAddr(22 * P + 4)), 57);
  EXPECT_EQ(ff(3, VirtAddr(2 * P)), 57);
  EXPECT_EQ(ff(3, VirtAddr(63 * P)), 57);
  EXPECT_EQ(ff(3, VirtAddr(70 * P)), 57);

  // Bad requests and empty ranges find nothing.
  EXPECT_EQ(ff(0), -1);
  EXPECT_TRUE(set_.find_free(P + 8, lo, hi, none).is_error());
  EXPECT_EQ(ff(1, none, hi, lo), -1);
  EXPECT_EQ(ff(1, none, lo, lo), -1);

  // Unaligned bounds shrink to whole pages; hi stops at USER_TOP.
  EXPECT_EQ(ff(1, none, VirtAddr(5 * P + 1), VirtAddr(10 * P)), 9);
  EXPECT_EQ(ff(5, none, VirtAddr(5 * P + 1), VirtAddr(10 * P)), -1);
  EXPECT_EQ(ff(1, none, VirtAddr(70 * P), VirtAddr(~0UL)), static_cast<long>(USER_TOP / P - 1));

  MappingSet empty;
  EXPECT_EQ(empty.find_free(4 * P, lo, hi, none).value().value, 61 * P);
  EXPECT_EQ(empty.find_free(60 * P, lo, hi, none).value().value, 5 * P);
  EXPECT_TRUE(empty.find_free(61 * P, lo, hi, none).is_error());
}

// mmap(MAP_FIXED) over existing mappings, as the system call will do it:
// split at both ends, remove what lies between, insert the new one.
TEST_F(MappingTest, FixedReplacementBySplitRemoveInsert) {
  add(set_, mk(2, 6, obj(0)));
  add(set_, mk(8, 12, obj(1), 10));
  add(set_, mk(12, 14));
  add(set_, mk(20, 22, obj(1), 30));
  auto replace = [&](uint64 lo, uint64 hi, VmObject *o) {
    ASSERT_TRUE(set_.split_at(VirtAddr(lo * P)).ok());
    ASSERT_TRUE(set_.split_at(VirtAddr(hi * P)).ok());
    for (Mapping *m = set_.first_ending_after(VirtAddr(lo * P)); m && m->start < VirtAddr(hi * P);) {
      Mapping *next = m->next;
      set_.remove(m);
      m = next;
    }
    ASSERT_TRUE(set_.insert(mk(lo, hi, o, 0)).ok());
  };
  replace(4, 13, obj(2));
  if (faked_) {
    EXPECT_EQ(describe(set_), "[2,4)@0 [4,13)@0 [13,14) [20,22)@30");
    EXPECT_EQ(refs(0), 1);
    EXPECT_EQ(refs(1), 1);
    EXPECT_EQ(refs(2), 1);
  }
  // Exactly over one mapping, over a hole, and inside one.
  replace(20, 22, obj(3));
  replace(16, 18, nullptr);
  replace(5, 6, obj(3));
  if (faked_) {
    EXPECT_EQ(describe(set_), "[2,4)@0 [4,5)@0 [5,6)@0 [6,13)@2 [13,14) [16,18) [20,22)@0");
    EXPECT_EQ(refs(1), 0);
    EXPECT_EQ(refs(2), 2);
    EXPECT_EQ(refs(3), 2);
  }
  EXPECT_EQ(set_.count(), 7u);
}

// A split or insert that needs a new slab frame when none is left fails with
// NoMemory and leaves the set exactly as it was.
TEST_F(MappingTest, OutOfMemoryLeavesTheSetUnchanged) {
  Mapping text = mk(10, 30, obj(0), 3);
  text.denies_write = faked_;
  add(set_, text);
  add(set_, mk(40, 50));
  MappingSet filler;
  fill_slab_frames(filler, 1000);
  std::string before = describe(set_);
  uint64 in_use = mm::mapping_cache().in_use();
  uint64 frames_before = mm::frames.free_count();

  mm::frames.fail_after(0);
  for (uint64 page : {15UL, 45UL}) {
    auto r = set_.split_at(VirtAddr(page * P));
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error(), Error::NoMemory);
  }
  auto r = set_.insert(mk(60, 61, obj(0)));
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), Error::NoMemory);
  // What needs no memory still works.
  EXPECT_TRUE(set_.split_at(VirtAddr(10 * P)).ok());
  EXPECT_TRUE(set_.split_at(VirtAddr(35 * P)).ok());
  mm::frames.fail_after(-1);

  EXPECT_EQ(describe(set_), before);
  EXPECT_EQ(set_.count(), 2u);
  EXPECT_EQ(mm::mapping_cache().in_use(), in_use);
  EXPECT_EQ(mm::frames.free_count(), frames_before);
  if (faked_) {
    EXPECT_EQ(refs(0), 1);
    EXPECT_EQ(denies(0), 1);
  }
  expect_balanced();
  EXPECT_TRUE(set_.split_at(VirtAddr(15 * P)).ok());
  EXPECT_EQ(set_.count(), 3u);
  if (faked_) {
    EXPECT_EQ(denies(0), 2);
  }
  filler.clear();
}

// Out of memory at each step of a longer sequence (several splits and
// inserts across many slab frames): whatever failed changed nothing, and
// what succeeded stays consistent.
TEST_F(MappingTest, OutOfMemoryAtEveryFrame) {
  for (long k = 0;; k++) {
    SCOPED_TRACE(k);
    mm::frames.fail_after(k);
    bool failed = false;
    for (uint64 i = 0; i < 200 && !failed; i++) {
      std::string before = describe(set_);
      uint64 n = set_.count();
      // Even steps insert [4i, 4i+3), odd steps split the previous one.
      bool ok;
      Error e = Error::NoMemory;
      if (i % 2) {
        auto r = set_.split_at(VirtAddr((4 * (i - 1) + 1) * P));
        ok = r.ok();
        if (!ok) e = r.error();
      } else {
        auto r = set_.insert(mk(4 * i, 4 * i + 3, obj(i % 3)));
        ok = r.ok();
        if (!ok) e = r.error();
      }
      if (!ok) {
        EXPECT_EQ(e, Error::NoMemory);
        EXPECT_EQ(describe(set_), before);
        EXPECT_EQ(set_.count(), n);
        failed = true;
      }
    }
    mm::frames.fail_after(-1);
    expect_balanced();
    if (failed) {
      EXPECT_EQ(mm::mapping_cache().frames_held(), static_cast<uint64>(k));
    } else {
      EXPECT_LE(mm::mapping_cache().frames_held(), static_cast<uint64>(k));
    }
    set_.clear();
    expect_balanced();
    ASSERT_EQ(mm::frames.free_count(), start_free_);
    if (!failed) break;
    ASSERT_LT(k, 50);
  }
}

TEST_F(MappingTest, ClearAndSwap) {
  add(set_, mk(1, 3, obj(0)));
  add(set_, mk(5, 9, obj(1)));
  add(other_, mk(100, 110, obj(0)));
  set_.find(VirtAddr(6 * P)); // leave hints behind
  other_.find(VirtAddr(105 * P));
  set_.swap(other_);
  EXPECT_EQ(set_.count(), 1u);
  EXPECT_EQ(other_.count(), 2u);
  EXPECT_EQ(set_.find(VirtAddr(6 * P)), nullptr);
  EXPECT_NE(set_.find(VirtAddr(105 * P)), nullptr);
  EXPECT_NE(other_.find(VirtAddr(6 * P)), nullptr);
  EXPECT_EQ(other_.find(VirtAddr(105 * P)), nullptr);
  EXPECT_EQ(set_.find_free(P, VirtAddr(0), VirtAddr(200 * P), VirtAddr()).value().value, 199 * P);
  EXPECT_EQ(other_.find_free(P, VirtAddr(0), VirtAddr(9 * P), VirtAddr()).value().value, 4 * P);
  expect_balanced();
  if (faked_) {
    EXPECT_EQ(refs(0), 2);
  }
  other_.clear();
  EXPECT_EQ(other_.count(), 0u);
  EXPECT_EQ(other_.first(), nullptr);
  EXPECT_EQ(other_.find(VirtAddr(6 * P)), nullptr);
  if (faked_) {
    EXPECT_EQ(refs(0), 1);
    EXPECT_EQ(refs(1), 0);
  }
  add(other_, mk(1, 2)); // usable after clear
  // Swapping with an empty set.
  MappingSet empty;
  other_.swap(empty);
  EXPECT_EQ(other_.count(), 0u);
  EXPECT_EQ(empty.count(), 1u);
  empty.clear();
}

TEST_F(MappingTest, ForEachInAddressOrder) {
  for (uint64 i : {5UL, 1UL, 9UL, 3UL, 7UL}) add(set_, mk(2 * i, 2 * i + 1));
  std::vector<uint64> seen;
  set_.for_each([&](Mapping &m) { seen.push_back(m.start.value / P); });
  EXPECT_EQ(seen, (std::vector<uint64>{2, 6, 10, 14, 18}));
}

// A thousand mappings, inserted in random order, split, looked up, merged
// back and removed in random order.
TEST_F(MappingTest, AThousandMappings) {
  constexpr uint64 N = 1000;
  std::vector<uint64> order(N);
  for (uint64 i = 0; i < N; i++) order[i] = i;
  std::mt19937_64 rng(42);
  std::shuffle(order.begin(), order.end(), rng);
  for (uint64 i : order) ASSERT_TRUE(set_.insert(mk(4 * i, 4 * i + 3, obj(i % 4), 3 * i)).ok());
  EXPECT_EQ(set_.count(), N);
  EXPECT_GE(mm::mapping_cache().frames_held(), N / mm::mapping_cache().per_frame());
  expect_balanced();
  for (uint64 i : order) {
    Mapping *m = set_.find(VirtAddr((4 * i + 2) * P));
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->start.value, 4 * i * P);
    EXPECT_EQ(set_.find(VirtAddr((4 * i + 3) * P)), nullptr);
  }
  // Every gap is one page; a two-page request fits only above the last.
  EXPECT_EQ(set_.find_free(P, VirtAddr(0), VirtAddr(4 * N * P), VirtAddr()).value().value, (4 * N - 1) * P);
  EXPECT_TRUE(set_.find_free(2 * P, VirtAddr(0), VirtAddr((4 * N - 1) * P), VirtAddr()).is_error());
  EXPECT_EQ(set_.find_free(P, VirtAddr(0), VirtAddr(4 * N * P), VirtAddr(7 * P)).value().value, 7 * P);

  for (uint64 i : order) ASSERT_TRUE(set_.split_at(VirtAddr((4 * i + 1) * P)).ok());
  EXPECT_EQ(set_.count(), 2 * N);
  expect_balanced();
  for (uint64 i : order) set_.merge_around(set_.find(VirtAddr((4 * i + 1) * P)));
  EXPECT_EQ(set_.count(), N);
  expect_balanced();

  std::shuffle(order.begin(), order.end(), rng);
  for (uint64 k = 0; k < N / 2; k++) set_.remove(set_.find(VirtAddr(4 * order[k] * P)));
  EXPECT_EQ(set_.count(), N / 2);
  expect_balanced();
  set_.clear();
  EXPECT_EQ(mm::mapping_cache().frames_held(), 0u);
}

// Address spaces on several harts change their own sets at once; the sets
// share the mapping slab (and, here, the objects). TSan checks the slab's
// locking; each thread checks its own set.
TEST_F(MappingTest, SetsOnSeveralThreadsShareTheSlab) {
  constexpr int kThreads = 6;
  Team team;
  team.run(kThreads, [&](int t, std::vector<std::string> &err) {
    std::mt19937_64 rng(t);
    MappingSet s;
    for (int round = 0; round < 40; round++) {
      for (uint64 i = 0; i < 50; i++)
        if (s.insert(mk(4 * i, 4 * i + 3, obj((t + i) % 3), i)).is_error()) err.push_back("insert");
      for (uint64 i = 0; i < 50; i++)
        if (s.split_at(VirtAddr((4 * i + 1 + rng() % 2) * P)).is_error()) err.push_back("split");
      if (s.count() != 100) err.push_back("count after splits");
      for (uint64 i = 0; i < 50; i++) s.merge_around(s.find(VirtAddr(4 * i * P)));
      if (s.count() != 50) err.push_back("count after merges");
      for (uint64 i = 0; i < 50; i += 2) s.remove(s.find(VirtAddr(4 * i * P)));
      s.clear();
    }
  });
  expect_balanced();
  EXPECT_EQ(mm::mapping_cache().in_use(), 0u);
  EXPECT_EQ(mm::mapping_cache().frames_held(), 0u);
}

} // namespace
} // namespace mmtest

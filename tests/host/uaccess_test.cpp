// copy_to_user / copy_from_user / copy_string_from_user: range checks, and
// copy-on-write obeyed by kernel stores (and never triggered by loads).
#include "mm_fixture.h"

namespace mmtest {
namespace {

using mm::Access;
using mm::copy_from_user;
using mm::copy_string_from_user;
using mm::copy_to_user;
using mm::ForkMode;
using mm::frames;
namespace pte = mm::pte;
using namespace layout;

class UserAccess : public MmTest {
protected:
  void SetUp() override {
    MmTest::SetUp();
    parent = &new_as();
    build_standard(*parent, 2);
  }
  void fork_child() {
    child = &new_as();
    ASSERT_TRUE(parent->clone_into(*child, ForkMode::Cow).ok());
  }
  AddressSpace *parent = nullptr;
  AddressSpace *child = nullptr;
};

TEST_F(UserAccess, RoundTripAcrossPageBoundaries) {
  std::vector<uint8> out(2 * P + 300), in(out.size());
  for (size_t i = 0; i < out.size(); i++) out[i] = static_cast<uint8>(i * 7 + 3);
  const uint64 va = data + P - 150;
  ASSERT_TRUE(copy_to_user(*parent, VirtAddr(va), out.data(), out.size()).ok());
  ASSERT_TRUE(copy_from_user(*parent, in.data(), VirtAddr(va), in.size()).ok());
  EXPECT_EQ(in, out);
  // The bytes around the range are untouched.
  EXPECT_EQ(reinterpret_cast<uint64 *>(frame_of(*parent, data))[0], pattern_word(data, 0));
  uint8 *last = frame_of(*parent, data + 3 * P);
  EXPECT_EQ(reinterpret_cast<uint64 *>(last)[(P - 8) / 8], pattern_word(data + 3 * P, (P - 8) / 8));
  // Zero-length copies are fine.
  EXPECT_TRUE(copy_to_user(*parent, VirtAddr(va), out.data(), 0).ok());
  EXPECT_TRUE(copy_from_user(*parent, in.data(), VirtAddr(va), 0).ok());
}

TEST_F(UserAccess, CopyToUserIntoACowPageCopiesForTheWriterOnly) {
  fork_child();
  const uint64 va = data + P + 100;
  PhysAddr shared = pte_of(*parent, va)->phys();
  const char msg[] = "hello, child";
  Snap s0 = Snap::now();
  ASSERT_TRUE(copy_to_user(*child, VirtAddr(va), msg, sizeof msg).ok());
  Snap d = Snap::now().since(s0);
  EXPECT_EQ(d.cow_copies, 1u);
  EXPECT_NE(pte_of(*child, va)->phys(), shared);
  EXPECT_TRUE(pte_of(*child, va)->has(pte::Write));
  EXPECT_EQ(pte_of(*parent, va)->phys(), shared);

  char back[sizeof msg];
  ASSERT_TRUE(copy_from_user(*child, back, VirtAddr(va), sizeof back).ok());
  EXPECT_STREQ(back, msg);
  ASSERT_TRUE(copy_from_user(*parent, back, VirtAddr(va), sizeof back).ok());
  EXPECT_EQ(std::memcmp(back, mm::phys_to_ptr<uint8>(shared) + (va % P), sizeof back), 0);
  EXPECT_TRUE(frame_has(mm::phys_to_ptr(shared), data + P)) << "the parent's page is unchanged";

  // A kernel store spanning three shared pages (stack, heap, heap + P)
  // copies exactly those three, and only in the child.
  std::vector<uint8> big(2 * P + 100, 0x5c), seen(big.size());
  const uint64 start = stack + 10;
  s0 = Snap::now();
  ASSERT_TRUE(copy_to_user(*child, VirtAddr(start), big.data(), big.size()).ok());
  d = Snap::now().since(s0);
  EXPECT_EQ(d.cow_copies, 3u);
  EXPECT_EQ(d.cow_reuses, 0u);
  ASSERT_TRUE(copy_from_user(*child, seen.data(), VirtAddr(start), seen.size()).ok());
  EXPECT_EQ(seen, big);
  for (uint64 page : {stack, heap, heap + P}) {
    EXPECT_TRUE(frame_has(frame_of(*parent, page), page));
    EXPECT_NE(pte_of(*child, page)->phys(), pte_of(*parent, page)->phys());
  }
  EXPECT_EQ(pte_of(*child, data)->phys(), pte_of(*parent, data)->phys()) << "untouched pages stay shared";
  EXPECT_EQ(audit_live(), 0u);
}

TEST_F(UserAccess, CopyFromUserNeverCopies) {
  fork_child();
  std::vector<uint8> in(data_end - data);
  uint64 free0 = frames.free_count();
  Snap s0 = Snap::now();
  ASSERT_TRUE(copy_from_user(*child, in.data(), VirtAddr(data), in.size()).ok());
  char s[8];
  EXPECT_TRUE(
      copy_string_from_user(*child, s, VirtAddr(stack), sizeof s).is_error()); // no NUL in the pattern
  Snap d = Snap::now().since(s0);
  EXPECT_EQ(d.cow_faults, 0u);
  EXPECT_EQ(frames.free_count(), free0);
  for (uint64 va = data; va < data_end; va += P) {
    EXPECT_TRUE(frame_has(in.data() + (va - data), va));
    EXPECT_TRUE(pte_of(*child, va)->has(pte::Cow));
    EXPECT_EQ(pte_of(*child, va)->phys(), pte_of(*parent, va)->phys());
  }
  EXPECT_EQ(leaf_table_of(*child, data), leaf_table_of(*parent, data)) << "reading unshares nothing";
}

TEST_F(UserAccess, BadRangesAreRejected) {
  uint8 buf[64] = {};
  uint64 free0 = frames.free_count();
  auto leaves0 = leaves(*parent);
  struct Case {
    uint64 va, len;
  } cases[] = {
      {kKernelVa, 8},          // the kernel half
      {USER_TOP, 1},           // at MAXVA
      {USER_TOP - 10, 20},     // straddling MAXVA
      {~0UL - 15, 32},         // wrapping around zero
      {data, ~0UL - data + 1}, // wrapping length
      {P, ~0UL},               // absurd length
      {data, USER_TOP},        // ends above MAXVA
  };
  for (auto c : cases) {
    SCOPED_TRACE(::testing::Message() << std::hex << c.va << "+" << c.len);
    auto w = copy_to_user(*parent, VirtAddr(c.va), buf, c.len);
    ASSERT_TRUE(w.is_error());
    EXPECT_EQ(w.error(), Error::BadAddress);
    auto r = copy_from_user(*parent, buf, VirtAddr(c.va), c.len);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error(), Error::BadAddress);
  }
  // In range but not mapped or not allowed.
  EXPECT_EQ(copy_to_user(*parent, VirtAddr(guard + 8), buf, 8).error(), Error::BadAddress);
  EXPECT_EQ(copy_from_user(*parent, buf, VirtAddr(guard + 8), 8).error(), Error::BadAddress);
  EXPECT_EQ(copy_to_user(*parent, VirtAddr(data_end - 8), buf, 16).error(),
            Error::BadAddress); // into the guard
  EXPECT_EQ(copy_from_user(*parent, buf, VirtAddr(heap + 2 * P - 8), 16).error(),
            Error::BadAddress); // past the break
  EXPECT_EQ(copy_to_user(*parent, VirtAddr(text + 16), buf, 8).error(), Error::Protection);
  EXPECT_EQ(copy_from_user(*parent, buf, VirtAddr(text + 16), 8).ok(), true);
  EXPECT_EQ(frames.free_count(), free0);
  auto leaves1 = leaves(*parent);
  ASSERT_EQ(leaves1.size(), leaves0.size());
  for (size_t i = 0; i < leaves1.size(); i++) EXPECT_EQ(leaves1[i].second.raw, leaves0[i].second.raw);
}

TEST_F(UserAccess, CopyStringFromUserLimits) {
  char buf[3 * 4096];
  const char hello[] = "hello";
  ASSERT_TRUE(copy_to_user(*parent, VirtAddr(data + 10), hello, sizeof hello).ok());

  auto r = copy_string_from_user(*parent, buf, VirtAddr(data + 10), sizeof buf);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), 5u);
  EXPECT_STREQ(buf, "hello");
  EXPECT_EQ(copy_string_from_user(*parent, buf, VirtAddr(data + 10), 6).value(), 5u)
      << "room for exactly the NUL";
  EXPECT_EQ(copy_string_from_user(*parent, buf, VirtAddr(data + 10), 5).error(), Error::TooBig);
  EXPECT_EQ(copy_string_from_user(*parent, buf, VirtAddr(data + 10), 1).error(), Error::TooBig);
  EXPECT_EQ(copy_string_from_user(*parent, buf, VirtAddr(data + 10), 0).error(), Error::TooBig);
  EXPECT_EQ(copy_string_from_user(*parent, buf, VirtAddr(data + 15), 1).value(), 0u) << "the empty string";

  // Across a page boundary.
  const char across[] = "abcdefgh";
  ASSERT_TRUE(copy_to_user(*parent, VirtAddr(data + P - 4), across, sizeof across).ok());
  r = copy_string_from_user(*parent, buf, VirtAddr(data + P - 4), sizeof buf);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), 8u);
  EXPECT_STREQ(buf, across);

  // A string longer than two pages.
  std::vector<char> longstr(2 * P + 10, 'x');
  longstr.back() = 0;
  ASSERT_TRUE(copy_to_user(*parent, VirtAddr(data + 7), longstr.data(), longstr.size()).ok());
  r = copy_string_from_user(*parent, buf, VirtAddr(data + 7), sizeof buf);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), longstr.size() - 1);
  EXPECT_EQ(copy_string_from_user(*parent, buf, VirtAddr(data + 7), longstr.size() - 1).error(),
            Error::TooBig);

  // Running off the end of the data into the guard page.
  const char tail[4] = {'a', 'b', 'c', 'd'};
  ASSERT_TRUE(copy_to_user(*parent, VirtAddr(data_end - 4), tail, 4).ok());
  EXPECT_EQ(copy_string_from_user(*parent, buf, VirtAddr(data_end - 4), sizeof buf).error(),
            Error::BadAddress);
  EXPECT_EQ(copy_string_from_user(*parent, buf, VirtAddr(data_end - 4), 4).error(), Error::TooBig)
      << "the limit is reached before the guard page";
  // Not user addresses at all.
  EXPECT_EQ(copy_string_from_user(*parent, buf, VirtAddr(kKernelVa), 16).error(), Error::BadAddress);
  EXPECT_EQ(copy_string_from_user(*parent, buf, VirtAddr(USER_TOP - 1), 16).error(), Error::BadAddress);
  EXPECT_EQ(copy_string_from_user(*parent, buf, VirtAddr(guard), 16).error(), Error::BadAddress);
}

} // namespace
} // namespace mmtest

// Host fake of the memory objects' reference counting, as mapping.h sees it
// (vm_object_ref / unref / deny_write), until kernel/mm/object.cpp exists.
//
// The fakes are weak aliases: once the real functions are linked in they
// win, and hostfake::vm_objects_faked() says so (it compares addresses), so
// tests then stop passing made-up object pointers. While the fakes are
// active, an "object" is any address a test picked; the fake only counts,
// per address, references and deny-writes, and never dereferences it.
#include <map>
#include <mutex>

#include "fakes.h"
#include "lib/print.h"
#include "mm/mapping.h"

namespace {

struct Counts {
  long refs = 0;
  long denies = 0;
};

std::mutex fake_lock;
std::map<const void *, Counts> fake_counts;

} // namespace

extern "C" void cowix_fake_vm_object_ref(mm::VmObject *o) {
  if (!o) panic("vm_object_ref(nullptr)");
  std::lock_guard<std::mutex> g(fake_lock);
  fake_counts[o].refs++;
}

extern "C" void cowix_fake_vm_object_unref(mm::VmObject *o) {
  if (!o) panic("vm_object_unref(nullptr)");
  std::lock_guard<std::mutex> g(fake_lock);
  if (--fake_counts[o].refs < 0) panic("vm_object_unref(%p): no reference left", static_cast<void *>(o));
}

extern "C" void cowix_fake_vm_object_deny_write(mm::VmObject *o, int delta) {
  if (!o) panic("vm_object_deny_write(nullptr)");
  std::lock_guard<std::mutex> g(fake_lock);
  if ((fake_counts[o].denies += delta) < 0)
    panic("vm_object_deny_write(%p): below zero", static_cast<void *>(o));
}

namespace mm {
void vm_object_ref(VmObject *o) __attribute__((weak, alias("cowix_fake_vm_object_ref")));
void vm_object_unref(VmObject *o) __attribute__((weak, alias("cowix_fake_vm_object_unref")));
void vm_object_deny_write(VmObject *o, int delta)
    __attribute__((weak, alias("cowix_fake_vm_object_deny_write")));
} // namespace mm

namespace hostfake {

bool vm_objects_faked() {
  auto same = [](auto *a, auto *b) { return reinterpret_cast<void *>(a) == reinterpret_cast<void *>(b); };
  return same(&mm::vm_object_ref, &cowix_fake_vm_object_ref) &&
         same(&mm::vm_object_unref, &cowix_fake_vm_object_unref) &&
         same(&mm::vm_object_deny_write, &cowix_fake_vm_object_deny_write);
}

long vm_object_refs(const void *o) {
  std::lock_guard<std::mutex> g(fake_lock);
  auto it = fake_counts.find(o);
  return it == fake_counts.end() ? 0 : it->second.refs;
}

long vm_object_denies(const void *o) {
  std::lock_guard<std::mutex> g(fake_lock);
  auto it = fake_counts.find(o);
  return it == fake_counts.end() ? 0 : it->second.denies;
}

void vm_object_fake_reset() {
  std::lock_guard<std::mutex> g(fake_lock);
  fake_counts.clear();
}

} // namespace hostfake

// The few symbols a freestanding C++ program still needs from a runtime.
// The kernel has no heap: operator new/delete exist only because virtual
// destructors reference them; calling them is a bug.
#include "lib/print.h"

extern "C" void __cxa_pure_virtual() { panic("pure virtual call"); }
extern "C" [[noreturn]] void abort() { panic("abort"); }

void *operator new(size_t) { panic("operator new: the kernel has no heap"); }
void *operator new[](size_t) { panic("operator new[]: the kernel has no heap"); }
void operator delete(void *) noexcept { panic("operator delete"); }
void operator delete(void *, size_t) noexcept { panic("operator delete"); }
void operator delete[](void *) noexcept { panic("operator delete[]"); }
void operator delete[](void *, size_t) noexcept { panic("operator delete[]"); }

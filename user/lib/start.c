// Program entry. The kernel's exec enters _start in user mode with
// a0 = argc, a1 = argv (pointing into the new stack) and sp set just below
// the argument strings, 16-byte aligned, so C can run straight away.
// Returning from main exits with main's return value (xv6 exits with 0;
// returning the value is a compatible improvement).

#include "kernel/types.h"
#include "user/user.h"

int main(int argc, char *argv[]);

void _start(int argc, char *argv[]) { exit(main(argc, argv)); }

// false: do nothing, unsuccessfully.
#include "kernel/types.h"
#include "user/user.h"

int main(void) { return 1; }

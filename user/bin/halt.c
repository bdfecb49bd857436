// halt [status]: power the machine off. QEMU exits with the given status
// (default 0), which lets scripts report success or failure to the host.
#include "kernel/types.h"
#include "user/user.h"

int main(int argc, char *argv[]) { shutdown(argc > 1 ? atoi(argv[1]) : 0); }

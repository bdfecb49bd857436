// utests with four cases that must fail (a leak, a FAIL line, a killed case
// and a bad exit status): checks the utests runner itself.
//   tools/qemu-run --extra tests/qemu/utselftest.c -- \
//     'utselftest selftest_leak selftest_fail selftest_killed selftest_status getpid'
// must print FAIL for the four selftest_* cases and "ok getpid".
#define UTESTS_SELFTEST
#include "user/tests/utests.c"

// Default sanitizer options of the test binaries, so running them by hand
// behaves like ctest: a data race (TSan) fails the run at once instead of
// being reported among passing tests. (The runtimes look these up at start;
// ASan/UBSan already stop on the first error: -fno-sanitize-recover=all.)
extern "C" const char *__tsan_default_options() { return "halt_on_error=1:second_deadlock_stack=1"; }

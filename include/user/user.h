// The user library API: xv6-riscv's user.h signatures, plus cowix's calls.
// Programs include "kernel/types.h" (and usually "kernel/stat.h") first.
#pragma once

// What sbrk returns when it cannot grow the heap (newer xv6-riscv names it).
#define SBRK_ERROR ((char *)-1)

struct stat;
struct memstat;
struct vmmap;

// mmap's types (newer xv6-riscv and the mmap lab use these names).
typedef unsigned long size_t;
typedef long off_t;

// system calls
int fork(void);
int exit(int) __attribute__((noreturn));
int wait(int *);
int pipe(int *);
int write(int, const void *, int);
int read(int, void *, int);
int close(int);
int kill(int);
int exec(const char *, char **);
int open(const char *, int);
int mknod(const char *, short, short);
int unlink(const char *);
int fstat(int fd, struct stat *);
int link(const char *, const char *);
int mkdir(const char *);
int chdir(const char *);
int dup(int);
int getpid(void);
char *sys_sbrk(int, int); // SBRK_EAGER or SBRK_LAZY (kernel/vm.h); use sbrk/sbrklazy
int sleep(int);
int pause(int); // = sleep; newer xv6-riscv renamed the call
int uptime(void);
// cowix system calls
int memstat(struct memstat *);
int vmaudit(void);
int forkmode(int);
void shutdown(int) __attribute__((noreturn));
void *mmap(void *, size_t, int, int, int, off_t); // (void *)-1 on error
int munmap(void *, size_t);
int mprotect(void *, size_t, int);
int vmmap(int pid, struct vmmap *, int max); // number of mappings, or -1
int faultinject(int what, int n); // testing only (kernel/syscall.h)

// ulib.c
char *sbrk(int);     // sys_sbrk(n, SBRK_EAGER)
char *sbrklazy(int); // sys_sbrk(n, SBRK_LAZY): pages appear when first touched
int stat(const char *, struct stat *);
char *strcpy(char *, const char *);
void *memmove(void *, const void *, int);
char *strchr(const char *, char c);
int strcmp(const char *, const char *);
void fprintf(int, const char *, ...) __attribute__((format(printf, 2, 3)));
void printf(const char *, ...) __attribute__((format(printf, 1, 2)));
char *gets(char *, int max);
uint strlen(const char *);
void *memset(void *, int, uint);
void *malloc(uint);
void free(void *);
int atoi(const char *);
int memcmp(const void *, const void *, uint);
void *memcpy(void *, const void *, uint);
// cowix additions to the library
int strncmp(const char *, const char *, uint);
char *strncpy(char *, const char *, int);
int snprintf(char *, int, const char *, ...) __attribute__((format(printf, 3, 4)));
void prefault_data(void); // page in all of data and bss now (tests counting frames)

// System call dispatch and argument fetching. Arguments arrive in a0..a5 of
// the trap frame; fetch them with these helpers, which never trust a pointer.
#pragma once

#include "lib/types.h"

void syscall();

uint64 argraw(int n);
int argint(int n);
uint64 argaddr(int n);
// Copy the n'th argument, a user string, into buf. Returns its length, or -1.
int argstr(int n, char *buf, int max);
// Fetch a uint64 / a string at a user address of the current process.
int fetchaddr(uint64 addr, uint64 *ip);
int fetchstr(uint64 addr, char *buf, int max);

// Handlers: each returns the value for a0 (-1 as uint64 on error).
// sys/sysproc.cpp
uint64 sys_fork();
uint64 sys_exit();
uint64 sys_wait();
uint64 sys_kill();
uint64 sys_getpid();
uint64 sys_sbrk();
uint64 sys_sleep();
uint64 sys_uptime();
uint64 sys_memstat();
uint64 sys_vmaudit();
uint64 sys_forkmode();
uint64 sys_shutdown();
uint64 sys_vmmap();
uint64 sys_faultinject(); // testing only (number 30, outside the table)
// sys/sysfile.cpp
uint64 sys_pipe();
uint64 sys_read();
uint64 sys_write();
uint64 sys_close();
uint64 sys_exec();
uint64 sys_fstat();
uint64 sys_chdir();
uint64 sys_dup();
uint64 sys_open();
uint64 sys_mknod();
uint64 sys_unlink();
uint64 sys_link();
uint64 sys_mkdir();
uint64 sys_mmap();
uint64 sys_munmap();
uint64 sys_mprotect();

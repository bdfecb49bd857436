// System call numbers. 1..21 are xv6-riscv's and never change; cowix's own
// calls follow.
#pragma once

#define SYS_fork 1
#define SYS_exit 2
#define SYS_wait 3
#define SYS_pipe 4
#define SYS_read 5
#define SYS_kill 6
#define SYS_exec 7
#define SYS_fstat 8
#define SYS_chdir 9
#define SYS_dup 10
#define SYS_getpid 11
#define SYS_sbrk 12
#define SYS_sleep 13
#define SYS_pause 13 // newer xv6-riscv's name for sleep
#define SYS_uptime 14
#define SYS_open 15
#define SYS_write 16
#define SYS_mknod 17
#define SYS_unlink 18
#define SYS_link 19
#define SYS_mkdir 20
#define SYS_close 21
// cowix additions
#define SYS_memstat 22  // int memstat(struct memstat*)
#define SYS_vmaudit 23  // int vmaudit(void): number of invariant violations
#define SYS_forkmode 24 // int forkmode(int mode): set fork strategy, returns old
#define SYS_shutdown 25 // void shutdown(int status): power off QEMU
#define SYS_mmap 26     // void *mmap(void*, size_t, int prot, int flags, int fd, off_t)
#define SYS_munmap 27   // int munmap(void*, size_t)
#define SYS_mprotect 28 // int mprotect(void*, size_t, int prot)
#define SYS_vmmap 29    // int vmmap(int pid, struct vmmap*, int max): list mappings
// Testing only: int faultinject(int what, int n). FAULT_FRAMES: the next n
// frame allocations succeed, all later ones fail, until n = -1 again.
// FAULT_DISK: the same for the file system disk's requests; returns how many
// requests failed by injection since the previous FAULT_DISK call.
// FAULT_SWAP: the same for the swap disk's requests (counted separately).
#define SYS_faultinject 30
#define FAULT_FRAMES 1
#define FAULT_DISK 2
#define FAULT_SWAP 4

// System limits. Values are xv6-riscv's or larger ("at least" semantics).
#pragma once

#define NPROC 64                  // maximum number of processes
#define NCPU 8                    // maximum number of CPUs (harts)
#define NOFILE 16                 // open files per process
#define NFILE 100                 // open files per system
#define NINODE 50                 // maximum number of active i-nodes
#define NDEV 10                   // maximum major device number
#define ROOTDEV 1                 // device number of file system root disk
#define MAXARG 32                 // max exec arguments
#define MAXOPBLOCKS 20            // max # of blocks any FS op writes (xv6: 10)
#define LOGSIZE (MAXOPBLOCKS * 3) // max data blocks in on-disk log
#define NBUF (MAXOPBLOCKS * 4)    // size of disk block cache (more than the log pins)
#define FSSIZE 100000             // size of file system in blocks (xv6: 2000)
#define MAXPATH 128               // maximum file path name
#define USERSTACK 1               // user stack pages

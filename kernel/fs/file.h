// Open files: what a file descriptor refers to.
//
// A File is shared by every descriptor dup()ed or fork()ed from the one
// open() or pipe() returned, so they share the offset. The system-wide table
// holds NFILE of them; `ref` counts the descriptors.
#pragma once

#include "kernel/param.h"
#include "lib/result.h"
#include "lib/types.h"

struct Inode;
struct Pipe;

struct File {
  enum class Type { None, Pipe, Inode, Device };
  Type type = Type::None;
  int ref = 0; // descriptors referring to this file (table spinlock)
  bool readable = false;
  bool writable = false;
  Pipe *pipe = nullptr; // Type::Pipe
  Inode *ip = nullptr;  // Type::Inode and Type::Device
  uint off = 0;         // Type::Inode: read/write offset (inode lock)
  short major = 0;      // Type::Device: index into devsw
  char name[16] = {};   // Type::Inode: the last element of the path opened (for pmap)
};

// The device switch: how reads and writes of a device file (T_DEVICE
// inode) reach its driver, indexed by major number. Drivers fill their entry
// at boot; the console is major CONSOLE.
struct Devsw {
  int (*read)(bool user_dst, uint64 dst, int n);
  int (*write)(bool user_src, uint64 src, int n);
};
extern Devsw devsw[NDEV];
constexpr int CONSOLE = 1;

void fileinit();
// A fresh File with ref 1 and type None, or nullptr if the table is full.
File *filealloc();
File *filedup(File *f);
// Drop a reference; the last one closes the pipe end or releases the inode.
void fileclose(File *f);
// Copy the file's struct stat to user address addr. Errors: Invalid (a
// pipe), IO, BadAddress.
Result<void> filestat(File *f, uint64 addr);
// Read up to n bytes to user address addr: the bytes read (0 at the end of
// the file; fewer than asked, as read() may). Errors: Invalid (not open
// for reading, n < 0), those of the pipe, driver or file system.
Result<uint> fileread(File *f, uint64 addr, int n);
// Write n bytes from user address addr: n. A write that stops part way is
// an error (as in xv6), though the bytes before the stop stay written.
// Errors: Invalid (not open for writing, n < 0), Killed, BadAddress, those
// of the pipe, driver or file system.
Result<uint> filewrite(File *f, uint64 addr, int n);

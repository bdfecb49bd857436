// Pipes: a one-page ring buffer between a writing and a reading File.
#pragma once

#include "lib/types.h"

struct File;
struct Pipe;

// Make a pipe and two Files for it: *f0 reads, *f1 writes. 0, or -1 if a
// page or a File could not be had (then nothing is left allocated).
int pipealloc(File **f0, File **f1);
// Close one end. The pipe is freed when both ends are closed.
void pipeclose(Pipe *pi, bool writable);
// Write n bytes from user address addr of the current process, sleeping
// while the pipe is full. Returns n, or -1 if the reader has gone or the
// process was killed (or the bytes written before a bad address).
int pipewrite(Pipe *pi, uint64 addr, int n);
// Read up to n bytes into user address addr, sleeping while the pipe is
// empty and a writer remains. Returns the bytes read (0 at end of file), or
// -1 if killed or addr is bad.
int piperead(Pipe *pi, uint64 addr, int n);

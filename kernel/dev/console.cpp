// Console device (major 1). Input is edited a line at a time:
//   backspace / DEL erase a character, ^U erases the line,
//   ^D ends the input (read returns what is there, or 0 = end of file),
//   ^P prints the process list.
// A reader sleeps until a whole line (or ^D) is available.
#include "dev/console.h"

#include "dev/uart.h"
#include "fs/file.h"
#include "lib/print.h"
#include "lib/spinlock.h"
#include "proc/proc.h"

namespace {

constexpr char ctrl(char c) { return c - '@'; }
constexpr char BACKSPACE = 0x7f;
constexpr int INPUT_BUF = 128;

struct Console {
  Spinlock lock{"console"};
  char buf[INPUT_BUF];
  uint r = 0; // read index
  uint w = 0; // write index: end of the lines handed to readers
  uint e = 0; // edit index: end of the line being typed
} cons;

// Echo to the screen; erase a character with backspace-space-backspace.
void echo(char c) {
  if (c == BACKSPACE) {
    uart_putc_sync('\b');
    uart_putc_sync(' ');
    uart_putc_sync('\b');
  } else {
    uart_putc_sync(c);
  }
}

int console_write(bool user_src, uint64 src, int n) {
  char chunk[64];
  int done = 0;
  while (done < n) {
    int m = n - done < static_cast<int>(sizeof chunk) ? n - done : static_cast<int>(sizeof chunk);
    if (either_copyin(chunk, user_src, src + done, m) < 0) break;
    for (int i = 0; i < m; i++) uart_putc_sync(chunk[i]);
    done += m;
  }
  return done;
}

int console_read(bool user_dst, uint64 dst, int n) {
  // Characters are taken under the console's lock into a small buffer and
  // copied out after it is released (copying may sleep).
  int target = n;
  char chunk[64];
  bool done = false;
  while (n > 0 && !done) {
    int got = 0;
    {
      SpinGuard g(cons.lock);
      while (cons.r == cons.w) {
        if (got > 0) break;
        if (killed(myproc())) return -1;
        sleep(&cons.r, cons.lock);
      }
      while (got < n && got < static_cast<int>(sizeof chunk) && cons.r != cons.w) {
        char c = cons.buf[cons.r++ % INPUT_BUF];
        if (c == ctrl('D')) {
          // End of file. If some bytes came before it, leave ^D for next
          // time so that read returns them now and 0 on the next call.
          if (got > 0 || n < target) cons.r--;
          done = true;
          break;
        }
        chunk[got++] = c;
        if (c == '\n') {
          done = true;
          break;
        }
      }
    }
    if (got > 0 && either_copyout(user_dst, dst, chunk, static_cast<uint64>(got)) < 0) break;
    dst += static_cast<uint64>(got);
    n -= got;
  }
  return target - n;
}

} // namespace

void console_intr(char c) {
  bool dump = false;
  {
    SpinGuard g(cons.lock);
    switch (c) {
    case ctrl('P'): dump = true; break;
    case ctrl('U'):
      while (cons.e != cons.w && cons.buf[(cons.e - 1) % INPUT_BUF] != '\n') {
        cons.e--;
        echo(BACKSPACE);
      }
      break;
    case ctrl('H'):
    case BACKSPACE:
      if (cons.e != cons.w) {
        cons.e--;
        echo(BACKSPACE);
      }
      break;
    default:
      if (c != 0 && cons.e - cons.r < INPUT_BUF) {
        c = (c == '\r') ? '\n' : c;
        if (c != ctrl('D')) echo(c);
        cons.buf[cons.e++ % INPUT_BUF] = c;
        if (c == '\n' || c == ctrl('D') || cons.e - cons.r == INPUT_BUF) {
          cons.w = cons.e;
          wakeup(&cons.r);
        }
      }
    }
  }
  if (dump) procdump();
}

void console_init() {
  uart_init();
  devsw[CONSOLE].read = console_read;
  devsw[CONSOLE].write = console_write;
}

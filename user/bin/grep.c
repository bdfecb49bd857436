// grep PATTERN [FILE...]: print the lines that match PATTERN.
//
// Patterns are a small regular-expression language: c matches itself,
// '.' any character, 'x*' zero or more x's, a leading '^' anchors at the
// start of the line and a trailing '$' at the end.
// Exit status: 0 if some line matched, 1 if none did, 2 on an error.
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "user/user.h"

static int match_here(const char *re, const char *text);

// Match c* followed by re at the start of text, trying the shortest run of
// c's first.
static int match_star(char c, const char *re, const char *text) {
  for (;;) {
    if (match_here(re, text))
      return 1;
    if (*text == 0 || (c != '.' && *text != c))
      return 0;
    text++;
  }
}

// Does re match at the start of text?
static int match_here(const char *re, const char *text) {
  for (;;) {
    if (re[0] == 0)
      return 1;
    if (re[1] == '*')
      return match_star(re[0], re + 2, text);
    if (re[0] == '$' && re[1] == 0)
      return *text == 0;
    if (*text == 0 || (re[0] != '.' && re[0] != *text))
      return 0;
    re++;
    text++;
  }
}

// Does re match anywhere in text?
static int match(const char *re, const char *text) {
  if (re[0] == '^')
    return match_here(re + 1, text);
  for (;; text++) {
    if (match_here(re, text))
      return 1;
    if (*text == 0)
      return 0;
  }
}

static char buf[1024];
static int matched;

// Print the matching lines of fd. A line longer than the buffer is
// matched in buffer-sized pieces.
static int grep(const char *re, int fd) {
  int len = 0, n;
  while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0) {
    len += n;
    char *line = buf, *nl;
    buf[len] = 0;
    while ((nl = strchr(line, '\n')) != 0) {
      *nl = 0;
      if (match(re, line)) {
        *nl = '\n';
        write(1, line, nl + 1 - line);
        matched = 1;
      }
      line = nl + 1;
    }
    len -= line - buf;
    if (len == (int)sizeof(buf) - 1) {
      // No newline in a full buffer: treat it as a line.
      if (match(re, buf)) {
        fprintf(1, "%s\n", buf);
        matched = 1;
      }
      len = 0;
    } else if (len > 0) {
      memmove(buf, line, len);
    }
  }
  if (len > 0) { // last line without a newline
    buf[len] = 0;
    if (match(re, buf)) {
      fprintf(1, "%s\n", buf);
      matched = 1;
    }
  }
  if (n < 0) {
    fprintf(2, "grep: read error\n");
    return -1;
  }
  return 0;
}

int main(int argc, char *argv[]) {
  if (argc < 2) {
    fprintf(2, "usage: grep pattern [file ...]\n");
    return 2;
  }
  const char *re = argv[1];
  if (argc == 2)
    return grep(re, 0) < 0 ? 2 : !matched;
  int error = 0;
  for (int i = 2; i < argc; i++) {
    int fd = open(argv[i], O_RDONLY);
    if (fd < 0) {
      fprintf(2, "grep: cannot open %s\n", argv[i]);
      error = 1;
      continue;
    }
    if (grep(re, fd) < 0)
      error = 1;
    close(fd);
  }
  return error ? 2 : !matched;
}

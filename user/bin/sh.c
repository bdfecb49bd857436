// sh: the shell.
//
//   sh              read commands from standard input ("$ " prompt when it
//                   is the console)
//   sh FILE         read commands from FILE
//   sh -c LINE      run one command line
//
// Grammar (one line):
//   list      := [pipeline] { (';' | '&' | newline) [pipeline] }
//   pipeline  := command { '|' command }
//   command   := '(' list ')' {redir} | {word | redir}
//   redir     := ('<' | '>' | '>>') word
// Words may contain '...' (taken literally), "..." (where \" and \\ are
// escapes) and \c; '#' at the start of a word begins a comment. Builtins:
// cd [dir], exit [status].
//
// Exit statuses propagate: a command's status is what wait() reports for
// it, a pipeline's is its last stage's, a list's is its last command's,
// '&' and an empty line leave 0 and the previous status. The shell exits
// with the status of the last command it ran. A program that cannot be
// executed gives status 127.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "kernel/param.h"
#include "user/user.h"

#define MAXLINE 1024
#define NCMD 100 // command nodes per line

// ---------------------------------------------------------------- parse tree

enum { EXEC = 1, REDIR, PIPE, LIST, BACK, SUBSHELL };

struct cmd {
  int type;
  struct cmd *left;  // PIPE, LIST: first part; REDIR, BACK, SUBSHELL: the command
  struct cmd *right; // PIPE, LIST: the rest (right-nested chains)
  // EXEC
  int argc;
  char *argv[MAXARG + 1];
  // REDIR
  char *file;
  int fd;     // descriptor to redirect: 0 or 1
  int mode;   // open() flags
  int append; // '>>': write at the end of the file
};

// Storage for one line's parse: nodes and the words' text. The line
// itself is never modified (it may be an argv string).
static struct cmd cmds[NCMD];
static int ncmds;
static char text[2 * MAXLINE];
static int ntext;

// ---------------------------------------------------------------- lexer

enum { T_END, T_WORD, T_PIPE, T_LT, T_GT, T_GTGT, T_SEP, T_AMP, T_LPAREN, T_RPAREN };

static const char *src;   // next unread character of the line
static int tok;           // current token
static char *word;        // its text, when tok == T_WORD
static const char *error; // first syntax error of the line, or 0

// Record a syntax error and make every further token T_END, so the parser
// unwinds quickly.
static struct cmd *syntax(const char *msg) {
  if (error == 0)
    error = msg;
  src = "";
  tok = T_END;
  return 0;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v'; }

static int is_special(char c) { return c != 0 && strchr("|<>;&()\n", c) != 0; }

static void put_text(char c) {
  if (ntext < (int)sizeof(text))
    text[ntext++] = c;
  else
    syntax("line too long");
}

// Read the next token into tok (and word).
static void advance(void) {
  for (;;) {
    while (is_blank(*src))
      src++;
    if (*src != '#')
      break;
    while (*src && *src != '\n')
      src++;
  }
  char c = *src;
  if (c == 0) {
    tok = T_END;
    return;
  }
  if (is_special(c)) {
    src++;
    switch (c) {
    case '|': tok = T_PIPE; break;
    case '<': tok = T_LT; break;
    case '>':
      tok = T_GT;
      if (*src == '>') {
        src++;
        tok = T_GTGT;
      }
      break;
    case '&': tok = T_AMP; break;
    case '(': tok = T_LPAREN; break;
    case ')': tok = T_RPAREN; break;
    default: tok = T_SEP; break; // ';' or newline
    }
    return;
  }

  // A word runs up to a blank or special character outside quotes.
  word = text + ntext;
  while ((c = *src) != 0 && !is_blank(c) && !is_special(c)) {
    src++;
    if (c == '\'') {
      while (*src && *src != '\'')
        put_text(*src++);
      if (*src++ != '\'') {
        syntax("unterminated '");
        return;
      }
    } else if (c == '"') {
      while (*src && *src != '"') {
        if (*src == '\\' && (src[1] == '"' || src[1] == '\\'))
          src++;
        put_text(*src++);
      }
      if (*src++ != '"') {
        syntax("unterminated \"");
        return;
      }
    } else if (c == '\\' && *src) {
      put_text(*src++);
    } else {
      put_text(c);
    }
  }
  put_text(0);
  if (error == 0)
    tok = T_WORD;
}

// ---------------------------------------------------------------- parser

static struct cmd *node(int type, struct cmd *left, struct cmd *right) {
  static struct cmd spare; // handed out after an overflow; never run
  struct cmd *c;
  if (ncmds < NCMD) {
    c = &cmds[ncmds++];
  } else {
    syntax("line too long");
    c = &spare;
  }
  memset(c, 0, sizeof(*c));
  c->type = type;
  c->left = left;
  c->right = right;
  return c;
}

static int starts_command(int t) {
  return t == T_WORD || t == T_LPAREN || t == T_LT || t == T_GT || t == T_GTGT;
}

static struct cmd *parse_list(void);

// Words (when exec is not null) and redirections after a command; each
// redirection wraps the command built so far.
static struct cmd *parse_redirs(struct cmd *c, struct cmd *exec) {
  for (;;) {
    if (tok == T_WORD && exec) {
      if (exec->argc == MAXARG)
        return syntax("too many arguments");
      exec->argv[exec->argc++] = word;
      advance();
      continue;
    }
    if (tok != T_LT && tok != T_GT && tok != T_GTGT)
      return c;
    int op = tok;
    advance();
    if (tok != T_WORD)
      return syntax("missing file name after < or >");
    struct cmd *r = node(REDIR, c, 0);
    r->file = word;
    r->fd = op == T_LT ? 0 : 1;
    r->mode = op == T_LT ? O_RDONLY : op == T_GT ? O_WRONLY | O_CREATE | O_TRUNC : O_RDWR | O_CREATE;
    r->append = op == T_GTGT;
    c = r;
    advance();
  }
}

static struct cmd *parse_command(void) {
  if (tok != T_LPAREN) {
    struct cmd *exec = node(EXEC, 0, 0);
    return parse_redirs(exec, exec);
  }
  advance();
  struct cmd *inner = parse_list();
  if (tok != T_RPAREN)
    return syntax("missing )");
  if (inner == 0)
    return syntax("empty ( )");
  advance();
  return parse_redirs(node(SUBSHELL, inner, 0), 0);
}

static struct cmd *parse_pipeline(void) {
  struct cmd *c = parse_command();
  struct cmd *last = 0; // PIPE node whose right is the newest stage
  while (tok == T_PIPE) {
    advance();
    if (!starts_command(tok))
      return syntax("missing command after |");
    struct cmd *next = parse_command();
    if (last == 0) {
      c = last = node(PIPE, c, next);
    } else {
      last->right = node(PIPE, last->right, next);
      last = last->right;
    }
  }
  return c;
}

// Returns 0 for an empty list.
static struct cmd *parse_list(void) {
  struct cmd *list = 0, *last = 0; // last: LIST node whose right is the newest item
  for (;;) {
    struct cmd *item = starts_command(tok) ? parse_pipeline() : 0;
    int sep = tok;
    if (sep == T_AMP) {
      if (item == 0)
        return syntax("missing command before &");
      item = node(BACK, item, 0);
    }
    if (item != 0) {
      if (list == 0) {
        list = item;
      } else if (last == 0) {
        list = last = node(LIST, list, item);
      } else {
        last->right = node(LIST, last->right, item);
        last = last->right;
      }
    }
    if (sep != T_AMP && sep != T_SEP)
      return list;
    advance();
  }
}

// ---------------------------------------------------------------- execution

static int eval(struct cmd *c);

// Wait for child pid, reaping finished background jobs met on the way.
static int wait_for(int pid) {
  for (;;) {
    int status;
    int w = wait(&status);
    if (w == pid)
      return status;
    if (w < 0)
      return -1;
  }
}

static int fork_or_complain(void) {
  int pid = fork();
  if (pid < 0)
    fprintf(2, "sh: fork failed\n");
  return pid;
}

// cd and exit. Returns 1 (and sets *status) if c is one of them.
static int builtin(struct cmd *c, int *status) {
  if (c->type != EXEC || c->argc == 0)
    return 0;
  if (strcmp(c->argv[0], "cd") == 0) {
    const char *dir = c->argc > 1 ? c->argv[1] : "/";
    *status = 0;
    if (chdir(dir) < 0) {
      fprintf(2, "cannot cd %s\n", dir);
      *status = 1;
    }
    return 1;
  }
  if (strcmp(c->argv[0], "exit") == 0)
    exit(c->argc > 1 ? atoi(c->argv[1]) : *status);
  return 0;
}

static void exec_program(char **argv) {
  exec(argv[0], argv);
  // Not found relative to the current directory: try the root, where all
  // programs live.
  if (strchr(argv[0], '/') == 0 && strlen(argv[0]) + 2 <= MAXPATH) {
    char path[MAXPATH];
    path[0] = '/';
    strcpy(path + 1, argv[0]);
    exec(path, argv);
  }
  fprintf(2, "exec %s failed\n", argv[0]);
  exit(127);
}

static char skip[512];

static void redirect(struct cmd *c) {
  close(c->fd);
  int fd = open(c->file, c->mode);
  if (fd < 0) {
    fprintf(2, "sh: cannot open %s\n", c->file);
    exit(1);
  }
  if (fd != c->fd) { // some lower descriptor was closed
    fprintf(2, "sh: cannot redirect to fd %d\n", c->fd);
    exit(1);
  }
  if (c->append) {
    // No lseek or O_APPEND: move the offset to the end by reading.
    while (read(fd, skip, sizeof(skip)) > 0)
      ;
  }
}

// Run c in this process, which is a child of the shell, and exit.
static void run(struct cmd *c) __attribute__((noreturn));
static void run(struct cmd *c) {
  int status = 0;
  switch (c->type) {
  case EXEC:
    if (c->argc == 0) // only redirections
      exit(0);
    if (builtin(c, &status))
      exit(status);
    exec_program(c->argv);
    break;
  case REDIR:
    redirect(c);
    run(c->left);
    break;
  case SUBSHELL:
    exit(eval(c->left));
  default:
    exit(eval(c));
  }
  exit(1);
}

// Run a pipeline: every stage in its own child, connected by pipes. Waits
// for all stages; the status is the last one's.
static int eval_pipe(struct cmd *c) {
  static int pids[NPROC];
  int nstages = 0, in = -1, last_pid = -1;
  for (;;) {
    struct cmd *stage = c->type == PIPE ? c->left : c;
    int is_last = c->type != PIPE;
    int p[2];
    if (!is_last && pipe(p) < 0) {
      fprintf(2, "sh: pipe failed\n");
      break;
    }
    int pid = nstages < NPROC ? fork_or_complain() : -1;
    if (pid == 0) {
      if (in >= 0) {
        close(0);
        dup(in);
        close(in);
      }
      if (!is_last) {
        close(1);
        dup(p[1]);
        close(p[0]);
        close(p[1]);
      }
      run(stage);
    }
    if (in >= 0)
      close(in);
    in = -1;
    if (!is_last) {
      close(p[1]);
      in = p[0];
    }
    if (pid < 0)
      break;
    pids[nstages++] = pid;
    if (is_last) {
      last_pid = pid;
      break;
    }
    c = c->right;
  }
  if (in >= 0)
    close(in);

  int status = 1; // stays 1 if the pipeline could not be started
  while (nstages > 0) {
    int st, w = wait(&st);
    if (w < 0)
      break;
    for (int i = 0; i < nstages; i++) {
      if (pids[i] == w) {
        pids[i] = pids[--nstages];
        break;
      }
    }
    if (w == last_pid)
      status = st;
  }
  return status;
}

// Run c from the shell process itself and return its status.
static int eval(struct cmd *c) {
  int status = 0;
  while (c->type == LIST) {
    eval(c->left);
    c = c->right;
  }
  if (builtin(c, &status))
    return status;
  if (c->type == PIPE)
    return eval_pipe(c);
  int pid = fork_or_complain();
  if (pid < 0)
    return 1;
  if (pid == 0)
    run(c->type == BACK ? c->left : c);
  if (c->type == BACK)
    return 0;
  return wait_for(pid);
}

// ---------------------------------------------------------------- main loop

static int status; // of the last command

static void run_line(const char *line) {
  ncmds = 0;
  ntext = 0;
  error = 0;
  src = line;
  advance();
  struct cmd *c = parse_list();
  if (error == 0 && tok != T_END)
    syntax("unexpected token");
  if (error != 0) {
    fprintf(2, "sh: syntax error: %s\n", error);
    status = 2;
    return;
  }
  if (c != 0)
    status = eval(c);
}

static char line[MAXLINE];

// Read one line (without its newline) from fd. Returns 1 for a line, -1
// for one too long (skipped), 0 at end of input. Reads a byte at a time so
// that commands get the rest of the input.
static int read_line(int fd) {
  int n = 0, got = 0, too_long = 0;
  char c;
  while (read(fd, &c, 1) == 1) {
    got = 1;
    if (c == '\n')
      break;
    if (n + 1 < (int)sizeof(line))
      line[n++] = c;
    else
      too_long = 1;
  }
  line[n] = 0;
  if (!got)
    return 0;
  return too_long ? -1 : 1;
}

int main(int argc, char *argv[]) {
  // Make sure descriptors 0, 1 and 2 are open.
  int fd;
  while ((fd = open("/console", O_RDWR)) >= 0) {
    if (fd >= 3) {
      close(fd);
      break;
    }
  }

  if (argc >= 2 && strcmp(argv[1], "-c") == 0) {
    if (argc < 3) {
      fprintf(2, "usage: sh -c line\n");
      return 2;
    }
    run_line(argv[2]);
    return status;
  }

  int interactive = 0;
  if (argc >= 2) {
    fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
      fprintf(2, "sh: cannot open %s\n", argv[1]);
      return 1;
    }
  } else {
    struct stat st;
    fd = 0;
    interactive = fstat(0, &st) == 0 && st.type == T_DEVICE;
  }

  for (;;) {
    if (interactive)
      write(2, "$ ", 2);
    int r = read_line(fd);
    if (r == 0)
      break;
    if (r < 0) {
      fprintf(2, "sh: line too long\n");
      status = 2;
      continue;
    }
    run_line(line);
  }
  return interactive ? 0 : status;
}

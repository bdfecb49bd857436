// ls: list files. For each argument (default "."): a directory lists its
// entries, anything else lists itself. Each line shows name, type, inode
// number and size, as xv6's ls does.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "kernel/fs.h"
#include "kernel/param.h"
#include "user/user.h"

static void show(const char *name, struct stat *st) {
  printf("%-14s %d %u %lu\n", name, st->type, st->ino, st->size);
}

// The last component of path.
static const char *basename(const char *path) {
  const char *p = path + strlen(path);
  while (p > path && p[-1] == '/')
    p--; // ignore trailing slashes
  const char *end = p;
  while (p > path && p[-1] != '/')
    p--;
  return p == end ? path : p;
}

static int ls(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    fprintf(2, "ls: cannot open %s\n", path);
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) < 0) {
    fprintf(2, "ls: cannot stat %s\n", path);
    close(fd);
    return -1;
  }
  if (st.type != T_DIR) {
    show(basename(path), &st);
    close(fd);
    return 0;
  }

  // A directory: read its entries and stat each as path/name.
  char buf[MAXPATH + DIRSIZ + 2];
  int len = strlen(path);
  if (len + 1 + DIRSIZ + 1 > (int)sizeof(buf)) {
    fprintf(2, "ls: path too long\n");
    close(fd);
    return -1;
  }
  strcpy(buf, path);
  if (len == 0 || buf[len - 1] != '/')
    buf[len++] = '/';
  struct dirent de;
  int status = 0;
  while (read(fd, &de, sizeof(de)) == sizeof(de)) {
    if (de.inum == 0)
      continue; // free slot
    memmove(buf + len, de.name, DIRSIZ);
    buf[len + DIRSIZ] = 0; // names of exactly DIRSIZ bytes lack a NUL
    struct stat est;
    if (stat(buf, &est) < 0) {
      fprintf(2, "ls: cannot stat %s\n", buf);
      status = -1;
      continue;
    }
    show(buf + len, &est);
  }
  close(fd);
  return status;
}

int main(int argc, char *argv[]) {
  if (argc < 2)
    return ls(".") < 0 ? 1 : 0;
  int status = 0;
  for (int i = 1; i < argc; i++) {
    if (ls(argv[i]) < 0)
      status = 1;
  }
  return status;
}

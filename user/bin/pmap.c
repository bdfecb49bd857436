// pmap: print the mappings of a process (vmmap), one line each.
//
//   pmap [PID]      (no PID: pmap's own mappings)
//
// A line: the range [start, end), the protection as rwx and p (private) or
// s (shared), the size and the resident, shared and private pages (shared:
// also mapped elsewhere, or in the page cache; private: this mapping's
// alone), then the kind: anon, file NAME, text NAME, data NAME, heap, stack.
// The last line adds the columns up.
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "kernel/memstat.h"
#include "user/user.h"

#define MAXMAPS 1024
static struct vmmap maps[MAXMAPS];

static const char *kind_name(int kind) {
  switch (kind) {
  case VMMAP_ANON: return "anon";
  case VMMAP_FILE: return "file";
  case VMMAP_TEXT: return "text";
  case VMMAP_DATA: return "data";
  case VMMAP_STACK: return "stack";
  case VMMAP_HEAP: return "heap";
  }
  return "?";
}

int main(int argc, char *argv[]) {
  if (argc > 2 || (argc == 2 && (argv[1][0] < '0' || argv[1][0] > '9'))) {
    fprintf(2, "usage: pmap [pid]\n");
    return 2;
  }
  int pid = argc == 2 ? atoi(argv[1]) : getpid();
  int n = vmmap(pid, maps, MAXMAPS);
  if (n < 0) {
    fprintf(2, "pmap: %d: no such process\n", pid);
    return 1;
  }
  printf("pmap: pid %d, %d mappings\n", pid, n);
  printf("%-21s %-4s %7s %8s %7s %7s %7s  %s\n", "range", "perm", "pages", "resident", "shared",
         "private", "swapped", "kind");
  uint64 pages = 0, resident = 0, shared = 0, priv = 0, swapped = 0;
  int shown = n < MAXMAPS ? n : MAXMAPS;
  for (int i = 0; i < shown; i++) {
    struct vmmap *m = &maps[i];
    char perm[5] = {m->prot & PROT_READ ? 'r' : '-', m->prot & PROT_WRITE ? 'w' : '-',
                    m->prot & PROT_EXEC ? 'x' : '-', m->flags & MAP_SHARED ? 's' : 'p', 0};
    uint64 np = (m->end - m->start) / 4096;
    printf("%010lx-%010lx %s %7lu %8lu %7lu %7lu %7lu  %s", m->start, m->end, perm, np, m->resident,
           m->shared, m->private_, m->swapped, kind_name(m->kind));
    if (m->name[0] && (m->kind == VMMAP_FILE || m->kind == VMMAP_TEXT || m->kind == VMMAP_DATA)) {
      char name[sizeof m->name + 1];
      memmove(name, m->name, sizeof m->name);
      name[sizeof m->name] = 0;
      printf(" %s", name);
      if (m->kind == VMMAP_FILE && m->offset) printf("+0x%lx", m->offset);
    } else if (m->kind == VMMAP_FILE) {
      printf(" inode %d", m->inum);
    }
    printf("\n");
    pages += np;
    resident += m->resident;
    shared += m->shared;
    priv += m->private_;
    swapped += m->swapped;
  }
  if (shown < n) printf("(%d more mappings not shown)\n", n - shown);
  printf("%-26s %7lu %8lu %7lu %7lu %7lu  (%lu KiB mapped, %lu KiB resident, %lu KiB in swap)\n",
         "total", pages, resident, shared, priv, swapped, pages * 4, resident * 4, swapped * 4);
  return 0;
}

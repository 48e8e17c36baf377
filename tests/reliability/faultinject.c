/* faultinject: an LD_PRELOAD shim that counts the write and durability
 * boundaries a process crosses on the files under one directory, and
 * SIGKILLs the process at the Nth one (before the call runs).
 *
 * Boundaries: write, pwrite(64), writev, pwritev(64), pwritev2 and
 * ftruncate on a descriptor whose file is under the directory (resolved
 * through /proc/self/fd), fsync and fdatasync on such a descriptor, msync
 * of a range mapped from such a file, rename/renameat/renameat2 with either
 * path under it. Calls that libc makes internally (stdio's fwrite) are not
 * seen; the node and the storage plugins write with these calls or GIO's
 * streams, which make them.
 *
 * Environment:
 *   CAIRN_FAULT_DIR    the directory (required; the shim is inert without)
 *   CAIRN_FAULT_AT=N   SIGKILL the process just before boundary N (1-based)
 *   CAIRN_FAULT_COUNT=1  count only; the total is reported at exit
 *   CAIRN_FAULT_LOG=F  append one line per report or kill to file F
 *   CAIRN_FAULT_TRACE=1  also log every boundary (call and path) to F
 *
 * Report lines: "count N" at exit (a normal exit, e.g. after SIGTERM),
 * "kill N CALL PATH" just before the kill. */
/* Both the plain and the 64 names are defined here: no header renaming. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static char fault_dir[PATH_MAX];
static size_t fault_dir_len;
static long fault_at;
static int fault_trace;
static int log_fd = -1;
static int ready; /* 1: configured and active */
static unsigned long counter;
static pthread_once_t once = PTHREAD_ONCE_INIT;

#define MAX_MAPS 256
static struct {
  char *addr;
  size_t len;
} maps[MAX_MAPS];
static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;

/* The real functions, looked up once. */
#define REAL(name) real_##name
static ssize_t (*REAL (write)) (int, const void *, size_t);
static ssize_t (*REAL (pwrite)) (int, const void *, size_t, off_t);
static ssize_t (*REAL (pwrite64)) (int, const void *, size_t, off_t);
static ssize_t (*REAL (writev)) (int, const struct iovec *, int);
static ssize_t (*REAL (pwritev)) (int, const struct iovec *, int, off_t);
static ssize_t (*REAL (pwritev64)) (int, const struct iovec *, int, off_t);
static ssize_t (*REAL (pwritev2)) (int, const struct iovec *, int, off_t, int);
static int (*REAL (ftruncate)) (int, off_t);
static int (*REAL (fsync)) (int);
static int (*REAL (fdatasync)) (int);
static int (*REAL (msync)) (void *, size_t, int);
static int (*REAL (rename)) (const char *, const char *);
static int (*REAL (renameat)) (int, const char *, int, const char *);
static int (*REAL (renameat2)) (int, const char *, int, const char *, unsigned);
static void *(*REAL (mmap)) (void *, size_t, int, int, int, off_t);
static void *(*REAL (mmap64)) (void *, size_t, int, int, int, off_t);
static int (*REAL (munmap)) (void *, size_t);

static void
raw_log (const char *fmt, ...)
{
  if (log_fd < 0)
    return;
  char buf[PATH_MAX + 128];
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  if (n < 0)
    return;
  if ((size_t)n >= sizeof buf)
    n = sizeof buf - 1;
  /* The raw syscall: never a boundary, never re-entering the shim. */
  (void)!syscall (SYS_write, log_fd, buf, (size_t)n);
}

static void
lookup_all (void)
{
#define LOOKUP(name) REAL (name) = dlsym (RTLD_NEXT, #name)
  LOOKUP (write);
  LOOKUP (pwrite);
  LOOKUP (pwrite64);
  LOOKUP (writev);
  LOOKUP (pwritev);
  LOOKUP (pwritev64);
  LOOKUP (pwritev2);
  LOOKUP (ftruncate);
  LOOKUP (fsync);
  LOOKUP (fdatasync);
  LOOKUP (msync);
  LOOKUP (rename);
  LOOKUP (renameat);
  LOOKUP (renameat2);
  LOOKUP (mmap);
  LOOKUP (mmap64);
  LOOKUP (munmap);
#undef LOOKUP
}

/* The configuration, read once by the constructor: a wrapper can run
 * before it (under ASan, the runtime's own start-up calls reach the shim
 * before libc has the environment), and then only passes the call on. */
static void
setup (void)
{
  const char *dir = getenv ("CAIRN_FAULT_DIR");
  const char *log = getenv ("CAIRN_FAULT_LOG");
  const char *at = getenv ("CAIRN_FAULT_AT");
  const char *count = getenv ("CAIRN_FAULT_COUNT");
  const char *trace = getenv ("CAIRN_FAULT_TRACE");
  if (log && *log)
    log_fd = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (dir == NULL || *dir == '\0')
    return;
  /* The directory may not exist yet: keep it as given (absolute). */
  if (dir[0] != '/' || strlen (dir) >= sizeof fault_dir - 1) {
    raw_log ("error CAIRN_FAULT_DIR must be an absolute path\n");
    return;
  }
  strcpy (fault_dir, dir);
  fault_dir_len = strlen (fault_dir);
  while (fault_dir_len > 1 && fault_dir[fault_dir_len - 1] == '/')
    fault_dir[--fault_dir_len] = '\0';
  fault_at = at ? strtol (at, NULL, 10) : 0;
  fault_trace = trace && *trace == '1';
  ready = fault_at > 0 || (count && *count == '1');
}

static pthread_once_t syms_once = PTHREAD_ONCE_INIT;

/* The real functions; safe at any time. */
static void
init (void)
{
  pthread_once (&syms_once, lookup_all);
}

__attribute__ ((constructor)) static void
faultinject_ctor (void)
{
  init ();
  pthread_once (&once, setup);
}

__attribute__ ((destructor)) static void
faultinject_dtor (void)
{
  if (ready)
    raw_log ("count %lu\n", __atomic_load_n (&counter, __ATOMIC_SEQ_CST));
}

static int
under_dir (const char *path)
{
  return strncmp (path, fault_dir, fault_dir_len) == 0
         && (path[fault_dir_len] == '/' || path[fault_dir_len] == '\0');
}

static int
fd_path (int fd, char *out, size_t size)
{
  char link[64];
  snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink (link, out, size - 1);
  if (n < 0)
    return 0;
  out[n] = '\0';
  return 1;
}

/* Count one boundary; kill before it when it is the chosen one. */
static void
boundary (const char *call, const char *path)
{
  unsigned long n = __atomic_add_fetch (&counter, 1, __ATOMIC_SEQ_CST);
  if (fault_trace)
    raw_log ("at %lu %s %s\n", n, call, path);
  if (fault_at > 0 && n == (unsigned long)fault_at) {
    raw_log ("kill %lu %s %s\n", n, call, path);
    kill (getpid (), SIGKILL);
    for (;;)
      pause ();
  }
}

static void
fd_boundary (const char *call, int fd)
{
  init ();
  if (!ready)
    return;
  char path[PATH_MAX];
  if (fd_path (fd, path, sizeof path) && under_dir (path))
    boundary (call, path);
}

/* A relative path (or one relative to dirfd) made absolute. */
static int
abs_path (int dirfd, const char *path, char *out, size_t size)
{
  if (path == NULL)
    return 0;
  if (path[0] == '/') {
    snprintf (out, size, "%s", path);
    return 1;
  }
  char base[PATH_MAX];
  if (dirfd == AT_FDCWD) {
    if (getcwd (base, sizeof base) == NULL)
      return 0;
  } else if (!fd_path (dirfd, base, sizeof base)) {
    return 0;
  }
  return snprintf (out, size, "%s/%s", base, path) < (int)size;
}

static void
rename_boundary (const char *call, int olddirfd, const char *oldpath,
                 int newdirfd, const char *newpath)
{
  init ();
  if (!ready)
    return;
  char a[PATH_MAX], b[PATH_MAX];
  int in_a = abs_path (olddirfd, oldpath, a, sizeof a) && under_dir (a);
  int in_b = abs_path (newdirfd, newpath, b, sizeof b) && under_dir (b);
  if (in_a || in_b)
    boundary (call, in_b ? b : a);
}

static void
map_add (void *addr, size_t len, int fd)
{
  if (addr == MAP_FAILED || fd < 0 || !ready)
    return;
  char path[PATH_MAX];
  if (!fd_path (fd, path, sizeof path) || !under_dir (path))
    return;
  pthread_mutex_lock (&maps_lock);
  for (int i = 0; i < MAX_MAPS; i++)
    if (maps[i].addr == NULL) {
      maps[i].addr = addr;
      maps[i].len = len;
      break;
    }
  pthread_mutex_unlock (&maps_lock);
}

static int
map_covers (const void *addr)
{
  int hit = 0;
  pthread_mutex_lock (&maps_lock);
  for (int i = 0; i < MAX_MAPS && !hit; i++)
    hit = maps[i].addr != NULL && (const char *)addr >= maps[i].addr
          && (const char *)addr < maps[i].addr + maps[i].len;
  pthread_mutex_unlock (&maps_lock);
  return hit;
}

/* ---- the wrappers -------------------------------------------------------- */

ssize_t
write (int fd, const void *buf, size_t n)
{
  fd_boundary ("write", fd);
  return REAL (write) (fd, buf, n);
}

ssize_t
pwrite (int fd, const void *buf, size_t n, off_t off)
{
  fd_boundary ("pwrite", fd);
  return REAL (pwrite) (fd, buf, n, off);
}

ssize_t
pwrite64 (int fd, const void *buf, size_t n, off_t off)
{
  fd_boundary ("pwrite64", fd);
  return REAL (pwrite64) (fd, buf, n, off);
}

ssize_t
writev (int fd, const struct iovec *iov, int cnt)
{
  fd_boundary ("writev", fd);
  return REAL (writev) (fd, iov, cnt);
}

ssize_t
pwritev (int fd, const struct iovec *iov, int cnt, off_t off)
{
  fd_boundary ("pwritev", fd);
  return REAL (pwritev) (fd, iov, cnt, off);
}

ssize_t
pwritev64 (int fd, const struct iovec *iov, int cnt, off_t off)
{
  fd_boundary ("pwritev64", fd);
  return REAL (pwritev64) (fd, iov, cnt, off);
}

ssize_t
pwritev2 (int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
  fd_boundary ("pwritev2", fd);
  return REAL (pwritev2) (fd, iov, cnt, off, flags);
}

int
ftruncate (int fd, off_t len)
{
  fd_boundary ("ftruncate", fd);
  return REAL (ftruncate) (fd, len);
}

int
fsync (int fd)
{
  fd_boundary ("fsync", fd);
  return REAL (fsync) (fd);
}

int
fdatasync (int fd)
{
  fd_boundary ("fdatasync", fd);
  return REAL (fdatasync) (fd);
}

int
msync (void *addr, size_t len, int flags)
{
  init ();
  if (ready && map_covers (addr))
    boundary ("msync", fault_dir);
  return REAL (msync) (addr, len, flags);
}

void *
mmap (void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
  init ();
  void *p = REAL (mmap) (addr, len, prot, flags, fd, off);
  if (flags & MAP_SHARED)
    map_add (p, len, fd);
  return p;
}

void *
mmap64 (void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
  init ();
  void *p = REAL (mmap64) (addr, len, prot, flags, fd, off);
  if (flags & MAP_SHARED)
    map_add (p, len, fd);
  return p;
}

int
munmap (void *addr, size_t len)
{
  init ();
  pthread_mutex_lock (&maps_lock);
  for (int i = 0; i < MAX_MAPS; i++)
    if (maps[i].addr == addr)
      maps[i].addr = NULL;
  pthread_mutex_unlock (&maps_lock);
  return REAL (munmap) (addr, len);
}

int
rename (const char *oldpath, const char *newpath)
{
  rename_boundary ("rename", AT_FDCWD, oldpath, AT_FDCWD, newpath);
  return REAL (rename) (oldpath, newpath);
}

int
renameat (int od, const char *oldpath, int nd, const char *newpath)
{
  rename_boundary ("renameat", od, oldpath, nd, newpath);
  return REAL (renameat) (od, oldpath, nd, newpath);
}

int
renameat2 (int od, const char *oldpath, int nd, const char *newpath,
           unsigned flags)
{
  rename_boundary ("renameat2", od, oldpath, nd, newpath);
  return REAL (renameat2) (od, oldpath, nd, newpath, flags);
}

/* Process facts read from /proc: resident memory, threads, file descriptors
 * by kind. Uses raw system calls only (no opendir, no stdio), so it is safe
 * where malloc is interposed. */
#ifndef LT_PROCFS_H
#define LT_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum lt_fd_kind {
    LT_FD_FILE = 0,             /* a regular file or directory */
    LT_FD_SOCKET,
    LT_FD_PIPE,
    LT_FD_ANON_INODE,           /* eventfd, epoll, signalfd, timerfd, ... */
    LT_FD_OTHER,                /* devices, ttys, memfds, anything else */
    LT_FD_KIND_COUNT
} lt_fd_kind_t;

/* Returns "file", "socket", "pipe", "anon_inode" or "other". */
const char *lt_fd_kind_name(lt_fd_kind_t kind);
/* Classifies the target of /proc/PID/fd/N as readlink gives it. */
lt_fd_kind_t lt_fd_kind_of(const char *target);

typedef struct lt_proc_facts {
    uint64_t rss_bytes;         /* resident set size */
    uint64_t vm_bytes;          /* virtual size */
    uint64_t threads;           /* OS threads */
    uint64_t fds;               /* open descriptors */
    uint64_t fds_by_kind[LT_FD_KIND_COUNT];
} lt_proc_facts_t;

/* Reads the facts of process `pid` (0 for this process). Returns 0,
 * LT_ENOENT when there is no such process, LT_EACCES when its /proc entries
 * are not ours to read, LT_EFORMAT or LT_EIO on an unexpected /proc. *out is
 * fully written on success only. */
int lt_proc_read(pid_t pid, lt_proc_facts_t *out);

/* Calls fn(fd, kind, target, ctx) for each open descriptor of `pid` (0 for
 * this process). `target` is the readlink text, NUL-terminated, valid during
 * the call. A non-zero return from fn stops the walk and is returned.
 * Otherwise returns 0 or a negative LT_E code as lt_proc_read; LT_EACCES
 * also when the directory lists but its links are not ours to read (fn may
 * then have seen some descriptors already). */
typedef int (*lt_fd_visit_fn)(int fd, lt_fd_kind_t kind, const char *target, void *ctx);
int lt_proc_fd_foreach(pid_t pid, lt_fd_visit_fn fn, void *ctx);

#endif

/* The memory watcher behind `--memory-limit`: cheap polls of the process's
 * resident memory (/proc/self/statm) and, when the process sits in a memory
 * cgroup with a limit, of the cgroup's usage against that limit. Raw system
 * calls only (open, pread, close): no stdio, no malloc. */
#ifndef LT_MEMWATCH_H
#define LT_MEMWATCH_H

#include <stdint.h>

/* A cgroup is "near" its limit at this share of it, in percent: the kernel
 * reclaims page cache first, then OOM-kills, and the report needs headroom
 * to be written. */
#define LT_MEMWATCH_CGROUP_PERCENT 90

typedef enum lt_memwatch_hit {
    LT_MEMWATCH_NONE = 0,       /* below every limit */
    LT_MEMWATCH_RSS = 1,        /* resident memory reached the given limit */
    LT_MEMWATCH_CGROUP = 2,     /* the cgroup's usage reached LT_MEMWATCH_CGROUP_PERCENT of its limit */
} lt_memwatch_hit_t;

/* All fields may be read; none may be written. */
typedef struct lt_memwatch {
    uint64_t limit;             /* resident bytes that trigger; 0: no RSS limit */
    uint64_t page;              /* bytes per page, for statm */
    int statm_fd;               /* /proc/self/statm (of the process that opened it) */
    int cg_fd;                  /* the limiting cgroup's usage file, or -1 */
    int cg_version;             /* 1 or 2 when cg_fd is open, else 0 */
    uint64_t cg_max;            /* that cgroup's limit in bytes, 0 when none */
    char cg_dir[512];           /* that cgroup's directory, for messages */
} lt_memwatch_t;

/* One poll's readings. */
typedef struct lt_memwatch_sample {
    uint64_t rss_bytes;
    uint64_t cg_bytes;          /* the cgroup's usage, 0 without a cgroup limit */
} lt_memwatch_sample_t;

/* Opens the watcher for the calling process: `limit` resident bytes (0 for
 * none), and the tightest memory limit of the cgroups the process is in
 * (cgroup v2 memory.max, or v1 memory.limit_in_bytes, of its cgroup and
 * every ancestor). `root` prefixes /proc and /sys (NULL or "" for the real
 * ones; tests pass a directory that mimics them). No cgroup limit is not an
 * error. Returns 0, or LT_ENOENT/LT_EACCES/LT_EIO when statm cannot be
 * opened; on error nothing is held. The descriptors are the opener's: a
 * forked child must close and open again (/proc/self is resolved at open). */
int lt_memwatch_open(lt_memwatch_t *w, uint64_t limit, const char *root);

/* Reads the current usage into *out (when not NULL) and says whether a limit
 * was reached: LT_MEMWATCH_RSS, LT_MEMWATCH_CGROUP (RSS wins when both), or
 * LT_MEMWATCH_NONE. A negative LT_E code when statm cannot be read. An
 * unreadable cgroup file only drops the cgroup check. Thread-safe for one
 * caller at a time; async-signal-safe. */
int lt_memwatch_poll(lt_memwatch_t *w, lt_memwatch_sample_t *out);

/* Closes the descriptors; w may be opened again. Idempotent. */
void lt_memwatch_close(lt_memwatch_t *w);

/* Parses a size as the kernel writes it in cgroup files: decimal digits,
 * or "max" (unlimited). Sets *out (0 for "max") and returns 0, or
 * LT_EFORMAT. Exposed for the tests. */
int lt_memwatch_parse_limit(const char *text, uint64_t *out);

#endif

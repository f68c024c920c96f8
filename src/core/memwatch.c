/* Polls resident memory and the memory cgroup's usage against a limit, for
 * `--memory-limit`: one pread(2) of /proc/self/statm per poll, one more of
 * the cgroup's usage file when there is a cgroup limit. */
#include "memwatch.h"
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* v1 writes "no limit" as a huge page-rounded number rather than "max". */
#define V1_UNLIMITED (UINT64_C(1) << 60)

static int open_ro(const char *path)
{
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    return fd;
}

/* Reads a small file from offset 0 into buf (NUL-terminated). Returns its
 * length, or -1. */
static ssize_t pread_all(int fd, char *buf, size_t size)
{
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t n = pread(fd, buf + len, size - 1 - len, (off_t)len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

static ssize_t read_path(const char *path, char *buf, size_t size)
{
    int fd = open_ro(path);
    if (fd < 0)
        return -1;
    ssize_t n = pread_all(fd, buf, size);
    close(fd);
    return n;
}

static int parse_u64(const char *p, const char **end, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = p;
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return LT_EFORMAT;
        v = v * 10 + d;
        p++;
    }
    if (p == s)
        return LT_EFORMAT;
    *out = v;
    if (end != NULL)
        *end = p;
    return 0;
}

int lt_memwatch_parse_limit(const char *text, uint64_t *out)
{
    const char *end;
    if (strncmp(text, "max", 3) == 0) {
        end = text + 3;
        *out = 0;
    } else {
        uint64_t v;
        if (parse_u64(text, &end, &v) < 0)
            return LT_EFORMAT;
        *out = v;
    }
    while (*end == '\n' || *end == ' ')
        end++;
    return *end == '\0' ? 0 : LT_EFORMAT;
}

/* The cgroup path of the process in hierarchy `want`: "v2" for the unified
 * line (0::PATH), "memory" for the v1 memory controller's. Copies PATH into
 * out; 0, or -1 when there is no such line. */
static int cgroup_path(const char *cgroup_file, const char *want, char *out, size_t size)
{
    char buf[4096];
    if (read_path(cgroup_file, buf, sizeof(buf)) < 0)
        return -1;
    for (char *line = buf; *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2 != NULL) {
            int match = 0;
            if (strcmp(want, "v2") == 0) {
                match = c1 == line + 1 && line[0] == '0' && c2 == c1 + 1;
            } else {
                /* The controllers field is a comma-separated list. */
                *c2 = '\0';
                for (char *tok = c1 + 1; tok != NULL && !match;) {
                    char *comma = strchr(tok, ',');
                    size_t n = comma ? (size_t)(comma - tok) : strlen(tok);
                    match = n == strlen(want) && strncmp(tok, want, n) == 0;
                    tok = comma ? comma + 1 : NULL;
                }
            }
            if (match && strlen(c2 + 1) < size) {
                memcpy(out, c2 + 1, strlen(c2 + 1) + 1);
                return 0;
            }
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return -1;
}

/* Walks from base+path up to base, keeping the directory with the smallest
 * limit in `limit_file`; opens its `usage_file`. A path not under base
 * (another cgroup namespace) falls back to base itself. */
static void find_limit(lt_memwatch_t *w, const char *base, const char *path, const char *limit_file,
                       const char *usage_file, int version)
{
    char dir[512], file[600], buf[64];
    size_t baselen = strlen(base);
    /* Where only a subtree of the hierarchy is mounted (a container), base
     * is that subtree and `path` starts with the subtree's own path: the
     * longest suffix of path that exists under base is the cgroup. */
    for (const char *p = path;; p = strchr(p + 1, '/')) {
        int n = snprintf(dir, sizeof(dir), "%s%s", base, p == NULL || strcmp(p, "/") == 0 ? "" : p);
        if (n < 0 || (size_t)n >= sizeof(dir))
            return;
        snprintf(file, sizeof(file), "%s/%s", dir, usage_file);
        if (p == NULL || access(file, R_OK) == 0)
            break;
    }
    uint64_t best = 0;
    char best_dir[512] = "";
    for (;;) {
        snprintf(file, sizeof(file), "%s/%s", dir, limit_file);
        uint64_t v;
        if (read_path(file, buf, sizeof(buf)) > 0 && lt_memwatch_parse_limit(buf, &v) == 0 && v > 0 &&
            (version == 2 || v < V1_UNLIMITED) && (best == 0 || v < best)) {
            best = v;
            memcpy(best_dir, dir, sizeof(best_dir));
        }
        char *slash = strrchr(dir, '/');
        if (strlen(dir) <= baselen || slash == NULL || (size_t)(slash - dir) < baselen)
            break;
        *slash = '\0';
    }
    if (best == 0)
        return;
    snprintf(file, sizeof(file), "%s/%s", best_dir, usage_file);
    int fd = open_ro(file);
    if (fd < 0)
        return;
    w->cg_fd = fd;
    w->cg_max = best;
    w->cg_version = version;
    memcpy(w->cg_dir, best_dir, sizeof(w->cg_dir));
}

int lt_memwatch_open(lt_memwatch_t *w, uint64_t limit, const char *root)
{
    memset(w, 0, sizeof(*w));
    w->statm_fd = w->cg_fd = -1;
    w->limit = limit;
    if (root == NULL)
        root = "";
    long page = sysconf(_SC_PAGESIZE);
    w->page = page > 0 ? (uint64_t)page : 4096;
    char path[600], cgpath[400];
    snprintf(path, sizeof(path), "%s/proc/self/statm", root);
    w->statm_fd = open_ro(path);
    if (w->statm_fd < 0)
        return errno == ENOENT ? LT_ENOENT : errno == EACCES ? LT_EACCES : LT_EIO;

    char cgroup_file[600], base[520];
    snprintf(cgroup_file, sizeof(cgroup_file), "%s/proc/self/cgroup", root);
    snprintf(path, sizeof(path), "%s/sys/fs/cgroup/cgroup.controllers", root);
    if (access(path, R_OK) == 0 && cgroup_path(cgroup_file, "v2", cgpath, sizeof(cgpath)) == 0) {
        snprintf(base, sizeof(base), "%s/sys/fs/cgroup", root);
        find_limit(w, base, cgpath, "memory.max", "memory.current", 2);
    } else if (cgroup_path(cgroup_file, "memory", cgpath, sizeof(cgpath)) == 0) {
        snprintf(base, sizeof(base), "%s/sys/fs/cgroup/memory", root);
        find_limit(w, base, cgpath, "memory.limit_in_bytes", "memory.usage_in_bytes", 1);
    }
    return 0;
}

int lt_memwatch_poll(lt_memwatch_t *w, lt_memwatch_sample_t *out)
{
    char buf[256];
    lt_memwatch_sample_t s = {0, 0};
    if (w->statm_fd < 0 || pread_all(w->statm_fd, buf, sizeof(buf)) < 0)
        return LT_EIO;
    /* statm: size resident shared text lib data dt, in pages. */
    const char *p = buf, *end;
    uint64_t size, resident;
    if (parse_u64(p, &end, &size) < 0 || *end != ' ' || parse_u64(end + 1, NULL, &resident) < 0)
        return LT_EFORMAT;
    s.rss_bytes = resident * w->page;
    int hit = LT_MEMWATCH_NONE;
    if (w->cg_fd >= 0) {
        uint64_t v;
        if (pread_all(w->cg_fd, buf, sizeof(buf)) > 0 && lt_memwatch_parse_limit(buf, &v) == 0) {
            s.cg_bytes = v;
            if (v >= w->cg_max / 100 * LT_MEMWATCH_CGROUP_PERCENT)
                hit = LT_MEMWATCH_CGROUP;
        }
    }
    if (w->limit > 0 && s.rss_bytes >= w->limit)
        hit = LT_MEMWATCH_RSS;
    if (out != NULL)
        *out = s;
    return hit;
}

void lt_memwatch_close(lt_memwatch_t *w)
{
    if (w->statm_fd >= 0)
        close(w->statm_fd);
    if (w->cg_fd >= 0)
        close(w->cg_fd);
    w->statm_fd = w->cg_fd = -1;
    w->cg_version = 0;
    w->cg_max = 0;
}

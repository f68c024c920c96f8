/* Tests of memwatch: the real statm of this process, limits crossed by real
 * growth, and the cgroup v1/v2 discovery on fake /proc and /sys trees
 * (ancestor limits, "max", other namespaces, unreadable files). */
#include "errors.h"
#include "lt_test.h"
#include "memwatch.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmproot[256];

static void put(const char *rel, const char *text)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", tmproot, rel);
    /* mkdir -p of the parents */
    for (char *p = path + strlen(tmproot) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!LT_GE_INT(fd, 0))
        return;
    ssize_t w = write(fd, text, strlen(text));
    LT_EQ_INT(w, (ssize_t)strlen(text));
    close(fd);
}

static void fresh_root(const char *name)
{
    snprintf(tmproot, sizeof(tmproot), "%s/lt_memwatch_%d_%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (int)getpid(), name);
    mkdir(tmproot, 0755);
}

static void test_parse_limit(void)
{
    uint64_t v = 1;
    LT_EQ_INT(lt_memwatch_parse_limit("max\n", &v), 0);
    LT_EQ_UINT(v, 0);
    LT_EQ_INT(lt_memwatch_parse_limit("1073741824\n", &v), 0);
    LT_EQ_UINT(v, UINT64_C(1073741824));
    LT_EQ_INT(lt_memwatch_parse_limit("18446744073709551615", &v), 0);
    LT_EQ_UINT(v, UINT64_MAX);
    LT_EQ_INT(lt_memwatch_parse_limit("18446744073709551616", &v), LT_EFORMAT);
    LT_EQ_INT(lt_memwatch_parse_limit("", &v), LT_EFORMAT);
    LT_EQ_INT(lt_memwatch_parse_limit("12k", &v), LT_EFORMAT);
    LT_EQ_INT(lt_memwatch_parse_limit("maxi", &v), LT_EFORMAT);
}

/* The real process: RSS is read, and a limit below it is reached while one
 * far above is not; touching 64 MB more moves the reading by about that. */
static void test_real_rss(void)
{
    lt_memwatch_t w;
    lt_memwatch_sample_t s;
    LT_EQ_INT(lt_memwatch_open(&w, UINT64_C(1) << 50, NULL), 0);
    LT_EQ_INT(lt_memwatch_poll(&w, &s), LT_MEMWATCH_NONE);
    LT_GT_UINT(s.rss_bytes, 0);
    uint64_t before = s.rss_bytes;
    size_t big = 64u << 20;
    char *p = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!LT_NE_PTR(p, MAP_FAILED))
        return;
    memset(p, 1, big);
    LT_GE_INT(lt_memwatch_poll(&w, &s), 0);
    LT_GE_UINT(s.rss_bytes, before + big / 2);
    lt_memwatch_close(&w);
    LT_EQ_INT(lt_memwatch_open(&w, before + big / 4, NULL), 0);
    LT_EQ_INT(lt_memwatch_poll(&w, &s), LT_MEMWATCH_RSS);
    munmap(p, big);
    lt_memwatch_close(&w);
    lt_memwatch_close(&w);                      /* idempotent */
    LT_EQ_INT(lt_memwatch_poll(&w, &s), LT_EIO);
}

/* v2: the tightest limit among the cgroup and its ancestors, its usage file
 * polled; 90 % of the limit is "near". */
static void test_cgroup_v2(void)
{
    fresh_root("v2");
    put("proc/self/statm", "1000 200 30 4 0 50 0\n");
    put("proc/self/cgroup", "0::/app/worker\n");
    put("sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
    put("sys/fs/cgroup/app/memory.max", "1000000\n");
    put("sys/fs/cgroup/app/memory.current", "950000\n");
    put("sys/fs/cgroup/app/worker/memory.max", "max\n");
    put("sys/fs/cgroup/app/worker/memory.current", "10\n");
    lt_memwatch_t w;
    lt_memwatch_sample_t s;
    LT_EQ_INT(lt_memwatch_open(&w, 0, tmproot), 0);
    LT_EQ_INT(w.cg_version, 2);
    LT_EQ_UINT(w.cg_max, 1000000);
    LT_CHECK(strstr(w.cg_dir, "/sys/fs/cgroup/app") != NULL && strstr(w.cg_dir, "worker") == NULL);
    LT_EQ_INT(lt_memwatch_poll(&w, &s), LT_MEMWATCH_CGROUP);
    LT_EQ_UINT(s.rss_bytes, 200 * w.page);
    LT_EQ_UINT(s.cg_bytes, 950000);
    /* Usage is re-read at each poll (pread from 0 of the open file). */
    put("sys/fs/cgroup/app/memory.current", "899999\n");
    LT_EQ_INT(lt_memwatch_poll(&w, &s), LT_MEMWATCH_NONE);
    /* An RSS limit wins over the cgroup when both are reached. */
    lt_memwatch_close(&w);
    put("sys/fs/cgroup/app/memory.current", "990000\n");
    LT_EQ_INT(lt_memwatch_open(&w, 100 * w.page, tmproot), 0);
    LT_EQ_INT(lt_memwatch_poll(&w, &s), LT_MEMWATCH_RSS);
    lt_memwatch_close(&w);
    /* The inner cgroup tighter than its parent. */
    put("sys/fs/cgroup/app/worker/memory.max", "5000\n");
    LT_EQ_INT(lt_memwatch_open(&w, 0, tmproot), 0);
    LT_EQ_UINT(w.cg_max, 5000);
    LT_EQ_INT(lt_memwatch_poll(&w, &s), LT_MEMWATCH_NONE);
    LT_EQ_UINT(s.cg_bytes, 10);
    lt_memwatch_close(&w);
}

/* No limit anywhere, a path from another namespace, no cgroup file. */
static void test_cgroup_none(void)
{
    fresh_root("none");
    put("proc/self/statm", "1000 200 30 4 0 50 0\n");
    put("proc/self/cgroup", "0::/elsewhere/x\n");
    put("sys/fs/cgroup/cgroup.controllers", "memory\n");
    put("sys/fs/cgroup/memory.current", "123\n");
    lt_memwatch_t w;
    lt_memwatch_sample_t s;
    LT_EQ_INT(lt_memwatch_open(&w, 0, tmproot), 0);
    LT_EQ_INT(w.cg_fd, -1);
    LT_EQ_INT(lt_memwatch_poll(&w, &s), LT_MEMWATCH_NONE);
    LT_EQ_UINT(s.cg_bytes, 0);
    lt_memwatch_close(&w);
    /* The namespace's root limits it: /elsewhere/x is not there, so the
     * root's own files are used. */
    put("sys/fs/cgroup/memory.max", "200\n");
    LT_EQ_INT(lt_memwatch_open(&w, 0, tmproot), 0);
    LT_EQ_UINT(w.cg_max, 200);
    LT_EQ_INT(lt_memwatch_poll(&w, &s), LT_MEMWATCH_NONE);
    put("sys/fs/cgroup/memory.current", "180\n");
    LT_EQ_INT(lt_memwatch_poll(&w, &s), LT_MEMWATCH_CGROUP);
    lt_memwatch_close(&w);
    /* A malformed statm is an error, not a reading. */
    put("proc/self/statm", "garbage\n");
    LT_EQ_INT(lt_memwatch_open(&w, 0, tmproot), 0);
    LT_EQ_INT(lt_memwatch_poll(&w, &s), LT_EFORMAT);
    lt_memwatch_close(&w);
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/nothing", tmproot);
    LT_EQ_INT(lt_memwatch_open(&w, 0, missing), LT_ENOENT);
}

/* v1 (hybrid hosts): the memory controller's line among several, the huge
 * "unlimited" value ignored. */
static void test_cgroup_v1(void)
{
    fresh_root("v1");
    put("proc/self/statm", "1000 200 30 4 0 50 0\n");
    put("proc/self/cgroup", "12:pids:/a\n4:memory,hugetlb:/svc\n0::/\n");
    put("sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
    put("sys/fs/cgroup/memory/svc/memory.limit_in_bytes", "4096000\n");
    put("sys/fs/cgroup/memory/svc/memory.usage_in_bytes", "4000000\n");
    lt_memwatch_t w;
    lt_memwatch_sample_t s;
    LT_EQ_INT(lt_memwatch_open(&w, 0, tmproot), 0);
    LT_EQ_INT(w.cg_version, 1);
    LT_EQ_UINT(w.cg_max, 4096000);
    LT_EQ_INT(lt_memwatch_poll(&w, &s), LT_MEMWATCH_CGROUP);
    lt_memwatch_close(&w);
    put("sys/fs/cgroup/memory/svc/memory.limit_in_bytes", "9223372036854771712\n");
    LT_EQ_INT(lt_memwatch_open(&w, 0, tmproot), 0);
    LT_EQ_INT(w.cg_fd, -1);
    lt_memwatch_close(&w);
    /* A container: only the subtree /host/ctr is mounted, so the process's
     * path /host/ctr/svc/job is found as svc/job under the mount. */
    put("proc/self/cgroup", "4:memory:/host/ctr/svc/job\n");
    put("sys/fs/cgroup/memory/svc/job/memory.limit_in_bytes", "8192000\n");
    put("sys/fs/cgroup/memory/svc/job/memory.usage_in_bytes", "100\n");
    LT_EQ_INT(lt_memwatch_open(&w, 0, tmproot), 0);
    LT_EQ_UINT(w.cg_max, 8192000);
    LT_CHECK(strstr(w.cg_dir, "/memory/svc/job") != NULL);
    LT_EQ_INT(lt_memwatch_poll(&w, &s), LT_MEMWATCH_NONE);
    LT_EQ_UINT(s.cg_bytes, 100);
    lt_memwatch_close(&w);
}

static int unlink_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes the fake trees of every case. */
static void remove_roots(void)
{
    static const char *const names[] = {"v2", "none", "v1"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        fresh_root(names[i]);
        nftw(tmproot, unlink_one, 16, FTW_DEPTH | FTW_PHYS);
    }
}

int main(void)
{
    LT_RUN(test_parse_limit);
    LT_RUN(test_real_rss);
    LT_RUN(test_cgroup_v2);
    LT_RUN(test_cgroup_none);
    LT_RUN(test_cgroup_v1);
    remove_roots();
    return lt_test_done();
}

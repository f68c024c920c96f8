/* /proc readers built on open/read/getdents64/readlinkat only. */
#include "procfs.h"
#include "errors.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *lt_fd_kind_name(lt_fd_kind_t kind)
{
    static const char *const names[LT_FD_KIND_COUNT] = {"file", "socket", "pipe", "anon_inode", "other"};
    return (unsigned)kind < LT_FD_KIND_COUNT ? names[kind] : "other";
}

lt_fd_kind_t lt_fd_kind_of(const char *target)
{
    if (strncmp(target, "socket:", 7) == 0)
        return LT_FD_SOCKET;
    if (strncmp(target, "pipe:", 5) == 0)
        return LT_FD_PIPE;
    if (strncmp(target, "anon_inode:", 11) == 0)
        return LT_FD_ANON_INODE;
    if (target[0] == '/' && strncmp(target, "/dev/", 5) != 0 && strncmp(target, "/memfd:", 7) != 0)
        return LT_FD_FILE;
    return LT_FD_OTHER;
}

static int proc_path(char *buf, size_t size, pid_t pid, const char *leaf)
{
    int n = pid == 0 ? snprintf(buf, size, "/proc/self/%s", leaf)
                     : snprintf(buf, size, "/proc/%d/%s", (int)pid, leaf);
    return n < 0 || (size_t)n >= size ? LT_ERANGE : 0;
}

static int errno_code(int e)
{
    if (e == ENOENT || e == ESRCH)
        return LT_ENOENT;
    if (e == EACCES || e == EPERM)
        return LT_EACCES;
    return LT_EIO;
}

/* Reads a whole small /proc file into buf (NUL-terminated). */
static int proc_read_file(pid_t pid, const char *leaf, char *buf, size_t size)
{
    char path[64];
    int rc = proc_path(path, sizeof(path), pid, leaf);
    if (rc < 0)
        return rc;
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return errno_code(errno);
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = errno_code(errno);
            close(fd);
            return rc;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return 0;
}

static int parse_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s < '0' || *s > '9')
        return LT_EFORMAT;
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return LT_EFORMAT;
        v = v * 10 + (uint64_t)(*s - '0');
        s++;
    }
    *p = s;
    *out = v;
    return 0;
}

struct fd_count_ctx {
    lt_proc_facts_t *facts;
};

static int fd_count(int fd, lt_fd_kind_t kind, const char *target, void *ctx)
{
    (void)fd;
    (void)target;
    lt_proc_facts_t *f = ((struct fd_count_ctx *)ctx)->facts;
    f->fds++;
    f->fds_by_kind[kind]++;
    return 0;
}

int lt_proc_read(pid_t pid, lt_proc_facts_t *out)
{
    char buf[4096];
    lt_proc_facts_t f;
    memset(&f, 0, sizeof(f));

    int rc = proc_read_file(pid, "statm", buf, sizeof(buf));
    if (rc < 0)
        return rc;
    const char *p = buf;
    uint64_t size_pages, rss_pages;
    if (parse_u64(&p, &size_pages) < 0 || parse_u64(&p, &rss_pages) < 0)
        return LT_EFORMAT;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;
    f.vm_bytes = size_pages * (uint64_t)page;
    f.rss_bytes = rss_pages * (uint64_t)page;

    rc = proc_read_file(pid, "status", buf, sizeof(buf));
    if (rc < 0)
        return rc;
    const char *t = strstr(buf, "\nThreads:");
    if (t == NULL)
        return LT_EFORMAT;
    p = t + 9;
    if (parse_u64(&p, &f.threads) < 0)
        return LT_EFORMAT;

    struct fd_count_ctx ctx = {&f};
    rc = lt_proc_fd_foreach(pid, fd_count, &ctx);
    if (rc < 0)
        return rc;
    *out = f;
    return 0;
}

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

int lt_proc_fd_foreach(pid_t pid, lt_fd_visit_fn fn, void *ctx)
{
    char path[64];
    int rc = proc_path(path, sizeof(path), pid, "fd");
    if (rc < 0)
        return rc;
    int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return errno_code(errno);
    /* Our own directory descriptor is not the program's, whether this
     * process was named as 0 or by its pid. */
    int self = pid == 0 || pid == getpid();
    /* Aligned for struct linux_dirent64. */
    union {
        char bytes[4096];
        uint64_t align;
    } dents;
    rc = 0;
    for (;;) {
        long n = syscall(SYS_getdents64, dirfd, dents.bytes, sizeof(dents.bytes));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = errno_code(errno);
            break;
        }
        if (n == 0)
            break;
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(dents.bytes + off);
            off += d->d_reclen;
            const char *name = d->d_name;
            if (name[0] < '0' || name[0] > '9')
                continue;
            uint64_t fdnum;
            if (parse_u64(&name, &fdnum) < 0 || *name != '\0' || fdnum > 0x7fffffff)
                continue;
            if (self && (int)fdnum == dirfd)
                continue;
            char target[512];
            ssize_t len = readlinkat(dirfd, d->d_name, target, sizeof(target) - 1);
            if (len < 0 && errno == ENOENT)
                continue;       /* closed between getdents and readlink */
            if (len < 0) {
                /* The links can be hidden even where the directory lists
                 * (they need ptrace access, which root may lack): that is a
                 * refusal, not a process without descriptors. */
                rc = errno_code(errno);
                goto done;
            }
            target[len] = '\0';
            rc = fn((int)fdnum, lt_fd_kind_of(target), target, ctx);
            if (rc != 0)
                goto done;
        }
    }
done:
    close(dirfd);
    return rc;
}

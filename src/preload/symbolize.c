/* dladdr plus a minimal ELF symbol-table reader: the function symbols of an
 * object file (or of its debug file), sorted by address, loaded once per
 * object and kept for the process. */
#include "symbolize.h"

#include "errors.h"
#include "intern.h"
#include "preload.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A function symbol, relative to the object's load bias. */
typedef struct sym {
    uint64_t start;
    uint64_t size;
    uint32_t name;              /* offset in the object's name copy */
} sym_t;

/* One loaded object, by load bias and path. */
typedef struct object {
    uintptr_t bias;
    const char *path;           /* interned */
    int loaded;                 /* symbols read (or found absent) */
    sym_t *syms;
    size_t nsyms, syms_bytes;
    char *names;                /* copy of the string table */
    size_t names_bytes;
} object_t;

#define MAX_OBJECTS 1024

/* The cache. Protected by sym_lock; every string and table it hands out is
 * never freed nor moved. */
static pthread_mutex_t sym_lock = PTHREAD_MUTEX_INITIALIZER;
static object_t objects[MAX_OBJECTS];
static size_t nobjects;
static lt_intern_t strings;     /* paths and dladdr names */
static int strings_ready;
static char exe_path[4096];  /* /proc/self/exe, read once */

static const char *intern_str(const char *s)
{
    if (s == NULL)
        return NULL;
    if (!strings_ready) {
        lt_intern_init(&strings, &lt_pl_alloc);
        strings_ready = 1;
    }
    uint32_t id;
    if (lt_intern_get_or_add(&strings, s, strlen(s), &id, NULL) < 0)
        return NULL;
    return lt_intern_get(&strings, id, NULL);
}

/* In-place heap sort of the symbols by start (no qsort: it may call malloc). */
static int sym_less(const sym_t *a, const sym_t *b)
{
    return a->start < b->start || (a->start == b->start && a->size > b->size);
}

static void sift_down(sym_t *s, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && sym_less(&s[child], &s[child + 1]))
            child++;
        if (!sym_less(&s[root], &s[child]))
            return;
        sym_t t = s[root];
        s[root] = s[child];
        s[child] = t;
        root = child;
    }
}

static void sort_syms(sym_t *s, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(s, i, n);
    for (size_t end = n; end-- > 1;) {
        sym_t t = s[0];
        s[0] = s[end];
        s[end] = t;
        sift_down(s, 0, end);
    }
}

/* A read-only mapping of a whole file. */
typedef struct mapped {
    const unsigned char *p;
    size_t len;
} mapped_t;

static int map_file(const char *path, mapped_t *m)
{
    m->p = NULL;
    m->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return LT_ENOENT;
    struct stat st;
    int rc = LT_ENOENT;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= (off_t)sizeof(ElfW(Ehdr))) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            m->p = p;
            m->len = (size_t)st.st_size;
            rc = 0;
        }
    }
    close(fd);
    return rc;
}

static void unmap_file(mapped_t *m)
{
    if (m->p != NULL)
        munmap((void *)m->p, m->len);
}

/* The section headers of a 64-bit ELF file of our machine, or NULL. */
static const ElfW(Shdr) *sections(const mapped_t *m, size_t *n)
{
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)m->p;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shentsize != sizeof(ElfW(Shdr)) || eh->e_shoff == 0 || eh->e_shoff > m->len ||
        eh->e_shnum > (m->len - eh->e_shoff) / sizeof(ElfW(Shdr)))
        return NULL;
    *n = eh->e_shnum;
    return (const ElfW(Shdr) *)(m->p + eh->e_shoff);
}

static int in_file(const mapped_t *m, uint64_t off, uint64_t size)
{
    return off <= m->len && size <= m->len - off;
}

/* Reads the function symbols of .symtab into o. Returns 0, or LT_ENOENT
 * when the file has none, LT_ENOMEM. */
static int read_symtab(const mapped_t *m, object_t *o)
{
    size_t nsec;
    const ElfW(Shdr) *sh = sections(m, &nsec);
    if (sh == NULL)
        return LT_ENOENT;
    for (size_t i = 0; i < nsec; i++) {
        if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_entsize != sizeof(ElfW(Sym)) || sh[i].sh_link >= nsec)
            continue;
        const ElfW(Shdr) *st = &sh[sh[i].sh_link];
        if (!in_file(m, sh[i].sh_offset, sh[i].sh_size) || !in_file(m, st->sh_offset, st->sh_size) ||
            st->sh_size == 0 || st->sh_size > UINT32_MAX)
            return LT_ENOENT;
        const ElfW(Sym) *syms = (const ElfW(Sym) *)(m->p + sh[i].sh_offset);
        size_t n = sh[i].sh_size / sizeof(ElfW(Sym)), keep = 0;
        for (size_t k = 0; k < n; k++) {
            unsigned type = ELF64_ST_TYPE(syms[k].st_info);
            if ((type == STT_FUNC || type == STT_GNU_IFUNC) && syms[k].st_shndx != SHN_UNDEF && syms[k].st_value &&
                syms[k].st_name < st->sh_size)
                keep++;
        }
        if (keep == 0)
            return LT_ENOENT;
        o->syms_bytes = keep * sizeof(sym_t);
        o->syms = lt_alloc(&lt_pl_alloc, o->syms_bytes);
        o->names_bytes = st->sh_size + 1;
        o->names = lt_alloc(&lt_pl_alloc, o->names_bytes);
        if (o->syms == NULL || o->names == NULL) {
            lt_free(&lt_pl_alloc, o->syms, o->syms_bytes);
            lt_free(&lt_pl_alloc, o->names, o->names_bytes);
            o->syms = NULL;
            o->names = NULL;
            return LT_ENOMEM;
        }
        memcpy(o->names, m->p + st->sh_offset, st->sh_size);
        o->names[st->sh_size] = '\0';   /* a name running off the table ends here */
        for (size_t k = 0; k < n; k++) {
            unsigned type = ELF64_ST_TYPE(syms[k].st_info);
            if ((type == STT_FUNC || type == STT_GNU_IFUNC) && syms[k].st_shndx != SHN_UNDEF && syms[k].st_value &&
                syms[k].st_name < st->sh_size)
                o->syms[o->nsyms++] = (sym_t){syms[k].st_value, syms[k].st_size, syms[k].st_name};
        }
        sort_syms(o->syms, o->nsyms);
        return 0;
    }
    return LT_ENOENT;
}

/* The path of the separate debug file of m by its GNU build id, written to
 * buf; 0 or LT_ENOENT. */
static int debug_path(const mapped_t *m, char *buf, size_t cap)
{
    size_t nsec;
    const ElfW(Shdr) *sh = sections(m, &nsec);
    if (sh == NULL)
        return LT_ENOENT;
    for (size_t i = 0; i < nsec; i++) {
        if (sh[i].sh_type != SHT_NOTE || !in_file(m, sh[i].sh_offset, sh[i].sh_size))
            continue;
        const unsigned char *p = m->p + sh[i].sh_offset, *end = p + sh[i].sh_size;
        while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
            ElfW(Nhdr) nh;
            memcpy(&nh, p, sizeof(nh));
            size_t name = (nh.n_namesz + 3) & ~(size_t)3, desc = (nh.n_descsz + 3) & ~(size_t)3;
            p += sizeof(nh);
            if (name > (size_t)(end - p) || desc > (size_t)(end - p) - name)
                break;
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && memcmp(p, "GNU", 4) == 0 && nh.n_descsz >= 2 &&
                nh.n_descsz <= 64) {
                const unsigned char *id = p + name;
                static const char hex[] = "0123456789abcdef";
                size_t k = 0;
                const char *prefix = "/usr/lib/debug/.build-id/";
                size_t plen = strlen(prefix);
                if (plen + 2 * nh.n_descsz + 8 > cap)
                    return LT_ENOENT;
                memcpy(buf, prefix, plen);
                k = plen;
                buf[k++] = hex[id[0] >> 4];
                buf[k++] = hex[id[0] & 15];
                buf[k++] = '/';
                for (size_t j = 1; j < nh.n_descsz; j++) {
                    buf[k++] = hex[id[j] >> 4];
                    buf[k++] = hex[id[j] & 15];
                }
                memcpy(buf + k, ".debug", 7);
                return 0;
            }
            p += name + desc;
        }
    }
    return LT_ENOENT;
}

static void load_object(object_t *o)
{
    o->loaded = 1;
    mapped_t m;
    if (map_file(o->path, &m) < 0)
        return;
    if (read_symtab(&m, o) == LT_ENOENT) {
        char dbg[512];
        if (debug_path(&m, dbg, sizeof(dbg)) == 0) {
            mapped_t d;
            if (map_file(dbg, &d) == 0) {
                read_symtab(&d, o);
                unmap_file(&d);
            }
        }
    }
    unmap_file(&m);
}

static object_t *object_of(uintptr_t bias, const char *path)
{
    for (size_t i = 0; i < nobjects; i++)
        if (objects[i].bias == bias && strcmp(objects[i].path, path) == 0)
            return &objects[i];
    if (nobjects == MAX_OBJECTS)
        return NULL;
    const char *p = intern_str(path);
    if (p == NULL)
        return NULL;
    object_t *o = &objects[nobjects++];
    memset(o, 0, sizeof(*o));
    o->bias = bias;
    o->path = p;
    return o;
}

/* The function of o holding offset off (relative to the bias), or NULL. */
static const sym_t *find_sym(const object_t *o, uint64_t off)
{
    size_t lo = 0, hi = o->nsyms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->syms[mid].start <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* lo: the first symbol past off. Look back over a few that start at or
     * before it (aliases, nested local symbols) for one that holds it. */
    for (size_t i = lo, tries = 0; i-- > 0 && tries < 8; tries++) {
        const sym_t *s = &o->syms[i];
        if (s->size == 0) {
            if (tries == 0)
                return s;       /* a label with no size: the best guess */
            continue;
        }
        if (off < s->start + s->size)
            return s;
    }
    return NULL;
}

static const char *main_program_path(void)
{
    if (exe_path[0] == '\0') {
        ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
        if (n <= 0)
            return NULL;
        exe_path[n] = '\0';
    }
    return exe_path;
}

int lt_symbolize(uintptr_t pc, lt_preload_sym_t *out)
{
    memset(out, 0, sizeof(*out));
    lt_pl_busy_enter();
    Dl_info info;
    ElfW(Sym) *dsym = NULL;
    struct link_map *map = NULL;
    int rc = LT_ENOENT;
    if (dladdr1((void *)pc, &info, (void **)&map, RTLD_DL_LINKMAP) == 0 || map == NULL)
        goto done;
    Dl_info info2;
    if (dladdr1((void *)pc, &info2, (void **)&dsym, RTLD_DL_SYMENT) == 0)
        dsym = NULL;
    pthread_mutex_lock(&sym_lock);
    const char *path = info.dli_fname;
    if (path == NULL || path[0] == '\0')
        path = main_program_path();
    object_t *o = path != NULL ? object_of(map->l_addr, path) : NULL;
    if (o == NULL) {
        pthread_mutex_unlock(&sym_lock);
        goto done;
    }
    out->library = o->path;
    out->library_base = (uintptr_t)info.dli_fbase;
    /* dladdr names only exported symbols, and with no size check for the
     * nearest one: trust it when its symbol holds pc. */
    if (info2.dli_sname != NULL && dsym != NULL && info2.dli_saddr != NULL &&
        pc < (uintptr_t)info2.dli_saddr + (dsym->st_size ? dsym->st_size : 1)) {
        out->function = intern_str(info2.dli_sname);
        out->function_addr = (uintptr_t)info2.dli_saddr;
    } else {
        if (!o->loaded)
            load_object(o);
        const sym_t *s = find_sym(o, (uint64_t)(pc - map->l_addr));
        if (s != NULL) {
            out->function = o->names + s->name;
            out->function_addr = (uintptr_t)(map->l_addr + s->start);
        }
    }
    pthread_mutex_unlock(&sym_lock);
    rc = 0;
done:
    lt_pl_busy_leave();
    return rc;
}

void lt_symbolize_atfork_prepare(void) { pthread_mutex_lock(&sym_lock); }
void lt_symbolize_atfork_parent(void) { pthread_mutex_unlock(&sym_lock); }
void lt_symbolize_atfork_child(void) { pthread_mutex_init(&sym_lock, NULL); }

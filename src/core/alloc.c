/* The page allocator, the fault-injecting allocator and the arena. */
#include "alloc.h"
#include "errors.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page_round(size_t size)
{
    static size_t page;
    if (page == 0) {
        long p = sysconf(_SC_PAGESIZE);
        page = p > 0 ? (size_t)p : 4096;
    }
    if (size > SIZE_MAX - page)
        return 0;
    return (size + page - 1) & ~(page - 1);
}

static void *page_alloc(void *ctx, size_t size)
{
    (void)ctx;
    size_t len = page_round(size);
    if (len == 0)
        return NULL;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void page_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    munmap(ptr, page_round(size));
}

const lt_alloc_t lt_page_alloc = {page_alloc, page_free, NULL};

static void *failing_alloc(void *ctx, size_t size)
{
    lt_failing_alloc_t *f = ctx;
    long n = f->calls++;
    if (f->fail_at >= 0 && (n == f->fail_at || (f->persistent && n > f->fail_at)))
        return NULL;
    void *p = lt_alloc(f->inner, size);
    if (p != NULL)
        f->live++;
    return p;
}

static void failing_free(void *ctx, void *ptr, size_t size)
{
    lt_failing_alloc_t *f = ctx;
    f->live--;
    lt_free(f->inner, ptr, size);
}

void lt_failing_alloc_init(lt_failing_alloc_t *f, const lt_alloc_t *inner, long fail_at, int persistent)
{
    f->base.alloc = failing_alloc;
    f->base.free = failing_free;
    f->base.ctx = f;
    f->inner = inner;
    f->calls = 0;
    f->fail_at = fail_at;
    f->persistent = persistent;
    f->live = 0;
}

/* Arena chunks: a header followed by the data. Big requests get a chunk of
 * their own so the common chunk size stays small. Chunks start on a page and
 * `data` is 16-byte aligned within the header, so every allocation is too.
 * (A header of three size_t fields, 24 bytes on LP64, used to leave every
 * allocation 8 bytes off.) */
struct lt_arena_chunk {
    lt_arena_chunk_t *next;
    size_t size;                /* bytes in data[] */
    _Alignas(16) unsigned char data[];
};

#define ARENA_CHUNK_DATA (64 * 1024 - sizeof(lt_arena_chunk_t))

void lt_arena_init(lt_arena_t *arena, const lt_alloc_t *a)
{
    arena->a = a;
    arena->head = NULL;
    arena->used = 0;
    arena->total = 0;
}

void *lt_arena_alloc(lt_arena_t *arena, size_t size)
{
    if (size > SIZE_MAX / 2)
        return NULL;
    size = (size + 15) & ~(size_t)15;
    if (arena->head == NULL || arena->head->size - arena->used < size) {
        size_t data = size > ARENA_CHUNK_DATA ? size : ARENA_CHUNK_DATA;
        lt_arena_chunk_t *c = lt_alloc(arena->a, sizeof(*c) + data);
        if (c == NULL)
            return NULL;
        c->size = data;
        if (data > ARENA_CHUNK_DATA && arena->head != NULL) {
            /* A dedicated chunk is full at once: keep it behind the current
             * head so small allocations go on filling the head's free space
             * instead of abandoning it for a fresh chunk. */
            c->next = arena->head->next;
            arena->head->next = c;
            arena->total += size;
            return c->data;
        }
        c->next = arena->head;
        arena->head = c;
        arena->used = 0;
    }
    void *p = arena->head->data + arena->used;
    arena->used += size;
    arena->total += size;
    return p;
}

char *lt_arena_strndup(lt_arena_t *arena, const char *s, size_t len)
{
    if (len >= SIZE_MAX / 2)
        return NULL;            /* len + 1 would wrap to a tiny block */
    char *p = lt_arena_alloc(arena, len + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void lt_arena_release(lt_arena_t *arena)
{
    lt_arena_chunk_t *c = arena->head;
    while (c != NULL) {
        lt_arena_chunk_t *next = c->next;
        lt_free(arena->a, c, sizeof(*c) + c->size);
        c = next;
    }
    arena->head = NULL;
    arena->used = 0;
    arena->total = 0;
}

const char *lt_strerror(int code)
{
    switch (code) {
    case LT_OK: return "success";
    case LT_ENOMEM: return "out of memory";
    case LT_EINVAL: return "invalid argument";
    case LT_ENOENT: return "no such file or process";
    case LT_EACCES: return "permission denied";
    case LT_ERANGE: return "value out of range";
    case LT_EIO: return "input/output error";
    case LT_EFORMAT: return "unexpected format";
    default: return "unknown error";
    }
}

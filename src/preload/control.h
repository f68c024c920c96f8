/* The control interface of libleaktrace_preload.so: the one symbol it
 * exports besides the interposed allocator functions. The extension finds it
 * with dlsym(RTLD_DEFAULT, LT_PRELOAD_API_SYMBOL) when the library was
 * preloaded, registers the Python-stack callbacks and reads the native
 * allocation sites through it. Plain C types only: this header is shared
 * with src/ext/native.c and includes nothing of Python. */
#ifndef LT_CONTROL_H
#define LT_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#define LT_PRELOAD_API_SYMBOL "leaktrace_preload_api"
#define LT_PRELOAD_API_VERSION 1

/* Site kinds: the malloc family (malloc, calloc, realloc, reallocarray,
 * posix_memalign, aligned_alloc, memalign, valloc) and mmap (mmap, mmap64,
 * munmap, mremap called by the program; glibc's malloc maps its large
 * blocks through an internal entry point, so they count once, as heap). */
#define LT_PRELOAD_KIND_HEAP 0u
#define LT_PRELOAD_KIND_MMAP 1u
#define LT_PRELOAD_KINDS 2u

/* The Python side of a stack, provided by the extension.
 *
 * stack(keys, max) writes up to `max` opaque frame keys (never 0) of the
 * calling thread's Python stack, innermost first, and returns how many: 0
 * unless the calling thread holds the GIL. It runs inside the allocator: it
 * must not allocate through an interposed function except while the library
 * marks the thread busy (it does around the call, so what it allocates
 * passes straight through untracked), must not run Python code and must not
 * block.
 *
 * describe(key, out) fills *out for a key that stack() returned on the same
 * thread during the same allocator call (the GIL is still held). Strings are
 * borrowed and must stay valid for the life of the process. Returns 0, or a
 * negative code when the key is unknown (the frame is then dropped). It is
 * called with the library's lock held: the same rules as stack(), and it
 * must not call any function of this interface. */
typedef struct lt_preload_pyframe {
    const char *file;
    const char *function;
    uint32_t line;
} lt_preload_pyframe_t;

typedef int (*lt_preload_py_stack_fn)(uint64_t *keys, int max);
typedef int (*lt_preload_py_describe_fn)(uint64_t key, lt_preload_pyframe_t *out);

/* One frame of a recorded stack. Native frames carry the return address;
 * Python frames their file, function and line. 32 bytes, no padding: the
 * library interns these records as they are. */
#define LT_PRELOAD_FRAME_NATIVE 1u
typedef struct lt_preload_frame {
    uint32_t flags;             /* LT_PRELOAD_FRAME_NATIVE or 0 */
    uint32_t line;              /* Python frames: the line, 0 when unknown */
    uint64_t address;           /* native frames: the return address */
    const char *file;           /* Python frames (borrowed, lives forever) */
    const char *function;       /* Python frames (borrowed, lives forever) */
} lt_preload_frame_t;

/* A site: one stack (native frames innermost first, then the Python frames
 * of the thread, innermost first) and kind, with its weighted live and
 * all-time bytes and sample counts (see lt_sitestat_t). */
typedef struct lt_preload_site {
    uint32_t kind;
    uint32_t stack;             /* the library's stack id, stable for the process */
    uint32_t nframes;
    uint32_t nnative;           /* the first nnative frames are native */
    const lt_preload_frame_t *frames;   /* inside the snapshot */
    uint64_t live_bytes, live_count, total_bytes, total_count;
} lt_preload_site_t;

/* The sites at one moment, in one block the library allocated. */
typedef struct lt_preload_snapshot {
    size_t nsites;
    lt_preload_site_t *sites;
    size_t bytes;               /* the block's size, for snapshot_free */
} lt_preload_snapshot_t;

typedef struct lt_preload_stats {
    uint64_t sample_mean;       /* bytes; 0 in trace mode */
    uint64_t samples;           /* allocations recorded */
    uint64_t dropped;           /* samples and frees lost (no memory, or a reentrant call) */
    uint64_t live_samples[LT_PRELOAD_KINDS];
    uint64_t live_bytes[LT_PRELOAD_KINDS];      /* weighted estimate */
    uint64_t stacks;            /* distinct stacks */
    uint64_t footprint;         /* bytes of the library's own tables */
    int python_joined;          /* the extension registered its callbacks */
    int capture_fd;             /* the capture file's descriptor, -1 if none */
    const char *unwinder;       /* "libunwind" or "backtrace" */
} lt_preload_stats_t;

/* A native address, symbolised: dladdr, then the library's symbol table
 * (.symtab of the file, or of its separate debug file found by build id)
 * for functions dladdr cannot name. Strings are borrowed from the
 * library's cache and live for the process; NULL when unknown. */
typedef struct lt_preload_sym {
    const char *function;
    const char *library;        /* path of the object file */
    uintptr_t library_base;     /* load address: address - base is the offset in the file's image */
    uintptr_t function_addr;    /* start of the function, 0 when unknown */
} lt_preload_sym_t;

/* Every function may be called from any thread, never from inside an
 * allocator hook (snapshot and symbolize take the loader's lock). None
 * runs Python code. Each marks the calling thread busy while it runs, so
 * its own allocations are not recorded. */
typedef struct lt_preload_api {
    uint32_t version;           /* LT_PRELOAD_API_VERSION */
    uint32_t size;              /* sizeof(lt_preload_api_t) */
    /* Registers the Python callbacks (once; a second, different pair is
     * refused with LT_EINVAL). Returns 0. */
    int (*set_python)(lt_preload_py_stack_fn stack, lt_preload_py_describe_fn describe);
    /* 1 when the library is set up and recording, else 0. */
    int (*enabled)(void);
    void (*stats)(lt_preload_stats_t *out);
    /* Copies the sites with live samples (every site ever seen when
     * include_freed) into a new snapshot. Returns 0 and sets *out (release
     * it with snapshot_free), or LT_ENOMEM. */
    int (*snapshot)(lt_preload_snapshot_t **out, int include_freed);
    void (*snapshot_free)(lt_preload_snapshot_t *s);
    /* Symbolises the native return address `pc`. Returns 0, or LT_ENOENT
     * when no loaded object holds it (out is then zeroed). */
    int (*symbolize)(uintptr_t pc, lt_preload_sym_t *out);
    /* Writes a checkpoint to the capture file now (when there is one).
     * Returns 0, or a negative code (LT_ENOENT: no capture). */
    int (*checkpoint)(void);
} lt_preload_api_t;

typedef const lt_preload_api_t *(*lt_preload_api_fn)(void);

/* Defined (and exported) by the preload library only: returns its table of
 * functions (static, never NULL). Others look it up with dlsym, since a
 * program that was not started with the library must still load. */
const lt_preload_api_t *leaktrace_preload_api(void);

#endif

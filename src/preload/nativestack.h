/* Native stacks for the preload library: the return addresses of the
 * calling thread's frames, innermost first, with the library's own frames
 * left out. Unwinds with libunwind when the build found it (about 1 µs for
 * a 20-frame stack inside CPython), else with glibc's backtrace() (about
 * 3.5 µs); frame pointers are not used, since Debian's libc, CPython and
 * extensions keep none (docs/architecture.md has the measurements). */
#ifndef LT_NATIVESTACK_H
#define LT_NATIVESTACK_H

#include <stdint.h>

#define LT_NATIVESTACK_MAX 64   /* frames captured, at most */

/* Prepares the unwinder: finds the library's own code (to skip its frames)
 * and runs one unwind, so that the first real one does not load or
 * allocate anything (backtrace() dlopens libgcc_s on first use). Call once
 * at start-up from a thread that is marked busy (its allocations pass
 * straight through). Returns 0, or LT_ENOENT when the library's own code
 * cannot be found (frames are then not skipped). */
int lt_nativestack_init(void);

/* Writes up to `max` (at most LT_NATIVESTACK_MAX) return addresses of the
 * calling thread, innermost first, starting with the caller of the
 * interposed function, and returns how many. Never allocates through an
 * interposed allocator, takes no lock of ours (the unwinder may take its
 * own and the loader's), so it runs inside the hooks, outside the tables'
 * lock. Any thread. */
int lt_nativestack_capture(uintptr_t *out, int max);

/* "libunwind" or "backtrace": the unwinder this build uses. */
const char *lt_nativestack_unwinder(void);

#endif

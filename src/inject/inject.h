/* The entry point of libleaktrace_inject.so, called by gdb inside the
 * process `leaktrace attach` observes (see docs/architecture.md, "Attach").
 * The library links neither libpython nor src/core. */
#ifndef LT_INJECT_H
#define LT_INJECT_H

/* Starts a detached thread that waits for the GIL (PyGILState_Ensure),
 * then compiles and runs PATH/payload.py in fresh globals holding `_lt_dir`
 * (PATH as str), and exits. A failure to run it is written as one line to
 * PATH/error. `path` is copied (strdup): the caller keeps it and frees it
 * with the allocator it came from (gdb's call to malloc may reach another
 * malloc than the one this library is bound to, e.g. under a sanitizer).
 *
 * Called at a point where the calling thread holds no allocator lock (gdb
 * stops it at the entry of malloc, calloc, realloc or free, with every
 * breakpoint disabled): it allocates only what pthread_create does.
 * Returns 0, or an errno value when no thread could be started. */
__attribute__((visibility("default"))) int lt_inject_start(const char *path);

#endif

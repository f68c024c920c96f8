/* The preload library's capture file (LEAKTRACE_CAPTURE): checkpoints of
 * the native allocation sites written by a background thread, started by
 * the first sampled allocation, every LEAKTRACE_NATIVE_INTERVAL seconds
 * (default 1), and a last one with the trailer at exit. Frames are
 * symbolised as they are first written (lt_symbolize), never in a hook. */
#ifndef LT_WRITER_H
#define LT_WRITER_H

#include <stdint.h>

/* Remembers where to write (path NULL or "": nowhere) and the sampling
 * mean for the header, and takes LEAKTRACE_CAPTURE out of the environment
 * so that programs this one execs do not write over the file; a path with
 * "%p" (replaced by the pid) is left there, since each process then writes
 * its own. Opens nothing yet. Called once at set-up, busy, before
 * recording starts. */
void lt_plw_configure(const char *path, uint64_t mean);

/* Starts the background thread, once, if a capture is wanted. Called by
 * the hooks after a sample, busy and without the tables' lock. */
void lt_plw_maybe_start(void);

/* Writes a checkpoint now. Returns 0; LT_ENOENT when no capture is
 * wanted; or the writer's error (the capture then stops). Not from a hook. */
int lt_plw_checkpoint(void);

/* The capture's descriptor, or -1. */
int lt_plw_fd(void);

/* At exit: stops the thread, writes a last checkpoint and the trailer,
 * closes the file. Later calls do nothing. */
void lt_plw_finish(void);

/* Fork handlers, called by preload.c's in lock order: the child has no
 * writer thread and must not write to its parent's file, so it writes
 * nothing. */
void lt_plw_atfork_prepare(void);
void lt_plw_atfork_parent(void);
void lt_plw_atfork_child(void);

#endif

/* The capture file: a compact, versioned, append-only binary record of a
 * tracked run (docs/capture-format.md). The writer appends whole records to a
 * file descriptor as the program runs; the reader walks a buffer holding a
 * file, complete or cut short at any byte, and never reads outside it. */
#ifndef LT_CAPTURE_H
#define LT_CAPTURE_H

#include "alloc.h"
#include "strbuf.h"

#include <stddef.h>
#include <stdint.h>

/* A reader understands every minor version of its own major version: a new
 * minor version only appends fields to records or adds record types that
 * older readers skip. Anything else bumps the major version. */
#define LT_CAPTURE_VERSION_MAJOR 1
#define LT_CAPTURE_VERSION_MINOR 0

/* The file starts with these 8 bytes (PNG's trick: a high byte, CR LF and
 * ^Z so that text-mode transfers and 7-bit channels are detected), then the
 * major and minor version as little-endian 16-bit numbers. */
#define LT_CAPTURE_MAGIC "\x89LTC\r\n\x1a\n"
#define LT_CAPTURE_MAGIC_LEN 8
#define LT_CAPTURE_PREAMBLE_LEN 12

/* Limits that both sides enforce: a longer record is corrupt, a file with
 * more entries than this is refused by the writer (LT_ERANGE). */
#define LT_CAPTURE_MAX_RECORD (1u << 30)    /* payload bytes of one record */
#define LT_CAPTURE_MAX_ID 0xfffffffeu       /* largest string/frame/stack id */
#define LT_CAPTURE_MAX_DEPTH 65536u         /* frames in one stack */
#define LT_CAPTURE_MAX_ARGC 65536u

/* "No string" for a frame's file or function. */
#define LT_CAPTURE_NONE 0xffffffffu

/* Open descriptors are counted per kind in lt_fd_kind_t's order (procfs.h):
 * file, socket, pipe, anon_inode, other. */
#define LT_CAPTURE_FD_KINDS 5

typedef enum lt_capture_type {
    LT_CAPTURE_HEADER = 1,
    LT_CAPTURE_STRING = 2,
    LT_CAPTURE_FRAME = 3,
    LT_CAPTURE_STACK = 4,
    LT_CAPTURE_CHECKPOINT = 5,
    LT_CAPTURE_TRAILER = 6,
} lt_capture_type_t;

/* How allocations were tracked. Readers keep values they do not know. */
typedef enum lt_capture_mode {
    LT_CAPTURE_MODE_OFF = 0,        /* no allocation tracking: census and process facts only */
    LT_CAPTURE_MODE_SAMPLED = 1,    /* Poisson byte sampling, sample_mean bytes apart */
    LT_CAPTURE_MODE_TRACE = 2,      /* every allocation */
} lt_capture_mode_t;

/* "off", "sampled", "trace", or NULL for a value this version does not know. */
const char *lt_capture_mode_name(uint64_t mode);

/* A frame: a Python frame (file, function, line) or a native one (its
 * instruction address; file and function may name the library and symbol). */
#define LT_CAPTURE_FRAME_NATIVE 1u
typedef struct lt_capture_frame {
    uint32_t file;              /* string id, or LT_CAPTURE_NONE */
    uint32_t function;          /* string id, or LT_CAPTURE_NONE */
    uint32_t line;              /* 0 when unknown */
    uint32_t flags;             /* LT_CAPTURE_FRAME_NATIVE */
    uint64_t address;           /* native frames only; 0 otherwise */
} lt_capture_frame_t;

/* One row of a checkpoint table: live bytes and count per allocation site
 * (id = stack id) or per type in the census (id = the type name's string
 * id). */
typedef struct lt_capture_row {
    uint32_t id;
    uint64_t bytes;
    uint64_t count;
} lt_capture_row_t;

/* The state of the program at one moment. The writer takes the full state
 * and stores only what changed since the previous checkpoint; the reader
 * gives back the full state. */
typedef struct lt_capture_checkpoint {
    uint64_t time_ns;           /* since the start of the capture (monotonic clock) */
    uint64_t rss_bytes;
    uint64_t py_heap_bytes;     /* held by the Python allocators */
    uint64_t native_heap_bytes; /* native heap, 0 when not tracked */
    uint64_t fds[LT_CAPTURE_FD_KINDS];
    uint64_t threads;
    const lt_capture_row_t *sites;  /* live allocations per stack, unique ids */
    size_t nsites;
    int has_census;             /* census rows below are meaningful */
    const lt_capture_row_t *census; /* live objects per type name, unique ids */
    size_t ncensus;
} lt_capture_checkpoint_t;

/* ---- Writer ---------------------------------------------------------------
 * Threading: a writer has no lock. It may be used from any thread, such as a
 * dedicated checkpoint thread, but by one thread at a time: callers that
 * feed it from several threads serialise the calls themselves. No call takes
 * the GIL or touches Python; memory comes only from the injected allocator
 * (never malloc, never stdio), and the only system calls are write(2),
 * fsync(2) and, in open, clock_gettime and getpid. Not async-signal-safe
 * (the allocator need not be).
 *
 * Each record is built in memory and handed to one write(2) call (more only
 * if the kernel writes it partly), so a killed process leaves at most one
 * torn record at the end, which the reader reports as a truncation. */

/* What the header records about the run. */
typedef struct lt_capture_meta {
    uint64_t created_ns;        /* wall clock at the start, ns since the epoch; 0 = now */
    uint64_t pid;               /* 0 = this process */
    const char *python_version; /* e.g. "3.11.7"; NULL = unknown ("") */
    size_t argc;
    const char *const *argv;    /* argc NUL-terminated strings (NULL if argc is 0) */
    uint64_t sample_mean;       /* mean bytes between samples (sampled mode), else 0 */
    uint64_t mode;              /* an lt_capture_mode_t */
} lt_capture_meta_t;

#define LT_CAPTURE_FSYNC 1u     /* fsync(2) after each checkpoint and at finish */

/* All fields are private; bytes_written and the counts may be read. */
typedef struct lt_capture_writer {
    const lt_alloc_t *a;
    int fd;                     /* borrowed: the caller opens and closes it */
    unsigned flags;
    int error;                  /* sticky write error (negative), or 0 */
    int finished;
    uint64_t bytes_written;
    uint32_t nstrings, nframes, nstacks;
    uint64_t ncheckpoints;
    lt_strbuf_t rec;            /* the record being built */
    lt_capture_checkpoint_t prev; /* scalars of the previous checkpoint */
    lt_capture_row_t *sites, *sites_next, *census, *census_next;
    size_t nsites, sites_cap, sites_next_cap;
    size_t ncensus, census_cap, census_next_cap;
} lt_capture_writer_t;

/* Starts a capture on `fd`, which should be a new, empty file opened for
 * writing (O_APPEND is fine, and so is a pipe), and writes the preamble and
 * header. The writer borrows fd and `a` (both must outlive it); meta's
 * strings are copied out before this returns. Returns 0, LT_EINVAL (bad
 * arguments, argc over LT_CAPTURE_MAX_ARGC), LT_ENOMEM, or -errno of a
 * failed write. On error nothing is held and nothing needs releasing (a
 * failed write may have left part of the header in the file). */
int lt_capture_writer_open(lt_capture_writer_t *w, const lt_alloc_t *a, int fd, const lt_capture_meta_t *meta,
                           unsigned flags);

/* Each add appends one record and sets *id (if not NULL) to the new entry's
 * id: strings, frames and stacks are numbered separately from 0 in the order
 * they are added. Deduplication is the caller's job. Each returns 0,
 * LT_EINVAL (an id that was not handed out yet, a NULL pointer with a
 * non-zero length, or the writer is finished), LT_ERANGE (over a limit
 * above), LT_ENOMEM (nothing was written: the call may be retried), or the
 * writer's sticky write error: once a write has failed (-errno, e.g.
 * -ENOSPC) every later call returns that error, because a record appended
 * after a torn one could not be read. They may allocate (the record buffer
 * grows to the largest record). */
int lt_capture_writer_add_string(lt_capture_writer_t *w, const char *s, size_t len, uint32_t *id);
int lt_capture_writer_add_frame(lt_capture_writer_t *w, const lt_capture_frame_t *f, uint32_t *id);
/* `frames` lists frame ids, innermost first; n may be 0 (an unknown stack). */
int lt_capture_writer_add_stack(lt_capture_writer_t *w, const uint32_t *frames, size_t n, uint32_t *id);

/* Appends a checkpoint. cp holds the full state: rows in any order, ids
 * unique (LT_EINVAL otherwise, as for ids not yet added); only changes
 * against the previous checkpoint are written (the census against the
 * previous checkpoint that had one). The rows are copied: cp may be freed
 * afterwards. Errors as for the adds; on LT_ENOMEM the previous state is
 * kept, so the next checkpoint is encoded correctly. With LT_CAPTURE_FSYNC,
 * an fsync failure other than "not supported by this file" is returned
 * (-errno) after the record was written. */
int lt_capture_writer_checkpoint(lt_capture_writer_t *w, const lt_capture_checkpoint_t *cp);

/* Appends the trailer, which marks a clean end (end_ns: since the start,
 * like checkpoint times), and fsyncs with LT_CAPTURE_FSYNC. Later adds
 * return LT_EINVAL. Errors as for the adds. Does not close fd. */
int lt_capture_writer_finish(lt_capture_writer_t *w, uint64_t end_ns);

/* Frees the writer's memory (finished or not; a capture without a trailer
 * is still readable). Never fails; does not close fd. */
void lt_capture_writer_release(lt_capture_writer_t *w);

/* ---- Reader ---------------------------------------------------------------
 * The reader walks a buffer that holds a capture file (read or mapped by the
 * caller), one record per call, and keeps the tables (strings, frames,
 * stacks) and the full state of the last checkpoint. Every length and count
 * is checked against the bytes that remain and the limits above, and every
 * id must refer to an earlier record, so any input is safe to read: bad
 * input stops reading, it never crashes. Memory comes from the injected
 * allocator and is bounded by a small multiple of the buffer's size. Not
 * thread-safe; never touches Python. */

typedef enum lt_capture_stop {
    LT_CAPTURE_READING = 0,     /* more records may follow */
    LT_CAPTURE_COMPLETE,        /* the trailer was read and the file ends there */
    LT_CAPTURE_UNFINISHED,      /* the file ends between records, with no trailer:
                                 * the writer was killed there, or is still writing */
    LT_CAPTURE_TRUNCATED,       /* the file ends inside a record: cut while it was
                                 * being written (normal after a kill) */
    LT_CAPTURE_CORRUPT,         /* a record fails its checksum or the format's rules */
} lt_capture_stop_t;

/* A string inside the caller's buffer: not NUL-terminated, valid while the
 * buffer is. Capture strings are UTF-8 by convention; the reader does not
 * check that. */
typedef struct lt_capture_str {
    const char *s;
    size_t len;
} lt_capture_str_t;

typedef struct lt_capture_header {
    unsigned major, minor;      /* set as soon as the preamble was read */
    uint64_t created_ns;
    uint64_t pid;
    lt_capture_str_t python_version;
    size_t argc;
    lt_capture_str_t *argv;     /* owned by the reader */
    uint64_t sample_mean;
    uint64_t mode;
} lt_capture_header_t;

typedef struct lt_capture_trailer {
    uint64_t end_ns;
    uint64_t strings, frames, stacks, checkpoints;
} lt_capture_trailer_t;

/* Reader flags: LT_CAPTURE_READ_NO_CHECKSUM skips checksum verification (to
 * salvage a damaged file, and for fuzzing the rest of the rules). */
#define LT_CAPTURE_READ_NO_CHECKSUM 1u

typedef struct lt__capture_span {
    size_t start;               /* index of the first frame id in the pool */
    size_t n;
} lt__capture_span_t;

/* Fields marked "read" may be read by the caller; the rest are private. */
typedef struct lt_capture_reader {
    lt_capture_header_t header;         /* read */
    lt_capture_stop_t stop;             /* read */
    const char *why;                    /* read: static text saying why reading stopped
                                         * (or open failed); NULL while reading or when complete */
    size_t stop_offset;                 /* read: where the record that stopped reading starts */
    size_t offset;                      /* read: end of the last record read */
    uint64_t records;                   /* read: records read, header included */
    uint64_t skipped;                   /* read: records of unknown types skipped */
    uint32_t nstrings, nframes, nstacks; /* read */
    uint64_t ncheckpoints;              /* read */
    lt_capture_checkpoint_t checkpoint; /* read: full state after the last checkpoint */
    int has_trailer;                    /* read */
    lt_capture_trailer_t trailer;       /* read, when has_trailer */

    const lt_alloc_t *a;
    const unsigned char *buf;
    size_t len;
    unsigned flags;
    lt_capture_str_t *strings;
    size_t strings_cap;
    lt_capture_frame_t *frames;
    size_t frames_cap;
    lt__capture_span_t *stacks;         /* per stack: its frame ids in the pool */
    size_t stacks_cap;
    uint32_t *pool;                     /* frame ids of all stacks */
    size_t pool_len, pool_cap;
    lt_capture_row_t *sites, *sites_next, *census, *census_next;
    size_t nsites, sites_cap, sites_next_cap;
    size_t ncensus, census_cap, census_next_cap;
    int census_seen;
} lt_capture_reader_t;

/* Reads the preamble and the header of the capture in buf[0..len). The
 * reader borrows buf and `a`; both must outlive it. Returns 0, or:
 * LT_EFORMAT when buf is not a capture this reader can read (empty, foreign
 * magic bytes, a version of another major number, a header that is cut or
 * fails its checksum): r->why says why in a few words and, when the
 * preamble was read, r->header.major/minor tell the version; LT_ENOMEM;
 * or LT_EINVAL (no allocator, or a NULL buf with len > 0). On error the
 * reader holds nothing and needs no release. */
int lt_capture_reader_open(lt_capture_reader_t *r, const lt_alloc_t *a, const void *buf, size_t len,
                           unsigned flags);

/* Reads the next record. Returns 1 and sets *type to the record's type
 * (never HEADER, which open read; unknown types are skipped and counted);
 * for a STRING, FRAME or STACK the new entry is the last one (id n - 1), for
 * a CHECKPOINT r->checkpoint holds the new full state, for the TRAILER
 * r->trailer is set. Returns 0 once no record follows: r->stop says why
 * (COMPLETE, UNFINISHED, TRUNCATED or CORRUPT) and r->why, r->stop_offset
 * where; later calls return 0 too. Returns LT_ENOMEM when memory ran out:
 * nothing was consumed and a later call may retry. */
int lt_capture_reader_next(lt_capture_reader_t *r, lt_capture_type_t *type);

/* The entries read so far, by id; NULL for an id not read (yet). The string
 * points into the buffer (*len bytes, not NUL-terminated); the frame and
 * the stack's frame ids (*n of them, innermost first) are owned by the
 * reader and valid until the next call to next or release. */
const char *lt_capture_reader_string(const lt_capture_reader_t *r, uint32_t id, size_t *len);
const lt_capture_frame_t *lt_capture_reader_frame(const lt_capture_reader_t *r, uint32_t id);
const uint32_t *lt_capture_reader_stack(const lt_capture_reader_t *r, uint32_t id, size_t *n);

/* Frees everything the reader holds; r->checkpoint's rows go with it. */
void lt_capture_reader_release(lt_capture_reader_t *r);

/* CRC-32C (Castagnoli) of buf, continuing from `crc` (0 to start): the
 * checksum of every record. For tests and tools that build records. */
uint32_t lt__capture_crc32c(uint32_t crc, const void *buf, size_t len);

#endif

/* What kind of leak a finding is, what type to report, and a fix hint in
 * plain words that name the program's own symbols:
 *   "INVOICES in billing.py grows by 850 entries/s and is never trimmed:
 *    bound it, e.g. functools.lru_cache(maxsize=...) or a TTL, or drop
 *    entries when done"
 *
 * The rules, first match wins (rule names are lt_classify_rule_t):
 *  NATIVE     kind NATIVE                                   -> native
 *             (what "native", type "native")
 *  THREAD     kind THREADS, or a threading.Thread/Timer type or subclass
 *             (is_thread)                                   -> thread
 *             (what "resource"; type the Thread type, "threading.Thread"
 *             for bare OS threads)
 *  RESOURCE   kind FDS or FD_KIND, is_resource, or a type in the table of
 *             known resource types (_io files, socket.socket, ssl.SSLSocket,
 *             sqlite3.Connection/Cursor, subprocess.Popen, selectors,
 *             select.epoll, mmap, tempfile, zipfile, tarfile)
 *                                                           -> unclosed-resource
 *             (what "resource"; type: the type, or for descriptors the
 *             related_type the caller matched, else "fd")
 *  EXCEPTION  is_exception, a builtin name ending in Error/Exception/
 *             Warning, "traceback", or a holder path through
 *             .__traceback__/.tb_frame/.tb_next/.__context__/.__cause__
 *                                                           -> exception-traceback
 *  CYCLE      most sampled objects (ncycle_only * 2 >= nsampled > 0) or the
 *             holder path are reachable only through reference cycles
 *             ("<not reachable from a root>" ... "reference cycle")
 *                                                           -> reference-cycle
 *  CALLBACK   a callable type (function, method, builtin_function_or_method,
 *             functools.partial, cell, method-wrapper), the atexit root
 *             ("atexit callbacks", or "module atexit" up to 3.9),
 *             or a user type held by a registry-like name (callback,
 *             handler, hook, listener, observer, subscriber, on_...)
 *                                                           -> callback-registration
 *  GENERATOR  generator, coroutine, async_generator         -> other
 *  QUEUE      held in a container reached from a root whose type or name
 *             says queue (queue.Queue, deque, "queue", "backlog", "pending",
 *             "inbox")                                      -> unbounded-container
 *  CONTAINER  held in a container reached from a root (the path ends in
 *             subscripts: "['k']", "[3]", "{...} element", "key ..."), or a
 *             container type (dict, list, set, deque, OrderedDict,
 *             defaultdict) that is itself the growing object -> unbounded-container
 *  GLOBAL     a non-container reached through attributes only from a module
 *             (a global str/bytes/object accumulating)      -> other
 *  OTHER      anything else                                 -> other
 * what is "objects" for types, "memory" for sites and the Python heap,
 * "resource" and "native" as above.
 *
 * SCENARIOS.md, scenario by scenario:
 *   1 reference cycles (worse with __del__ or gc off)     CYCLE      reference-cycle
 *   2 module-global variables and caches                  CONTAINER  unbounded-container
 *   3 a cache storing whole inputs/outputs                CONTAINER  unbounded-container
 *                                                         (the hint adds "store only what
 *                                                         you need" past 4 KiB an entry)
 *   4 unclosed file handles                               RESOURCE   unclosed-resource
 *   5 unclosed database connections (sqlite3)             RESOURCE   unclosed-resource
 *   6 ctypes buffers, C-extension allocations             NATIVE     native
 *   7 large structures kept alive after use               CONTAINER  unbounded-container
 *                                                         (lists: "stream with a generator")
 *   8 signal handlers / callbacks never removed           CALLBACK   callback-registration
 *   9 generators and iterators kept referenced            GENERATOR  other
 *  10 threads never joined                                THREAD     thread
 *  11 exceptions kept in loops                            EXCEPTION  exception-traceback
 *  12 producer faster than consumer on a queue            QUEUE      unbounded-container
 *  15 global state mutated in loops                       CONTAINER  unbounded-container,
 *                                                         or GLOBAL (other) when the global
 *                                                         is not a container
 *  (13 and 14 are warnings, not leaks: not classified here.)
 *
 * Holder paths are those of the census' holder search (paths.c): root
 * first, e.g. ["module billing", ".INVOICES", "['inv-1466']"] or
 * ["thread MainThread frame handle() local 'payload'", "[3]"]. The holder
 * named in the hint is the path after the root without its trailing
 * entries (subscripts, set elements, keys), traceback links and the links
 * of a callback to what it binds (.__self__, .__func__, closure cells): "INVOICES",
 * "Hooks.on_paid", or "payload" (a local of handle()). The file is the
 * module's ("billing" -> "billing.py"; the allocation site's basename when
 * its stem matches, and for __main__). */
#ifndef LT_CLASSIFY_H
#define LT_CLASSIFY_H

#include "alloc.h"
#include "report.h"
#include "timeline.h"

#include <stddef.h>

typedef enum lt_classify_rule {
    LT_RULE_NATIVE = 0,
    LT_RULE_THREAD,
    LT_RULE_RESOURCE,
    LT_RULE_EXCEPTION,
    LT_RULE_CYCLE,
    LT_RULE_CALLBACK,
    LT_RULE_GENERATOR,
    LT_RULE_QUEUE,
    LT_RULE_CONTAINER,
    LT_RULE_GLOBAL,
    LT_RULE_OTHER,
} lt_classify_rule_t;

/* "native", "thread", ..., "other": the rule's name. Static. */
const char *lt_classify_rule_name(lt_classify_rule_t rule);

typedef struct lt_classify_in {
    lt_cand_kind_t kind;
    const char *type;           /* qualified type name ("billing.Invoice", "dict"), or NULL */
    const char *const *holder_path;     /* one sampled object's holder path, root first */
    size_t nholder_path;
    const char *holder_type;    /* type of the object holding the growing ones, or NULL */
    size_t nsampled;            /* objects the paths were searched for; 0 = no search */
    size_t ncycle_only;         /* of them, reachable only through reference cycles */
    int gc_disabled;            /* gc.isenabled() was false */
    int is_resource;            /* the caller knows the type holds an OS resource */
    int is_exception;           /* the type derives from BaseException */
    int is_thread;              /* the type derives from threading.Thread */
    const char *thread_name;    /* THREAD: the name of one of the threads ("watch-12"), or NULL */
    const char *thread_target;  /* THREAD: the function it runs ("_watch_upload"), or NULL */
    const char *related_type;   /* FDS/FD_KIND/THREADS: the type growing with them, or NULL */
    int fd_kind;                /* FD_KIND: an lt_fd_kind_t (procfs.h); else ignored */
    double thread_growth;       /* OS threads per second (THREADS) */
    double count_per_second;    /* the finding's rates (0 when unknown) */
    double bytes_per_second;
    int has_site;
    lt_report_frame_t site;     /* the allocation site, innermost user frame */
} lt_classify_in_t;

typedef struct lt_classify_out {
    const char *category;       /* LT_CAT_* (static) */
    const char *what;           /* LT_WHAT_* (static) */
    const char *type;           /* the type to report (static or in the arena) */
    const char *holder;         /* the holder named in the hint ("INVOICES"), or NULL */
    const char *where;          /* its file ("billing.py"), or NULL */
    const char *hint;           /* one or two sentences (in the arena) */
    lt_classify_rule_t rule;
} lt_classify_out_t;

/* Classifies one finding. Strings of *out are static or allocated in
 * `arena` (nothing points into *in). Returns 0, LT_EINVAL (a NULL
 * argument, a NULL path with a length) or LT_ENOMEM (the arena could not
 * grow; *out is zeroed, and what the arena got stays in it until it is
 * released). Pure apart from the arena; thread-safe for distinct arenas.
 * A hint is at most 1023 bytes; long names are cut with "...". */
int lt_classify(const lt_classify_in_t *in, lt_arena_t *arena, lt_classify_out_t *out);

#endif

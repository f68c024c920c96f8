/* lt_classify: category, reported type and fix hint of one finding, from
 * its kind, type, holder path and flags (rules in classify.h). */
#include "classify.h"
#include "errors.h"
#include "procfs.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *lt_classify_rule_name(lt_classify_rule_t rule)
{
    switch (rule) {
    case LT_RULE_NATIVE: return "native";
    case LT_RULE_THREAD: return "thread";
    case LT_RULE_RESOURCE: return "resource";
    case LT_RULE_EXCEPTION: return "exception";
    case LT_RULE_CYCLE: return "cycle";
    case LT_RULE_CALLBACK: return "callback";
    case LT_RULE_GENERATOR: return "generator";
    case LT_RULE_QUEUE: return "queue";
    case LT_RULE_CONTAINER: return "container";
    case LT_RULE_GLOBAL: return "global";
    case LT_RULE_OTHER: return "other";
    }
    return "unknown";
}

/* ---- A bounded text buffer on the stack ---------------------------------- */

#define TEXT_MAX 1024

typedef struct text {
    char buf[TEXT_MAX];
    size_t len;
    int cut;
} text_t;

static void text_put(text_t *t, const char *s, size_t n)
{
    if (s == NULL)
        return;
    size_t room = TEXT_MAX - 1 - t->len;
    if (n > room) {
        n = room;
        t->cut = 1;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void text_puts(text_t *t, const char *s)
{
    if (s != NULL)
        text_put(t, s, strlen(s));
}

static void text_printf(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(text_t *t, const char *fmt, ...)
{
    char tmp[TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(tmp)) {
        n = (int)sizeof(tmp) - 1;
        t->cut = 1;
    }
    text_put(t, tmp, (size_t)n);
}

/* Copies at most `max` bytes of s, marking a cut with "...". */
static void text_name(text_t *t, const char *s, size_t max)
{
    if (s == NULL)
        return;
    size_t n = strlen(s);
    if (n <= max) {
        text_put(t, s, n);
        return;
    }
    text_put(t, s, max);
    text_puts(t, "...");
}

static const char *text_keep(text_t *t, lt_arena_t *arena)
{
    if (t->cut && t->len >= 3)
        memcpy(t->buf + t->len - 3, "...", 3);
    return lt_arena_strndup(arena, t->buf, t->len);
}

/* ---- Numbers in words ------------------------------------------------------ */

/* "850", "12", "3.5", "0.25": about three significant digits. */
static void put_count(text_t *t, double x)
{
    char b[64];
    if (!(x == x) || x < 0)
        x = 0;
    if (x >= 10)
        snprintf(b, sizeof(b), "%.0f", x);
    else if (x >= 1)
        snprintf(b, sizeof(b), "%.1f", x);
    else
        snprintf(b, sizeof(b), "%.2f", x);
    size_t n = strlen(b);
    if (n > 2 && strcmp(b + n - 2, ".0") == 0)
        b[n - 2] = '\0';
    text_puts(t, b);
}

/* "512 B", "85 KiB", "2.1 MiB", "1.5 GiB". */
static void put_bytes(text_t *t, double x)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;
    if (!(x == x) || x < 0)
        x = 0;
    while (x >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        x /= 1024;
        u++;
    }
    put_count(t, x);
    text_puts(t, " ");
    text_puts(t, units[u]);
}

/* ---- Names ------------------------------------------------------------------ */

static int str_in(const char *s, const char *const *list)
{
    if (s == NULL)
        return 0;
    for (; *list != NULL; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

static int starts(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int ends(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Case-insensitive substring test on ASCII letters. */
static int contains_ci(const char *s, const char *word)
{
    if (s == NULL)
        return 0;
    size_t m = strlen(word);
    for (; *s != '\0'; s++) {
        size_t i = 0;
        while (i < m && s[i] != '\0') {
            char c = s[i];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            if (c != word[i])
                break;
            i++;
        }
        if (i == m)
            return 1;
    }
    return 0;
}

enum { RES_NONE, RES_FILE, RES_SOCKET, RES_PIPE, RES_EVENT, RES_SQLITE, RES_CURSOR, RES_POPEN, RES_SELECTOR, RES_OTHER };

static const struct {
    const char *type;
    int flavour;
} resource_types[] = {
    {"_io.TextIOWrapper", RES_FILE},
    {"_io.BufferedReader", RES_FILE},
    {"_io.BufferedWriter", RES_FILE},
    {"_io.BufferedRandom", RES_FILE},
    {"_io.FileIO", RES_FILE},
    {"tempfile._TemporaryFileWrapper", RES_FILE},
    {"tempfile.SpooledTemporaryFile", RES_FILE},
    {"zipfile.ZipFile", RES_FILE},
    {"tarfile.TarFile", RES_FILE},
    {"mmap.mmap", RES_FILE},
    {"socket.socket", RES_SOCKET},
    {"_socket.socket", RES_SOCKET},
    {"ssl.SSLSocket", RES_SOCKET},
    {"multiprocessing.connection.Connection", RES_PIPE},
    {"sqlite3.Connection", RES_SQLITE},
    {"sqlite3.Cursor", RES_CURSOR},
    {"subprocess.Popen", RES_POPEN},
    {"selectors.EpollSelector", RES_SELECTOR},
    {"selectors.PollSelector", RES_SELECTOR},
    {"selectors.SelectSelector", RES_SELECTOR},
    {"selectors.KqueueSelector", RES_SELECTOR},
    {"selectors.DevpollSelector", RES_SELECTOR},
    {"select.epoll", RES_SELECTOR},
};

static int resource_flavour(const char *type)
{
    if (type == NULL)
        return RES_NONE;
    for (size_t i = 0; i < sizeof(resource_types) / sizeof(resource_types[0]); i++)
        if (strcmp(type, resource_types[i].type) == 0)
            return resource_types[i].flavour;
    return RES_NONE;
}

static const char *const callable_types[] = {"function", "method", "builtin_function_or_method", "functools.partial",
                                             "cell", "method-wrapper", "weakref.WeakMethod", NULL};
static const char *const container_types[] = {"dict", "list", "set", "collections.deque", "collections.OrderedDict",
                                              "collections.defaultdict", NULL};
static const char *const queue_types[] = {"queue.Queue", "queue.SimpleQueue", "queue.LifoQueue", "queue.PriorityQueue",
                                          "_queue.SimpleQueue", "asyncio.Queue", "asyncio.queues.Queue",
                                          "collections.deque", NULL};
static const char *const generator_types[] = {"generator", "coroutine", "async_generator", NULL};
static const char *const thread_types[] = {"threading.Thread", "threading.Timer", "threading._DummyThread", NULL};
static const char *const registry_words[] = {"callback", "handler", "hook", "listener", "observer", "subscriber",
                                             "on_", "receiver", "watcher", NULL};
static const char *const backref_names[] = {"parent", "owner", "prev", "previous", "back", "container", "outer",
                                            "manager", "root", NULL};

/* A registry-like name: "Hooks.on_paid", "_handlers", "listeners". */
static int registry_name(const char *s)
{
    for (const char *const *w = registry_words; *w != NULL; w++)
        if (contains_ci(s, *w))
            return 1;
    return 0;
}

/* A builtin exception: no module prefix, a conventional suffix. */
static int builtin_exception(const char *type)
{
    if (type == NULL || strchr(type, '.') != NULL)
        return 0;
    return ends(type, "Error") || ends(type, "Exception") || ends(type, "Warning") ||
           strcmp(type, "KeyboardInterrupt") == 0 || strcmp(type, "StopIteration") == 0 ||
           strcmp(type, "SystemExit") == 0;
}

/* ---- Holder paths -------------------------------------------------------- */

enum { ROOT_NONE, ROOT_MODULE, ROOT_LOCAL, ROOT_ATEXIT, ROOT_UNREACHABLE, ROOT_OTHER };

typedef struct holder {
    int root;
    char module[128];           /* ROOT_MODULE: the module's name */
    char func[128];             /* ROOT_LOCAL: the function's name */
    char sym[256];              /* the holder's name as the program spells it; "" if none */
    int entries;                /* the path ended in entries (subscripts, elements, keys) */
    int attrs_only;             /* after the root, attributes only */
    int via_traceback;          /* through a traceback link */
    int queue_attr;             /* a trailing .queue (queue.Queue's deque) was dropped */
    int cycle;                  /* unreachable, "reference cycle" */
    char backref[64];           /* the back-reference attribute of a cycle, "" if none */
} holder_t;

static int elem_entry(const char *e)
{
    return e[0] == '[' || starts(e, "{...}") || starts(e, "key ");
}

static int elem_traceback(const char *e)
{
    static const char *const links[] = {".__traceback__", ".tb_frame", ".tb_next", ".__context__", ".__cause__",
                                        ".f_back", NULL};
    return str_in(e, links);
}

/* A link from a callback to what it is bound to or closes over: the
 * registry holds the bound method or the closure, so the holder is the
 * registry, as for a traceback link. */
static int elem_callable_link(const char *e)
{
    static const char *const links[] = {".__self__", ".__func__", ".__closure__", ".cell_contents", ".__wrapped__",
                                        NULL};
    return str_in(e, links) || starts(e, "cell '");
}

static void copy_cut(char *dst, size_t size, const char *s, size_t n)
{
    if (n >= size)
        n = size - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* Appends to the symbol, marking a cut. */
static void sym_put(holder_t *h, const char *s, size_t n)
{
    size_t len = strlen(h->sym);
    size_t room = sizeof(h->sym) - 1 - len;
    if (n > room) {
        n = room;
        if (room >= 3) {
            memcpy(h->sym + len, s, n - 3);
            memcpy(h->sym + len + n - 3, "...", 3);
            h->sym[len + n] = '\0';
            return;
        }
    }
    memcpy(h->sym + len, s, n);
    h->sym[len + n] = '\0';
}

static void parse_root(holder_t *h, const char *r)
{
    /* Up to 3.9 the atexit module keeps its callbacks in its own state,
     * which the path search reaches as the module: it is the registry. */
    if (strcmp(r, "module atexit") == 0) {
        h->root = ROOT_ATEXIT;
        return;
    }
    if (starts(r, "module ")) {
        h->root = ROOT_MODULE;
        copy_cut(h->module, sizeof(h->module), r + 7, strlen(r + 7));
        return;
    }
    if (strncmp(r, "atexit callbacks", 16) == 0) {
        h->root = ROOT_ATEXIT;
        return;
    }
    if (starts(r, "<not reachable from a root>")) {
        h->root = ROOT_UNREACHABLE;
        return;
    }
    const char *fr = strstr(r, " frame ");
    const char *loc = strstr(r, " local '");
    if (starts(r, "thread ") && fr != NULL && loc != NULL && loc > fr) {
        h->root = ROOT_LOCAL;
        const char *f = fr + 7;
        const char *paren = strstr(f, "()");
        copy_cut(h->func, sizeof(h->func), f, paren != NULL && paren < loc ? (size_t)(paren - f) : 0);
        const char *v = loc + 8;
        const char *q = strchr(v, '\'');
        sym_put(h, v, q != NULL ? (size_t)(q - v) : strlen(v));
        return;
    }
    h->root = ROOT_OTHER;
}

static void parse_path(holder_t *h, const char *const *path, size_t n)
{
    memset(h, 0, sizeof(*h));
    if (n == 0 || path[0] == NULL) {
        h->root = ROOT_NONE;
        return;
    }
    parse_root(h, path[0]);
    for (size_t i = 1; i < n; i++)
        if (path[i] != NULL && elem_traceback(path[i]))
            h->via_traceback = 1;
    if (h->root == ROOT_UNREACHABLE) {
        h->cycle = n > 1 && path[1] != NULL && strcmp(path[1], "reference cycle") == 0;
        /* After "<what>": the chain down to the target. A conventional
         * back-reference name wins, else the last attribute. */
        const char *last = NULL, *pref = NULL;
        for (size_t i = 3; i < n; i++) {
            const char *e = path[i];
            if (e == NULL || e[0] != '.' || elem_traceback(e))
                continue;
            last = e;
            if (str_in(e + 1, backref_names))
                pref = e;
        }
        const char *b = pref != NULL ? pref : last;
        if (b != NULL)
            copy_cut(h->backref, sizeof(h->backref), b, strlen(b));
        return;
    }
    /* The elements after the root, without trailing entries and
     * traceback links (the holder is what holds those). */
    size_t end = n;
    h->attrs_only = 1;
    for (size_t i = 1; i < n; i++)
        if (path[i] == NULL || path[i][0] != '.')
            h->attrs_only = 0;
    while (end > 1 && path[end - 1] != NULL &&
           (elem_entry(path[end - 1]) || elem_traceback(path[end - 1]) || elem_callable_link(path[end - 1]))) {
        if (elem_entry(path[end - 1]))
            h->entries = 1;
        end--;
    }
    if (h->entries && end > 2 && strcmp(path[end - 1], ".queue") == 0) {
        end--;
        h->queue_attr = 1;
    }
    for (size_t i = 1; i < end; i++) {
        const char *e = path[i];
        if (e == NULL)
            break;
        if (e[0] == '.') {
            if (h->sym[0] == '\0')
                sym_put(h, e + 1, strlen(e + 1));
            else
                sym_put(h, e, strlen(e));
        } else if (e[0] == '[') {
            /* An index on the way (OPEN_LOGS[481].fh) is one entry of
             * many alike: the holder is any of them. */
            if (e[1] >= '0' && e[1] <= '9')
                sym_put(h, "[i]", 3);
            else
                sym_put(h, e, strlen(e));
        } else {
            break;              /* a cell, a frame slot, a C field: the name so far */
        }
    }
}

/* The basename of a path. */
static const char *base_name(const char *file)
{
    if (file == NULL)
        return NULL;
    const char *s = strrchr(file, '/');
    return s != NULL ? s + 1 : file;
}

/* The file the holder lives in, into buf; NULL when unknown. */
static const char *holder_file(const holder_t *h, const lt_classify_in_t *in, char *buf, size_t size)
{
    const char *site = in->has_site ? base_name(in->site.file) : NULL;
    if (site != NULL && site[0] == '\0')
        site = NULL;
    if (h->root == ROOT_MODULE) {
        const char *m = strrchr(h->module, '.');
        m = m != NULL ? m + 1 : h->module;
        if (strcmp(m, "__main__") == 0 || m[0] == '\0')
            return site;
        size_t ml = strlen(m);
        if (site != NULL && strncmp(site, m, ml) == 0 && strcmp(site + ml, ".py") == 0)
            return site;
        snprintf(buf, size, "%s.py", m);
        return buf;
    }
    return site;
}

/* "INVOICES in billing.py", "the local payload of handle() in app.py". */
static void put_holder(text_t *t, const holder_t *h, const char *file)
{
    if (h->root == ROOT_LOCAL) {
        text_puts(t, "the local ");
        text_name(t, h->sym, 120);
        if (h->func[0] != '\0') {
            text_puts(t, " of ");
            text_name(t, h->func, 60);
            text_puts(t, "()");
        }
    } else {
        text_name(t, h->sym, 120);
    }
    if (file != NULL) {
        text_puts(t, " in ");
        text_name(t, file, 120);
    }
}

/* "worker.py:12" */
static void put_site(text_t *t, const lt_classify_in_t *in)
{
    text_name(t, base_name(in->site.file), 120);
    if (in->site.line > 0)
        text_printf(t, ":%lld", (long long)in->site.line);
}

static int have_site(const lt_classify_in_t *in)
{
    return in->has_site && in->site.file != NULL && in->site.file[0] != '\0';
}

/* " (allocated at f.py:10 in g())" style suffix pieces. */
static void put_site_fn(text_t *t, const lt_classify_in_t *in)
{
    put_site(t, in);
    if (in->site.function != NULL && in->site.function[0] != '\0') {
        text_puts(t, " in ");
        text_name(t, in->site.function, 60);
        text_puts(t, "()");
    }
}

/* "850 entries/s" or "85 KiB/s". */
static void put_growth(text_t *t, const lt_classify_in_t *in, const char *unit)
{
    if (in->count_per_second > 0) {
        put_count(t, in->count_per_second);
        text_printf(t, " %s/s", unit);
    } else {
        put_bytes(t, in->bytes_per_second);
        text_puts(t, "/s");
    }
}

/* ---- The rules ------------------------------------------------------------- */

static void hint_resource(text_t *t, const lt_classify_in_t *in, const char *type, int flavour, const holder_t *h,
                          const char *file)
{
    static const char *const fd_nouns[] = {"files", "sockets", "pipes", "event descriptors (epoll, eventfd, timerfd)",
                                           "descriptors"};
    if (type != NULL && strcmp(type, "fd") != 0) {
        text_name(t, type, 120);
        text_puts(t, " objects");
    } else {
        int k = in->kind == LT_CAND_FD_KIND && in->fd_kind >= 0 && in->fd_kind < LT_FD_KIND_COUNT ? in->fd_kind
                                                                                                  : LT_FD_OTHER;
        text_puts(t, in->kind == LT_CAND_FDS ? "file descriptors" : fd_nouns[k]);
    }
    text_puts(t, flavour == RES_POPEN ? " started" : " opened");
    if (have_site(in)) {
        text_puts(t, " at ");
        put_site(t, in);
    }
    if (flavour == RES_POPEN)
        text_puts(t, " are never waited for");
    else
        text_puts(t, " are never closed");
    if (in->count_per_second > 0) {
        text_puts(t, " (");
        put_count(t, in->count_per_second);
        text_puts(t, " more every second)");
    }
    /* Who keeps them open: what to close, or where to stop keeping them. */
    if (h != NULL) {
        text_puts(t, " and are kept in ");
        put_holder(t, h, file);
    }
    switch (flavour) {
    case RES_FILE: text_puts(t, ": use `with open(...)` or call close()"); break;
    case RES_SOCKET: text_puts(t, ": use `with socket.create_connection(...)` (or `with sock:`) or call close()"); break;
    case RES_PIPE: text_puts(t, ": close both ends when done (close(), or os.close for raw descriptors)"); break;
    case RES_EVENT:
    case RES_SELECTOR: text_puts(t, ": close() selectors and event loops when done, or reuse one"); break;
    case RES_SQLITE:
        text_puts(t, ": call close(), e.g. `with contextlib.closing(sqlite3.connect(...))` "
                     "(sqlite3's own `with` only commits), or use one connection or a pool");
        break;
    case RES_CURSOR: text_puts(t, ": close() each cursor, or reuse one"); break;
    case RES_POPEN: text_puts(t, ": call wait() or communicate(), or use `with subprocess.Popen(...)`"); break;
    default: text_puts(t, ": use a `with` block or call close()"); break;
    }
}

int lt_classify(const lt_classify_in_t *in, lt_arena_t *arena, lt_classify_out_t *out)
{
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (in == NULL || arena == NULL || out == NULL || (in->nholder_path > 0 && in->holder_path == NULL))
        return LT_EINVAL;

    const char *type = in->type != NULL && in->type[0] != '\0' ? in->type : NULL;
    int growing_container = str_in(type, container_types);
    holder_t h;
    parse_path(&h, in->holder_path, in->nholder_path);
    char filebuf[160];
    const char *file = holder_file(&h, in, filebuf, sizeof(filebuf));
    int has_holder = h.sym[0] != '\0' && h.root != ROOT_UNREACHABLE && h.root != ROOT_NONE;

    lt_classify_rule_t rule = LT_RULE_OTHER;
    const char *category = LT_CAT_OTHER;
    const char *what = in->kind == LT_CAND_SITE || in->kind == LT_CAND_HEAP ? LT_WHAT_MEMORY : LT_WHAT_OBJECTS;
    const char *rtype = type;
    int flavour = resource_flavour(type);
    if (flavour == RES_NONE && in->related_type != NULL)
        flavour = resource_flavour(in->related_type);
    text_t t;
    t.len = 0;
    t.cut = 0;
    t.buf[0] = '\0';

    if (in->kind == LT_CAND_NATIVE) {
        rule = LT_RULE_NATIVE;
        category = LT_CAT_NATIVE;
        what = LT_WHAT_NATIVE;
        rtype = "native";
        text_puts(&t, "memory outside Python's allocators grows by ");
        put_bytes(&t, in->bytes_per_second);
        text_puts(&t, "/s");
        if (have_site(in)) {
            text_puts(&t, ", allocated at ");
            put_site_fn(&t, in);
        } else {
            text_puts(&t, " (RSS minus the Python heap)");
        }
        text_puts(&t, ": a C extension or a ctypes buffer is never freed; free it on the C side "
                      "(or reuse one buffer instead of allocating per call)");
    } else if (in->kind == LT_CAND_THREADS || in->is_thread || str_in(type, thread_types) ||
               (in->related_type != NULL && str_in(in->related_type, thread_types))) {
        rule = LT_RULE_THREAD;
        category = LT_CAT_THREAD;
        what = LT_WHAT_RESOURCE;
        if (rtype == NULL)
            rtype = in->related_type != NULL ? in->related_type : "threading.Thread";
        if (strcmp(rtype, "threading.Thread") == 0)
            text_puts(&t, "Thread objects");
        else {
            text_name(&t, rtype, 120);
            text_puts(&t, " threads");
        }
        if (have_site(in)) {
            text_puts(&t, " started in ");
            put_site(&t, in);
        }
        text_puts(&t, " are never joined");
        double rate = in->count_per_second > 0 ? in->count_per_second : in->thread_growth;
        if (rate > 0) {
            text_puts(&t, " (");
            put_count(&t, rate);
            text_puts(&t, " more every second)");
        }
        /* A thread's own frame holding it says only that it still runs:
         * name the thread and what it runs instead. */
        int running = in->thread_target != NULL && in->thread_target[0] != '\0';
        if (has_holder && h.root != ROOT_LOCAL) {
            text_puts(&t, " and pile up in ");
            put_holder(&t, &h, file);
        }
        if (running || (in->thread_name != NULL && in->thread_name[0] != '\0')) {
            text_puts(&t, "; they still run");
            if (running) {
                text_puts(&t, " ");
                text_name(&t, in->thread_target, 120);
                text_puts(&t, "()");
            }
            if (in->thread_name != NULL && in->thread_name[0] != '\0') {
                text_puts(&t, " (e.g. thread ");
                text_name(&t, in->thread_name, 60);
                text_puts(&t, ")");
            }
            text_puts(&t, ": make ");
            text_puts(&t, running ? "it" : "them");
            text_puts(&t, " return (e.g. a timeout on what it waits for), then join them or use a "
                          "ThreadPoolExecutor");
        } else {
            text_puts(&t, ": join them or use a ThreadPoolExecutor");
        }
    } else if (in->kind == LT_CAND_FDS || in->kind == LT_CAND_FD_KIND || in->is_resource || flavour != RES_NONE) {
        rule = LT_RULE_RESOURCE;
        category = LT_CAT_UNCLOSED_RESOURCE;
        what = LT_WHAT_RESOURCE;
        if (in->kind == LT_CAND_FDS || in->kind == LT_CAND_FD_KIND) {
            rtype = in->related_type != NULL && in->related_type[0] != '\0' ? in->related_type : "fd";
            if (flavour == RES_NONE && in->kind == LT_CAND_FD_KIND) {
                static const int by_kind[] = {RES_FILE, RES_SOCKET, RES_PIPE, RES_EVENT, RES_OTHER};
                flavour = in->fd_kind >= 0 && in->fd_kind < LT_FD_KIND_COUNT ? by_kind[in->fd_kind] : RES_OTHER;
            }
        } else if (rtype == NULL) {
            rtype = "fd";
        }
        hint_resource(&t, in, rtype, flavour, has_holder ? &h : NULL, file);
    } else if (in->is_exception || builtin_exception(type) || (type != NULL && strcmp(type, "traceback") == 0) ||
               h.via_traceback) {
        rule = LT_RULE_EXCEPTION;
        category = LT_CAT_EXCEPTION_TRACEBACK;
        text_name(&t, type != NULL ? type : "exception", 120);
        text_puts(&t, " objects");
        if (has_holder) {
            text_puts(&t, " kept in ");
            put_holder(&t, &h, file);
            text_puts(&t, " keep");
        } else {
            text_puts(&t, " are kept with");
        }
        text_puts(&t, " their tracebacks, frames and locals alive: store str(exc) or call traceback.clear_frames");
    } else if ((in->nsampled > 0 && in->ncycle_only * 2 >= in->nsampled) || (h.root == ROOT_UNREACHABLE && h.cycle)) {
        rule = LT_RULE_CYCLE;
        category = LT_CAT_REFERENCE_CYCLE;
        text_name(&t, type != NULL ? type : "the growing", 120);
        text_puts(&t, " objects are only reachable through reference cycles");
        text_puts(&t, in->gc_disabled ? " (gc is disabled)" : " that the collector has not freed");
        text_puts(&t, ": break the back-reference");
        if (h.backref[0] != '\0') {
            text_puts(&t, " (");
            text_name(&t, h.backref, 60);
            text_puts(&t, ")");
        }
        text_puts(&t, in->gc_disabled ? " with weakref.ref or re-enable gc"
                                      : " with weakref.ref, or break the cycle when done");
    } else if (str_in(type, callable_types) || h.root == ROOT_ATEXIT ||
               (has_holder && (lt_timeline_user_type(type, type ? strlen(type) : 0) || type == NULL) &&
                h.entries && registry_name(h.sym))) {
        rule = LT_RULE_CALLBACK;
        category = LT_CAT_CALLBACK_REGISTRATION;
        if (h.root == ROOT_ATEXIT) {
            text_puts(&t, "atexit callbacks");
            if (have_site(in)) {
                text_puts(&t, " registered at ");
                put_site(&t, in);
            }
            text_puts(&t, " grow by ");
            put_count(&t, in->count_per_second);
            text_puts(&t, "/s: register once, or call atexit.unregister when done");
        } else {
            if (has_holder) {
                put_holder(&t, &h, file);
                text_puts(&t, " gains ");
            } else {
                text_name(&t, type != NULL ? type : "callback", 120);
                text_puts(&t, " callbacks");
                if (have_site(in)) {
                    text_puts(&t, " created at ");
                    put_site(&t, in);
                }
                text_puts(&t, " accumulate at ");
            }
            put_count(&t, in->count_per_second);
            text_puts(&t, has_holder ? " callbacks/s that are never removed" : "/s and are never removed");
            text_puts(&t, ": unregister them when done, or hold them with weakref.WeakMethod");
        }
    } else if (str_in(type, generator_types)) {
        rule = LT_RULE_GENERATOR;
        text_name(&t, type, 40);
        text_puts(&t, " objects");
        if (have_site(in)) {
            text_puts(&t, " created at ");
            put_site(&t, in);
        }
        text_puts(&t, " are kept suspended");
        if (has_holder) {
            text_puts(&t, " in ");
            put_holder(&t, &h, file);
        }
        text_puts(&t, " with their frames and locals: exhaust them or call close(), and drop the references");
    } else if (has_holder && h.root != ROOT_OTHER && (h.entries || growing_container)) {
        int queue = h.queue_attr || str_in(in->holder_type, queue_types) || str_in(type, queue_types) ||
                    contains_ci(h.sym, "queue") || contains_ci(h.sym, "backlog") || contains_ci(h.sym, "pending") ||
                    contains_ci(h.sym, "inbox");
        category = LT_CAT_UNBOUNDED_CONTAINER;
        put_holder(&t, &h, file);
        text_puts(&t, " grows by ");
        if (queue) {
            rule = LT_RULE_QUEUE;
            put_growth(&t, in, "items");
            text_puts(&t, ": its consumer is slower than its producer; bound it (queue.Queue(maxsize=...)) "
                          "so that the producer waits");
        } else {
            rule = LT_RULE_CONTAINER;
            int list = (in->holder_type != NULL && strcmp(in->holder_type, "list") == 0) ||
                       (type != NULL && strcmp(type, "list") == 0);
            int cache = contains_ci(h.sym, "cache") || contains_ci(h.sym, "memo");
            put_growth(&t, in, "entries");
            if (list && !cache)
                text_puts(&t, " and is never trimmed: remove entries when done (del, clear()), or stream with a "
                              "generator instead of keeping a list");
            else
                text_puts(&t, " and is never trimmed: bound it, e.g. functools.lru_cache(maxsize=...) or a TTL, "
                              "or drop entries when done");
            if (in->count_per_second > 0 && in->bytes_per_second / in->count_per_second > 4096) {
                text_puts(&t, ". Each entry holds about ");
                put_bytes(&t, in->bytes_per_second / in->count_per_second);
                text_puts(&t, ": store only what you need");
            }
        }
    } else if (has_holder && h.root == ROOT_MODULE && h.attrs_only) {
        rule = LT_RULE_GLOBAL;
        text_puts(&t, "the global ");
        put_holder(&t, &h, file);
        text_puts(&t, " grows by ");
        put_growth(&t, in, "objects");
        text_puts(&t, " across calls: keep the state local to the call, or reset it explicitly");
    } else {
        rule = LT_RULE_OTHER;
        if (type != NULL) {
            text_name(&t, type, 120);
            text_puts(&t, " objects grow by ");
            put_growth(&t, in, "objects");
        } else {
            text_puts(&t, "memory grows by ");
            put_bytes(&t, in->bytes_per_second);
            text_puts(&t, "/s");
        }
        if (have_site(in)) {
            text_puts(&t, ", allocated at ");
            put_site_fn(&t, in);
        }
        if (has_holder) {
            text_puts(&t, ", held by ");
            put_holder(&t, &h, file);
        }
        text_puts(&t, ": find what keeps them alive (the holder path) and release them when done");
    }

    const char *hint = text_keep(&t, arena);
    const char *type_copy = NULL;
    if (rtype != NULL)
        type_copy = rtype == type || rtype == in->related_type ? lt_arena_strndup(arena, rtype, strlen(rtype)) : rtype;
    const char *holder = has_holder ? lt_arena_strndup(arena, h.sym, strlen(h.sym)) : NULL;
    if (!has_holder)
        file = NULL;            /* where names the holder's file only */
    const char *where = file != NULL ? lt_arena_strndup(arena, file, strlen(file)) : NULL;
    if (hint == NULL || (rtype != NULL && type_copy == NULL) || (has_holder && holder == NULL) ||
        (file != NULL && where == NULL))
        return LT_ENOMEM;
    out->category = category;
    out->what = what;
    out->type = type_copy;
    out->holder = holder;
    out->where = where;
    out->hint = hint;
    out->rule = rule;
    return 0;
}

/* Tests of lt_classify, one row per SCENARIOS.md scenario (and variants):
 * category, what, reported type, rule, holder, file and the hint (exact
 * where the issue gives the wording, else the parts that must be there);
 * then holder-path parsing corners, long names, bad input and allocation
 * failures in the arena. */
#include "alloc.h"
#include "classify.h"
#include "errors.h"
#include "lt_test.h"
#include "procfs.h"
#include "report.h"

#include <string.h>

#define P(...) ((const char *const[]){__VA_ARGS__}), (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *))
#define NOPATH NULL, 0

typedef struct row {
    const char *name;           /* scenario */
    lt_classify_in_t in;
    const char *category, *what, *type;
    lt_classify_rule_t rule;
    const char *holder, *where; /* NULL: expect NULL */
    const char *hint;           /* exact, or NULL */
    const char *has[3];         /* substrings the hint must contain */
} row_t;

static lt_classify_in_t base(lt_cand_kind_t kind, const char *type, const char *const *path, size_t n)
{
    lt_classify_in_t in;
    memset(&in, 0, sizeof(in));
    in.kind = kind;
    in.type = type;
    in.holder_path = path;
    in.nholder_path = n;
    in.fd_kind = -1;
    return in;
}

static lt_classify_in_t rates(lt_classify_in_t in, double count, double bytes)
{
    in.count_per_second = count;
    in.bytes_per_second = bytes;
    return in;
}

static lt_classify_in_t at(lt_classify_in_t in, const char *file, int line, const char *fn)
{
    in.has_site = 1;
    in.site.file = file;
    in.site.line = line;
    in.site.function = fn;
    return in;
}

static lt_classify_in_t cycles(lt_classify_in_t in, size_t nsampled, size_t ncycle_only, int gc_disabled)
{
    in.nsampled = nsampled;
    in.ncycle_only = ncycle_only;
    in.gc_disabled = gc_disabled;
    return in;
}

static lt_classify_in_t fds(lt_classify_in_t in, int fd_kind, const char *related)
{
    in.fd_kind = fd_kind;
    in.related_type = related;
    return in;
}

static lt_classify_in_t flags(lt_classify_in_t in, int resource, int exception, int thread)
{
    in.is_resource = resource;
    in.is_exception = exception;
    in.is_thread = thread;
    return in;
}

static lt_classify_in_t threads(lt_classify_in_t in, double growth, const char *related)
{
    in.thread_growth = growth;
    in.related_type = related;
    return in;
}

static lt_classify_in_t running(lt_classify_in_t in, const char *name, const char *target)
{
    in.thread_name = name;
    in.thread_target = target;
    return in;
}

static lt_classify_in_t held_by(lt_classify_in_t in, const char *holder_type)
{
    in.holder_type = holder_type;
    return in;
}

static void check_row(const row_t *r)
{
    lt_arena_t arena;
    lt_arena_init(&arena, &lt_test_heap);
    lt_classify_out_t out;
    lt__case = r->name;
    if (!LT_EQ_INT(lt_classify(&r->in, &arena, &out), 0))
        goto done;
    LT_EQ_STR(out.category, r->category);
    LT_EQ_STR(out.what, r->what);
    if (r->type != NULL)
        LT_EQ_STR(out.type, r->type);
    else
        LT_NULL(out.type);
    LT_EQ_STR(lt_classify_rule_name(out.rule), lt_classify_rule_name(r->rule));
    if (r->holder != NULL)
        LT_EQ_STR(out.holder, r->holder);
    else
        LT_NULL(out.holder);
    if (r->where != NULL)
        LT_EQ_STR(out.where, r->where);
    else
        LT_NULL(out.where);
    if (r->hint != NULL)
        LT_EQ_STR(out.hint, r->hint);
    for (int i = 0; i < 3 && r->has[i] != NULL; i++)
        if (!LT_CHECK(strstr(out.hint, r->has[i]) != NULL))
            lt__printf(2, "    hint: %s\n    missing: %s\n", out.hint, r->has[i]);
    LT_LT_UINT(strlen(out.hint), 1024);
done:
    lt_arena_release(&arena);
}

static void test_scenarios(void)
{
    const row_t rows[] = {
        {"1 cycles, gc off",
         cycles(rates(base(LT_CAND_TYPE, "graph.Node",
                          P("<not reachable from a root>", "reference cycle", "<graph.Node>", ".children", "[0]",
                            ".parent")), 300, 300 * 48), 10, 10, 1),
         LT_CAT_REFERENCE_CYCLE, LT_WHAT_OBJECTS, "graph.Node", LT_RULE_CYCLE, NULL, NULL,
         "graph.Node objects are only reachable through reference cycles (gc is disabled): break the "
         "back-reference (.parent) with weakref.ref or re-enable gc", {NULL}},
        {"1 cycles, gc on, known by counts",
         cycles(base(LT_CAND_TYPE, "app.Session", NOPATH), 8, 5, 0),
         LT_CAT_REFERENCE_CYCLE, LT_WHAT_OBJECTS, "app.Session", LT_RULE_CYCLE, NULL, NULL,
         "app.Session objects are only reachable through reference cycles that the collector has not freed: "
         "break the back-reference with weakref.ref, or break the cycle when done", {NULL}},
        {"2 module-global dict",
         rates(base(LT_CAND_TYPE, "billing.Invoice", P("module billing", ".INVOICES", "['inv-1466']")), 850,
               850 * 56),
         LT_CAT_UNBOUNDED_CONTAINER, LT_WHAT_OBJECTS, "billing.Invoice", LT_RULE_CONTAINER, "INVOICES",
         "billing.py",
         "INVOICES in billing.py grows by 850 entries/s and is never trimmed: bound it, e.g. "
         "functools.lru_cache(maxsize=...) or a TTL, or drop entries when done", {NULL}},
        {"2 the growing dict itself",
         rates(base(LT_CAND_TYPE, "dict", P("module billing", ".CACHE")), 0, 87040),
         LT_CAT_UNBOUNDED_CONTAINER, LT_WHAT_OBJECTS, "dict", LT_RULE_CONTAINER, "CACHE", "billing.py", NULL,
         {"CACHE in billing.py grows by 85 KiB/s", "lru_cache", NULL}},
        {"3 cache of whole outputs",
         rates(base(LT_CAND_TYPE, "bytes", P("module render", ".PAGE_CACHE", "['/a']")), 100, 100 * 50000.0),
         LT_CAT_UNBOUNDED_CONTAINER, LT_WHAT_OBJECTS, "bytes", LT_RULE_CONTAINER, "PAGE_CACHE", "render.py", NULL,
         {"PAGE_CACHE in render.py grows by 100 entries/s", "Each entry holds about 49 KiB",
          "store only what you need"}},
        {"4 unclosed files (descriptors, type matched)",
         fds(at(rates(base(LT_CAND_FD_KIND, NULL, NOPATH), 10, 0), "/srv/logs.py", 17, "rotate"), LT_FD_FILE,
             "_io.TextIOWrapper"),
         LT_CAT_UNCLOSED_RESOURCE, LT_WHAT_RESOURCE, "_io.TextIOWrapper", LT_RULE_RESOURCE, NULL, NULL,
         "_io.TextIOWrapper objects opened at logs.py:17 are never closed (10 more every second): use "
         "`with open(...)` or call close()", {NULL}},
        {"4 unclosed files (descriptors only)",
         fds(rates(base(LT_CAND_FD_KIND, NULL, NOPATH), 2.5, 0), LT_FD_FILE, NULL),
         LT_CAT_UNCLOSED_RESOURCE, LT_WHAT_RESOURCE, "fd", LT_RULE_RESOURCE, NULL, NULL,
         "files opened are never closed (2.5 more every second): use `with open(...)` or call close()", {NULL}},
        {"4 unclosed files (the type)",
         at(rates(base(LT_CAND_TYPE, "_io.BufferedReader", P("module ingest", ".OPEN", "[3]")), 4, 0),
            "ingest.py", 8, "load"),
         LT_CAT_UNCLOSED_RESOURCE, LT_WHAT_RESOURCE, "_io.BufferedReader", LT_RULE_RESOURCE, "OPEN", "ingest.py",
         NULL, {"_io.BufferedReader objects opened at ingest.py:8 are never closed", NULL}},
        {"5 sqlite3 connections",
         at(rates(base(LT_CAND_TYPE, "sqlite3.Connection", NOPATH), 3, 600), "app/db.py", 30, "connect"),
         LT_CAT_UNCLOSED_RESOURCE, LT_WHAT_RESOURCE, "sqlite3.Connection", LT_RULE_RESOURCE, NULL, NULL, NULL,
         {"sqlite3.Connection objects opened at db.py:30 are never closed", "contextlib.closing(sqlite3.connect",
          "close()"}},
        {"5 sqlite3 through the descriptor total",
         fds(rates(base(LT_CAND_FDS, NULL, NOPATH), 3, 0), -1, "sqlite3.Connection"),
         LT_CAT_UNCLOSED_RESOURCE, LT_WHAT_RESOURCE, "sqlite3.Connection", LT_RULE_RESOURCE, NULL, NULL, NULL,
         {"sqlite3.Connection objects opened are never closed", NULL}},
        {"5 sockets by kind",
         fds(rates(base(LT_CAND_FD_KIND, NULL, NOPATH), 1, 0), LT_FD_SOCKET, NULL),
         LT_CAT_UNCLOSED_RESOURCE, LT_WHAT_RESOURCE, "fd", LT_RULE_RESOURCE, NULL, NULL, NULL,
         {"sockets opened are never closed", "socket.create_connection", NULL}},
        {"5 subprocesses",
         at(base(LT_CAND_TYPE, "subprocess.Popen", NOPATH), "run.py", 4, "spawn"),
         LT_CAT_UNCLOSED_RESOURCE, LT_WHAT_RESOURCE, "subprocess.Popen", LT_RULE_RESOURCE, NULL, NULL,
         "subprocess.Popen objects started at run.py:4 are never waited for: call wait() or communicate(), or "
         "use `with subprocess.Popen(...)`", {NULL}},
        {"5 a resource the caller knows",
         flags(base(LT_CAND_TYPE, "psycopg2.extensions.connection", NOPATH), 1, 0, 0),
         LT_CAT_UNCLOSED_RESOURCE, LT_WHAT_RESOURCE, "psycopg2.extensions.connection", LT_RULE_RESOURCE, NULL, NULL,
         NULL, {"psycopg2.extensions.connection objects opened are never closed", "`with` block", NULL}},
        {"6 native memory",
         rates(base(LT_CAND_NATIVE, NULL, NOPATH), 0, 2 * 1048576.0),
         LT_CAT_NATIVE, LT_WHAT_NATIVE, "native", LT_RULE_NATIVE, NULL, NULL, NULL,
         {"memory outside Python's allocators grows by 2 MiB/s (RSS minus the Python heap)",
          "free it on the C side", NULL}},
        {"6 native memory with its site",
         at(rates(base(LT_CAND_NATIVE, NULL, NOPATH), 0, 1.5 * 1048576), "/usr/src/ext/buf.c", 42, "make_buffer"),
         LT_CAT_NATIVE, LT_WHAT_NATIVE, "native", LT_RULE_NATIVE, NULL, NULL, NULL,
         {"grows by 1.5 MiB/s, allocated at buf.c:42 in make_buffer()", NULL}},
        {"7 a big list kept after use",
         rates(base(LT_CAND_TYPE, "list", P("module etl", ".processor", ".rows")), 0, 512 * 1024.0),
         LT_CAT_UNBOUNDED_CONTAINER, LT_WHAT_OBJECTS, "list", LT_RULE_CONTAINER, "processor.rows", "etl.py",
         "processor.rows in etl.py grows by 512 KiB/s and is never trimmed: remove entries when done (del, "
         "clear()), or stream with a generator instead of keeping a list", {NULL}},
        {"7 DataProcessor.cache",
         rates(base(LT_CAND_TYPE, "dict", P("module etl", ".DataProcessor", ".cache", "['q1']")), 40, 40 * 900.0),
         LT_CAT_UNBOUNDED_CONTAINER, LT_WHAT_OBJECTS, "dict", LT_RULE_CONTAINER, "DataProcessor.cache", "etl.py",
         NULL, {"DataProcessor.cache in etl.py grows by 40 entries/s", "bound it", NULL}},
        {"8 bound methods on a hook list",
         rates(base(LT_CAND_TYPE, "method", P("module billing", ".Hooks", ".on_paid", "[7]")), 120, 120 * 64.0),
         LT_CAT_CALLBACK_REGISTRATION, LT_WHAT_OBJECTS, "method", LT_RULE_CALLBACK, "Hooks.on_paid", "billing.py",
         "Hooks.on_paid in billing.py gains 120 callbacks/s that are never removed: unregister them when done, or "
         "hold them with weakref.WeakMethod", {NULL}},
        {"8 observer objects in a listener registry",
         rates(base(LT_CAND_TYPE, "ui.Listener", P("module ui", ".BUS", "._listeners", "[3]")), 12, 12 * 56.0),
         LT_CAT_CALLBACK_REGISTRATION, LT_WHAT_OBJECTS, "ui.Listener", LT_RULE_CALLBACK, "BUS._listeners", "ui.py",
         NULL, {"BUS._listeners in ui.py gains 12 callbacks/s", NULL}},
        {"8 closures without a holder",
         at(rates(base(LT_CAND_TYPE, "function", NOPATH), 30, 0), "events.py", 22, "subscribe"),
         LT_CAT_CALLBACK_REGISTRATION, LT_WHAT_OBJECTS, "function", LT_RULE_CALLBACK, NULL, NULL,
         "function callbacks created at events.py:22 accumulate at 30/s and are never removed: unregister them "
         "when done, or hold them with weakref.WeakMethod", {NULL}},
        {"8 atexit",
         at(rates(base(LT_CAND_TYPE, "functools.partial", P("atexit callbacks", "[12] cleanup")), 5, 0), "job.py", 3,
            "run"),
         LT_CAT_CALLBACK_REGISTRATION, LT_WHAT_OBJECTS, "functools.partial", LT_RULE_CALLBACK, NULL, NULL,
         "atexit callbacks registered at job.py:3 grow by 5/s: register once, or call atexit.unregister when done",
         {NULL}},
        {"8 atexit up to 3.9 (the module's own state)",
         at(rates(base(LT_CAND_TYPE, "shop.SpoolFile", P("module atexit", "<module atexit>", ".__self__")), 5, 0),
            "job.py", 3, "run"),
         LT_CAT_CALLBACK_REGISTRATION, LT_WHAT_OBJECTS, "shop.SpoolFile", LT_RULE_CALLBACK, NULL, NULL,
         "atexit callbacks registered at job.py:3 grow by 5/s: register once, or call atexit.unregister when done",
         {NULL}},
        {"8 objects held through bound methods on a subscriber list",
         rates(base(LT_CAND_TYPE, "shop.CartView", P("module shop", ".bus", "._subscribers", "[278]", ".__self__")),
               97, 97 * 56.0),
         LT_CAT_CALLBACK_REGISTRATION, LT_WHAT_OBJECTS, "shop.CartView", LT_RULE_CALLBACK, "bus._subscribers",
         "shop.py", NULL, {"bus._subscribers in shop.py gains 97 callbacks/s", NULL}},
        {"8 objects held through closures on a handler list",
         rates(base(LT_CAND_TYPE, "ui.View", P("module ui", ".HANDLERS", "[3]", ".__closure__", "cell 'view'")), 4,
               0),
         LT_CAT_CALLBACK_REGISTRATION, LT_WHAT_OBJECTS, "ui.View", LT_RULE_CALLBACK, "HANDLERS", "ui.py", NULL,
         {"HANDLERS in ui.py gains 4 callbacks/s", NULL}},
        {"12 items of a deque in a queue.Queue",
         rates(base(LT_CAND_TYPE, "app.ClickEvent", P("module app", ".EVENTS", ".queue", "[4238]")), 724, 724 * 64.0),
         LT_CAT_UNBOUNDED_CONTAINER, LT_WHAT_OBJECTS, "app.ClickEvent", LT_RULE_QUEUE, "EVENTS", "app.py", NULL,
         {"EVENTS in app.py grows by 724 items/s", "queue.Queue(maxsize=...)", NULL}},
        {"4 open files held by objects in a list (index on the way)",
         at(rates(base(LT_CAND_TYPE, "_io.TextIOWrapper", P("module audit", ".OPEN_LOGS", "[481]", ".fh")), 95, 0),
            "audit.py", 20, "AuditLog.__init__"),
         LT_CAT_UNCLOSED_RESOURCE, LT_WHAT_RESOURCE, "_io.TextIOWrapper", LT_RULE_RESOURCE, "OPEN_LOGS[i].fh",
         "audit.py",
         "_io.TextIOWrapper objects opened at audit.py:20 are never closed (95 more every second) and are kept in "
         "OPEN_LOGS[i].fh in audit.py: use `with open(...)` or call close()", {NULL}},
        {"10 threads still running their target",
         running(at(rates(flags(base(LT_CAND_TYPE, "threading.Thread", P("thread watch-176 frame run() local 'self'")),
                                0, 0, 1), 56, 0), "up.py", 33, "tick"), "watch-176", "_watch_upload"),
         LT_CAT_THREAD, LT_WHAT_RESOURCE, "threading.Thread", LT_RULE_THREAD, "self", "up.py",
         "Thread objects started in up.py:33 are never joined (56 more every second); they still run "
         "_watch_upload() (e.g. thread watch-176): make it return (e.g. a timeout on what it waits for), then join "
         "them or use a ThreadPoolExecutor", {NULL}},
        {"9 generators kept",
         at(rates(base(LT_CAND_TYPE, "generator", P("module feed", ".PENDING", "[4]")), 50, 50 * 200.0), "feed.py",
            11, "stream"),
         LT_CAT_OTHER, LT_WHAT_OBJECTS, "generator", LT_RULE_GENERATOR, "PENDING", "feed.py",
         "generator objects created at feed.py:11 are kept suspended in PENDING in feed.py with their frames and "
         "locals: exhaust them or call close(), and drop the references", {NULL}},
        {"10 OS threads",
         threads(at(base(LT_CAND_THREADS, NULL, NOPATH), "/srv/worker.py", 12, "spawn"), 5, "threading.Thread"),
         LT_CAT_THREAD, LT_WHAT_RESOURCE, "threading.Thread", LT_RULE_THREAD, NULL, NULL,
         "Thread objects started in worker.py:12 are never joined (5 more every second): join them or use a "
         "ThreadPoolExecutor", {NULL}},
        {"10 Thread objects in a list",
         at(rates(base(LT_CAND_TYPE, "threading.Thread", P("module worker", ".WORKERS", "[40]")), 5, 0), "worker.py",
            12, "spawn"),
         LT_CAT_THREAD, LT_WHAT_RESOURCE, "threading.Thread", LT_RULE_THREAD, "WORKERS", "worker.py", NULL,
         {"Thread objects started in worker.py:12 are never joined", "pile up in WORKERS in worker.py",
          "ThreadPoolExecutor"}},
        {"10 a Thread subclass",
         flags(base(LT_CAND_TYPE, "worker.Fetcher", NOPATH), 0, 0, 1),
         LT_CAT_THREAD, LT_WHAT_RESOURCE, "worker.Fetcher", LT_RULE_THREAD, NULL, NULL,
         "worker.Fetcher threads are never joined: join them or use a ThreadPoolExecutor", {NULL}},
        {"11 exceptions kept",
         rates(base(LT_CAND_TYPE, "ValueError", P("module billing", ".FAILURES", "[3]")), 200, 200 * 80.0),
         LT_CAT_EXCEPTION_TRACEBACK, LT_WHAT_OBJECTS, "ValueError", LT_RULE_EXCEPTION, "FAILURES", "billing.py",
         "ValueError objects kept in FAILURES in billing.py keep their tracebacks, frames and locals alive: store "
         "str(exc) or call traceback.clear_frames", {NULL}},
        {"11 frames held through tracebacks",
         base(LT_CAND_TYPE, "frame", P("module billing", ".FAILURES", "[3]", ".__traceback__", ".tb_frame")),
         LT_CAT_EXCEPTION_TRACEBACK, LT_WHAT_OBJECTS, "frame", LT_RULE_EXCEPTION, "FAILURES", "billing.py", NULL,
         {"frame objects kept in FAILURES in billing.py keep their tracebacks", NULL}},
        {"11 a user exception",
         flags(base(LT_CAND_TYPE, "billing.PaymentFailed", NOPATH), 0, 1, 0),
         LT_CAT_EXCEPTION_TRACEBACK, LT_WHAT_OBJECTS, "billing.PaymentFailed", LT_RULE_EXCEPTION, NULL, NULL,
         "billing.PaymentFailed objects are kept with their tracebacks, frames and locals alive: store str(exc) or "
         "call traceback.clear_frames", {NULL}},
        {"12 a queue.Queue filling up",
         held_by(rates(base(LT_CAND_TYPE, "jobs.Job", P("module jobs", ".JOBS", ".queue", "[120]")), 300, 300 * 72.0),
                 "collections.deque"),
         LT_CAT_UNBOUNDED_CONTAINER, LT_WHAT_OBJECTS, "jobs.Job", LT_RULE_QUEUE, "JOBS", "jobs.py",
         "JOBS in jobs.py grows by 300 items/s: its consumer is slower than its producer; bound it "
         "(queue.Queue(maxsize=...)) so that the producer waits", {NULL}},
        {"12 a deque named backlog",
         rates(base(LT_CAND_TYPE, "dict", P("module api", ".backlog", "[9]")), 80, 80 * 232.0),
         LT_CAT_UNBOUNDED_CONTAINER, LT_WHAT_OBJECTS, "dict", LT_RULE_QUEUE, "backlog", "api.py", NULL,
         {"backlog in api.py grows by 80 items/s", NULL}},
        {"15 global list appended in a loop",
         rates(base(LT_CAND_TYPE, "str", P("module app", ".HISTORY", "[12]")), 1000, 1000 * 60.0),
         LT_CAT_UNBOUNDED_CONTAINER, LT_WHAT_OBJECTS, "str", LT_RULE_CONTAINER, "HISTORY", "app.py", NULL,
         {"HISTORY in app.py grows by 1000 entries/s", NULL}},
        {"15 a global string concatenated",
         rates(base(LT_CAND_TYPE, "str", P("module app", ".LOG")), 0, 10 * 1024.0),
         LT_CAT_OTHER, LT_WHAT_OBJECTS, "str", LT_RULE_GLOBAL, "LOG", "app.py",
         "the global LOG in app.py grows by 10 KiB/s across calls: keep the state local to the call, or reset it "
         "explicitly", {NULL}},
        {"a frame local",
         at(rates(base(LT_CAND_TYPE, "app.Item", P("thread MainThread frame handle() local 'payload'", "[3]")), 20,
                  0),
            "/srv/app.py", 40, "handle"),
         LT_CAT_UNBOUNDED_CONTAINER, LT_WHAT_OBJECTS, "app.Item", LT_RULE_CONTAINER, "payload", "app.py",
         NULL, {"the local payload of handle() in app.py grows by 20 entries/s", NULL}},
        {"__main__ names the script",
         at(rates(base(LT_CAND_TYPE, "__main__.Row", P("module __main__", ".ROWS", "['a']")), 9, 0),
            "/home/u/leaky.py", 5, "<module>"),
         LT_CAT_UNBOUNDED_CONTAINER, LT_WHAT_OBJECTS, "__main__.Row", LT_RULE_CONTAINER, "ROWS", "leaky.py", NULL,
         {"ROWS in leaky.py grows by 9 entries/s", NULL}},
        {"a package module",
         rates(base(LT_CAND_TYPE, "shop.billing.Invoice", P("module shop.billing", ".INVOICES", "[1]")), 3, 0),
         LT_CAT_UNBOUNDED_CONTAINER, LT_WHAT_OBJECTS, "shop.billing.Invoice", LT_RULE_CONTAINER, "INVOICES",
         "billing.py", NULL, {"INVOICES in billing.py grows by 3 entries/s", NULL}},
        {"other, with site",
         at(rates(base(LT_CAND_TYPE, "app.Thing", NOPATH), 5, 5 * 48.0), "app.py", 9, "make"),
         LT_CAT_OTHER, LT_WHAT_OBJECTS, "app.Thing", LT_RULE_OTHER, NULL, NULL,
         "app.Thing objects grow by 5 objects/s, allocated at app.py:9 in make(): find what keeps them alive (the "
         "holder path) and release them when done", {NULL}},
        {"a site alone",
         at(rates(base(LT_CAND_SITE, NULL, NOPATH), 0, 1048576.0), "app.py", 9, "make"),
         LT_CAT_OTHER, LT_WHAT_MEMORY, NULL, LT_RULE_OTHER, NULL, NULL, NULL,
         {"memory grows by 1 MiB/s, allocated at app.py:9 in make()", NULL}},
        {"held through a C object",
         rates(base(LT_CAND_TYPE, "app.Obj", P("module app", ".REG", "<functools._lru_cache_wrapper total>", "[2]")),
               3, 0),
         LT_CAT_UNBOUNDED_CONTAINER, LT_WHAT_OBJECTS, "app.Obj", LT_RULE_CONTAINER, "REG", "app.py", NULL,
         {"REG in app.py grows by 3 entries/s", NULL}},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        check_row(&rows[i]);
    lt__case = "";
}

/* Very long names and keys: the hint stays under 1024 bytes and ends in
 * "..." when cut; nothing overflows. */
static void test_long_names(void)
{
    static char longname[3000], longkey[3000];
    memset(longname, 'a', sizeof(longname) - 1);
    memcpy(longname, "mod.", 4);
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[0] = '[';
    longkey[sizeof(longkey) - 2] = ']';
    const char *path[] = {"module mod", ".X", longkey};
    const char *path2[40];
    path2[0] = "module m";
    for (int i = 1; i < 40; i++)
        path2[i] = ".attribute_with_a_long_name";
    lt_arena_t arena;
    lt_arena_init(&arena, &lt_test_heap);
    lt_classify_out_t out;
    lt_classify_in_t in = rates(base(LT_CAND_TYPE, longname, path, 3), 1, 1);
    in = at(in, longname, 7, longname);
    LT_EQ_INT(lt_classify(&in, &arena, &out), 0);
    LT_LT_UINT(strlen(out.hint), 1024);
    LT_EQ_STR(out.holder, "X");
    LT_EQ_UINT(strlen(out.type), sizeof(longname) - 1);
    in = rates(base(LT_CAND_TYPE, "dict", path2, 40), 1, 1);
    LT_EQ_INT(lt_classify(&in, &arena, &out), 0);
    LT_LT_UINT(strlen(out.holder), 256);
    LT_CHECK(strstr(out.holder, "...") != NULL);
    LT_LT_UINT(strlen(out.hint), 1024);
    /* Only a root: nothing to name. */
    const char *root_only[] = {"module m"};
    in = rates(base(LT_CAND_TYPE, "m.T", root_only, 1), 1, 0);
    LT_EQ_INT(lt_classify(&in, &arena, &out), 0);
    LT_NULL(out.holder);
    LT_EQ_INT(out.rule, LT_RULE_OTHER);
    /* A malformed frame root still parses. */
    const char *odd[] = {"thread T frame local '", "[1]"};
    in = rates(base(LT_CAND_TYPE, "m.T", odd, 2), 1, 0);
    LT_EQ_INT(lt_classify(&in, &arena, &out), 0);
    lt_arena_release(&arena);
}

static void test_bad_input(void)
{
    lt_arena_t arena;
    lt_arena_init(&arena, &lt_test_heap);
    lt_classify_out_t out;
    lt_classify_in_t in = base(LT_CAND_TYPE, "x.Y", NULL, 3);
    LT_EQ_INT(lt_classify(&in, &arena, &out), LT_EINVAL);
    LT_NULL(out.hint);
    in.nholder_path = 0;
    LT_EQ_INT(lt_classify(NULL, &arena, &out), LT_EINVAL);
    LT_EQ_INT(lt_classify(&in, NULL, &out), LT_EINVAL);
    LT_EQ_INT(lt_classify(&in, &arena, NULL), LT_EINVAL);
    LT_EQ_INT(lt_classify(&in, &arena, &out), 0);
    /* NULL elements in a path are tolerated. */
    const char *holes[] = {"module m", NULL, "[1]"};
    in = base(LT_CAND_TYPE, "m.T", holes, 3);
    LT_EQ_INT(lt_classify(&in, &arena, &out), 0);
    lt_arena_release(&arena);
    LT_EQ_STR(lt_classify_rule_name(LT_RULE_QUEUE), "queue");
    LT_EQ_STR(lt_classify_rule_name((lt_classify_rule_t)99), "unknown");
}

/* The arena's chunks come from a failing allocator: the call that meets a
 * failure returns LT_ENOMEM with *out zeroed. */
static void test_faults(void)
{
    lt_classify_in_t in = rates(base(LT_CAND_TYPE, "billing.Invoice", P("module billing", ".INVOICES", "['a']")),
                                850, 850 * 56);
    for (long fail_at = 0;; fail_at++) {
        lt_failing_alloc_t f;
        lt_failing_alloc_init(&f, &lt_test_heap, fail_at, 1);
        lt_arena_t arena;
        lt_arena_init(&arena, &f.base);
        lt_classify_out_t out;
        int rc = 0;
        for (int k = 0; k < 400 && rc == 0; k++)
            rc = lt_classify(&in, &arena, &out);
        if (rc == 0)
            LT_EQ_STR(out.holder, "INVOICES");
        else {
            LT_EQ_INT(rc, LT_ENOMEM);
            LT_NULL(out.hint);
            LT_NULL(out.category);
        }
        lt_arena_release(&arena);
        LT_EQ_INT(f.live, 0);
        if (rc == 0) {
            LT_GE_INT(fail_at, 1);
            break;
        }
        if (!LT_LT_INT(fail_at, 50))
            break;
    }
}

int main(void)
{
    LT_RUN(test_scenarios);
    LT_RUN(test_long_names);
    LT_RUN(test_bad_input);
    LT_RUN(test_faults);
    return lt_test_done();
}

/* The control server: socket set-up (a private directory, an owner-only
 * socket, peer credentials checked on every connection), the server
 * thread, and the answers built from the session with the GIL held.
 *
 * The thread blocks in poll/accept/recv/send without the GIL; it takes the
 * GIL only while it builds an answer (a census for `snapshot`, the analysis
 * for `metrics`, the analysis and holder paths for `report`), as a
 * checkpoint does. One connection is served at a time, with send and
 * receive timeouts, so a stuck client costs the server, never the program.
 *
 * Fork: the child does not inherit a server. Its copy of the listening
 * socket is closed in a pthread_atfork handler and it stays quiet (no
 * socket of its own: its checkpoint thread did not survive the fork
 * either); the socket file stays the parent's. A process started anew
 * (exec, multiprocessing's spawn) with LEAKTRACE=1 gets its own. */
#include "control.h"

#include "census.h"
#include "ctlproto.h"
#include "errors.h"
#include "findings.h"
#include "module.h"
#include "procfs.h"
#include "prom.h"
#include "raise.h"
#include "session.h"
#include "snapshot.h"
#include "strbuf.h"
#include "timeline.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define RECV_TIMEOUT_S 5
#define SEND_TIMEOUT_S 30

/* The one server of the process. start/stop run with the GIL held, which
 * protects every field; the thread reads listen_fd and wake_r, which do not
 * change while it runs, and `session` only with the GIL. */
typedef struct server {
    int running;
    int listen_fd;
    int wake_r, wake_w;         /* a pipe: one byte tells the thread to stop */
    pthread_t thread;
    pid_t pid;                  /* the process that started it */
    PyObject *session;          /* strong reference while running */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
} server_t;

static server_t srv = {0, -1, -1, -1, 0, 0, NULL, ""};
static int atfork_registered;   /* GIL */

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* In the child of a fork: forget the server without touching Python (the
 * thread did not survive; the reference to the session is left). */
static void after_fork_child(void)
{
    if (!srv.running)
        return;
    close_fd(&srv.listen_fd);
    close_fd(&srv.wake_r);
    close_fd(&srv.wake_w);
    srv.running = 0;
    srv.session = NULL;
    srv.path[0] = '\0';
}

/* ---- the answers (GIL held) ------------------------------------------------ */

typedef struct report_ctx {
    unsigned formats;
    lt_strbuf_t *out;           /* one per format: json, text, html */
} report_ctx_t;

static const unsigned report_formats[3] = {LT_CTL_JSON, LT_CTL_TEXT, LT_CTL_HTML};

static int report_sink(const lt_report_t *r, void *arg)
{
    report_ctx_t *x = arg;
    for (int i = 0; i < 3; i++)
        if ((x->formats & report_formats[i]) &&
            lt_findings_render(r, lt_ctl_format_name(report_formats[i]), &x->out[i]) < 0)
            return -1;
    return 0;
}

/* The report of every checkpoint since the start, as of now. */
static int answer_report(const lt_session_view_t *v, const lt_ctl_request_t *req, lt_strbuf_t *out)
{
    lt_state_t *st = lt_state_of_type(Py_TYPE(srv.session));
    if (st == NULL)
        return -1;
    lt_strbuf_t parts[3];
    for (int i = 0; i < 3; i++)
        lt_strbuf_init(&parts[i], &lt_page_alloc);
    int rc = -1;
    PyObject *outputs = NULL, *verdict = NULL;
    /* What is alive now, before the analysis makes objects of its own. */
    PyObject *final = PyObject_CallNoArgs((PyObject *)st->checkpoint_type);
    if (final == NULL)
        goto done;
    /* The session's settings (max_findings, its notes), not its paths:
     * the answer is rendered into buffers. */
    outputs = v->outputs != NULL && PyDict_Check(v->outputs) ? PyDict_Copy(v->outputs) : PyDict_New();
    if (outputs == NULL)
        goto done;
    report_ctx_t x = {req->formats, parts};
    verdict = lt_findings_report_to(v->findings, v->names, v->warm, final, v->argv, outputs,
                                    lt_monotonic() - v->t0, report_sink, &x);
    if (verdict == NULL)
        goto done;
    rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        if (!(req->formats & report_formats[i]))
            continue;
        rc = req->http ? lt_ctl_answer(out, req, report_formats[i], parts[i].data, parts[i].len)
                       : lt_ctl_frame(out, report_formats[i], parts[i].data, parts[i].len);
    }
    if (rc == 0 && !req->http)
        rc = lt_ctl_end(out);
    if (rc < 0) {
        lt_raise(rc, "framing the report");
        rc = -1;
    }
done:
    Py_XDECREF(final);
    Py_XDECREF(outputs);
    Py_XDECREF(verdict);
    for (int i = 0; i < 3; i++)
        lt_strbuf_clear(&parts[i]);
    return rc;
}

/* A fresh census by type, with the change since the session's start. */
static int answer_snapshot(const lt_session_view_t *v, const lt_ctl_request_t *req, lt_strbuf_t *out)
{
    lt_state_t *st = lt_state_of_type(Py_TYPE(srv.session));
    if (st == NULL)
        return -1;
    lt_proc_facts_t facts;
    memset(&facts, 0, sizeof(facts));
    int prc = lt_proc_read(0, &facts);
    if (prc < 0)
        memset(&facts, 0, sizeof(facts));
    lt_census_t *c = lt_census_take(st->census_type, 0, NULL);
    if (c == NULL)
        return -1;
    int rc = -1;
    PyObject *base = PyDict_New();
    lt_snapshot_row_t *rows = PyMem_New(lt_snapshot_row_t, c->nrows ? (size_t)c->nrows : 1);
    lt_strbuf_t body;
    lt_strbuf_init(&body, &lt_page_alloc);
    if (base == NULL || rows == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const lt_census_t *b = (const lt_census_t *)v->baseline;
    for (Py_ssize_t i = 0; b != NULL && i < b->nrows; i++) {
        PyObject *idx = PyLong_FromSsize_t(i);
        if (idx == NULL || PyDict_SetItem(base, b->rows[i].name, idx) < 0) {
            Py_XDECREF(idx);
            goto done;
        }
        Py_DECREF(idx);
    }
    for (Py_ssize_t i = 0; i < c->nrows; i++) {
        const char *name = PyUnicode_AsUTF8(c->rows[i].name);
        if (name == NULL)
            goto done;
        lt_snapshot_row_t *r = &rows[i];
        r->type = name;
        r->count = r->count_delta = c->rows[i].count;
        r->bytes = r->bytes_delta = c->rows[i].bytes;
        PyObject *at = PyDict_GetItemWithError(base, c->rows[i].name);
        if (at == NULL && PyErr_Occurred())
            goto done;
        if (at != NULL) {
            Py_ssize_t k = PyLong_AsSsize_t(at);
            r->count_delta -= b->rows[k].count;
            r->bytes_delta -= b->rows[k].bytes;
        }
    }
    lt_snapshot_sort(rows, (size_t)c->nrows);
    lt_snapshot_t s = {(uint64_t)getpid(), lt_monotonic() - v->t0,
                       facts.rss_bytes > v->own_bytes ? facts.rss_bytes - v->own_bytes : 0,
                       (uint64_t)c->total_bytes, (uint64_t)c->total_count, 0, 0, lt_findings_count(v->findings),
                       rows, (size_t)c->nrows, req->top};
    for (int k = 0; k < LT_FD_KIND_COUNT; k++)
        s.fds += facts.fds_by_kind[k];
    /* The checkpoint thread and the server thread are not the program's. */
    s.threads = facts.threads > 2 ? facts.threads - 2 : facts.threads;
    int wrc = req->formats == LT_CTL_TEXT ? lt_snapshot_write_text(&s, &body) : lt_snapshot_write_json(&s, &body);
    if (wrc == 0)
        wrc = lt_ctl_answer(out, req, req->formats == LT_CTL_TEXT ? LT_CTL_TEXT : LT_CTL_JSON, body.data, body.len);
    if (wrc < 0) {
        lt_raise(wrc, "writing the snapshot");
        goto done;
    }
    rc = 0;
done:
    lt_strbuf_clear(&body);
    PyMem_Free(rows);
    Py_XDECREF(base);
    Py_DECREF(c);
    return rc;
}

static const char *analysis_name(const void *ctx, uint32_t id, size_t *len)
{
    return lt_intern_get(ctx, id, len);
}

/* The name a candidate carries in the metrics and the report: the type's,
 * or "fd", "threading.Thread", "native". NULL for kinds not exported. */
static const char *candidate_name(const lt_session_view_t *v, const lt_candidate_t *c)
{
    size_t len;
    switch (c->kind) {
    case LT_CAND_TYPE:
        return lt_intern_get(v->names, c->id, &len);
    case LT_CAND_FDS:
        return "fd";
    case LT_CAND_THREADS:
        return "threading.Thread";
    case LT_CAND_NATIVE:
        return c->id == 0 ? "native" : NULL;
    default:
        return NULL;
    }
}

/* Whether a growing series is one the report would name: not an echo of
 * another, of a kind the report shows, and native memory only when it
 * outgrows the Python heap (allocator overhead grows with the heap). */
static int exported(const lt_session_view_t *v, const lt_analysis_t *an, const lt_candidate_t *c)
{
    if (c->echo_of >= 0 || candidate_name(v, c) == NULL)
        return 0;
    return c->kind != LT_CAND_NATIVE || (double)c->bytes_delta >= 2 * an->heap.growth;
}

#define MAX_LEAK_SERIES 20

static int answer_metrics(const lt_session_view_t *v, const lt_ctl_request_t *req, lt_strbuf_t *out)
{
    lt_analysis_opts_t ao;
    lt_analysis_opts_init(&ao);
    ao.type_name = analysis_name;
    ao.type_name_ctx = v->names;
    lt_analysis_t an;
    memset(&an, 0, sizeof(an));
    int rc = lt_timeline_analyze(&v->findings->timeline, &ao, &an);
    if (rc < 0) {
        lt_raise(rc, "analysing the checkpoints");
        return -1;
    }
    double rss, heap, fds, threads;
    lt_findings_last(v->findings, &rss, &heap, &fds, &threads);
    /* Server thread: not the program's. */
    if (threads > 0)
        threads -= 1;
    int leak = 0;
    for (size_t i = 0; i < an.ncandidates; i++)
        leak |= an.candidates[i].confident && exported(v, &an, &an.candidates[i]);
    lt_strbuf_t b;
    lt_strbuf_init(&b, &lt_page_alloc);
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"leaktrace_rss_bytes", "gauge", "Resident set size of the process at the last checkpoint, leaktrace's own tables excluded."},
        {"leaktrace_heap_bytes", "gauge", "Bytes of live Python objects (census) at the last checkpoint."},
        {"leaktrace_open_fds", "gauge", "Open file descriptors at the last checkpoint."},
        {"leaktrace_threads", "gauge", "OS threads of the program at the last checkpoint."},
        {"leaktrace_rss_growth_bytes_per_second", "gauge", "Trend of the RSS since the warm-up (Theil-Sen slope)."},
        {"leaktrace_heap_growth_bytes_per_second", "gauge", "Trend of the Python heap since the warm-up (Theil-Sen slope)."},
        {"leaktrace_leak", "gauge", "1 when a confident leak is found in the checkpoints so far, else 0."},
        {"leaktrace_leak_confidence", "gauge", "Confidence (0..1) that this type grows without bound."},
        {"leaktrace_leak_growth_bytes_per_second", "gauge", "Growth rate of a growing type in bytes per second."},
        {"leaktrace_leak_growth_objects_per_second", "gauge", "Growth rate of a growing type in objects per second."},
        {"leaktrace_checkpoints_total", "counter", "Checkpoints taken since production mode started."},
        {"leaktrace_uptime_seconds", "gauge", "Seconds since production mode started."},
        {"leaktrace_capture_bytes", "gauge", "Bytes written to the capture file (0 without one)."},
        {"leaktrace_self_bytes", "gauge", "Memory of leaktrace's own tables in the process."},
        {"leaktrace_checkpoints_kept", "gauge", "Checkpoints kept for the report's plots (older ones are thinned)."},
    };
    double scalar[] = {rss, heap, fds, threads, an.rss.slope, an.heap.slope, leak};
    size_t f = 0;
    for (; rc == 0 && f < 7; f++) {
        rc = lt_prom_family(&b, fam[f].name, fam[f].type, fam[f].help);
        if (rc == 0)
            rc = lt_prom_sample(&b, fam[f].name, NULL, 0, scalar[f]);
    }
    /* Per growing series: the non-echo candidates, most significant first. */
    for (size_t k = 0; rc == 0 && k < 3; k++, f++) {
        rc = lt_prom_family(&b, fam[f].name, fam[f].type, fam[f].help);
        size_t shown = 0;
        for (size_t i = 0; rc == 0 && i < an.ncandidates && shown < MAX_LEAK_SERIES; i++) {
            const lt_candidate_t *c = &an.candidates[i];
            if (!exported(v, &an, c))
                continue;
            const char *name = candidate_name(v, c);
            const char *labels[] = {"type", name};
            double val = k == 0 ? c->trend.confidence : k == 1 ? c->bytes_per_second : c->count_per_second;
            rc = lt_prom_sample(&b, fam[f].name, labels, 1, val);
            shown++;
        }
    }
    double tail[] = {(double)lt_findings_count(v->findings), lt_monotonic() - v->t0, (double)v->capture_bytes,
                     (double)v->own_bytes, (double)v->findings->n};
    for (size_t k = 0; rc == 0 && k < 5; k++, f++) {
        rc = lt_prom_family(&b, fam[f].name, fam[f].type, fam[f].help);
        if (rc == 0)
            rc = lt_prom_sample(&b, fam[f].name, NULL, 0, tail[k]);
    }
    if (rc == 0)
        rc = lt_ctl_answer(out, req, LT_CTL_PROM, b.data, b.len);
    lt_strbuf_clear(&b);
    lt_analysis_release(&an);
    if (rc < 0) {
        lt_raise(rc, "writing the metrics");
        return -1;
    }
    return 0;
}

/* Builds the answer to a valid request. GIL held. 0, or -1 with an
 * exception set (turned into an error answer by the caller). */
static int answer(const lt_ctl_request_t *req, lt_strbuf_t *out)
{
    if (srv.session == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "production mode is stopping");
        return -1;
    }
    lt_session_view_t v;
    if (lt_session_view(srv.session, &v) < 0)
        return -1;
    if (!v.started || v.finished) {
        PyErr_SetString(PyExc_RuntimeError, "the session is not running");
        return -1;
    }
    if (req->command == LT_CTL_PING) {
        char body[64];
        int n = snprintf(body, sizeof(body), "pong %ld\n", (long)getpid());
        int rc = lt_ctl_answer(out, req, LT_CTL_TEXT, body, (size_t)n);
        if (rc < 0)
            lt_raise(rc, "answering");
        return rc < 0 ? -1 : 0;
    }
    *v.busy = 1;
    int rc = req->command == LT_CTL_REPORT     ? answer_report(&v, req, out)
             : req->command == LT_CTL_SNAPSHOT ? answer_snapshot(&v, req, out)
                                               : answer_metrics(&v, req, out);
    *v.busy = 0;
    return rc;
}

/* ---- the thread (no GIL unless building an answer) -------------------------- */

static int send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static void send_error(int fd, int http, int status, const char *message)
{
    lt_strbuf_t b;
    lt_strbuf_init(&b, &lt_page_alloc);
    if (lt_ctl_error(&b, http, status, message) == 0)
        send_all(fd, b.data, b.len);
    lt_strbuf_clear(&b);
}

static void serve(int fd)
{
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != geteuid()) {
        /* Owner-only, even if the directory's mode was loosened. The
         * answer is sent before the request is read; the peer gets a second
         * to send its request and read the answer (closing at once could
         * reset the connection under a request still being sent). */
        send_error(fd, 0, 403, "permission denied: not the owner of this process");
        shutdown(fd, SHUT_WR);
        struct timeval drain = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &drain, sizeof(drain));
        char sink[512];
        for (int i = 0; i < 16 && recv(fd, sink, sizeof(sink), 0) > 0; i++)
            ;
        return;
    }
    struct timeval rt = {RECV_TIMEOUT_S, 0}, wt = {SEND_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wt, sizeof(wt));
    char buf[LT_CTL_MAX_REQUEST];
    size_t len = 0;
    lt_ctl_request_t req;
    int prc = 0;
    while (prc == 0) {
        ssize_t r = recv(fd, buf + len, sizeof(buf) - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;             /* gone, or silent past the timeout */
        len += (size_t)r;
        prc = lt_ctl_parse(buf, len, &req);
    }
    if (prc < 0) {
        send_error(fd, req.http, 400, prc == LT_ERANGE ? "request too long" : req.error);
        return;
    }
    lt_strbuf_t out;
    lt_strbuf_init(&out, &lt_page_alloc);
    char msg[256] = "";
    PyGILState_STATE g = PyGILState_Ensure();
    if (answer(&req, &out) < 0) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyObject *s = value != NULL ? PyObject_Str(value) : NULL;
        const char *u = s != NULL ? PyUnicode_AsUTF8(s) : NULL;
        snprintf(msg, sizeof(msg), "%s", u != NULL ? u : "could not build the answer");
        Py_XDECREF(s);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        PyErr_Clear();
    }
    PyGILState_Release(g);
    if (msg[0])
        send_error(fd, req.http, 500, msg);
    else
        send_all(fd, out.data, out.len);
    lt_strbuf_clear(&out);
}

static void *server_thread(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p[2] = {{srv.listen_fd, POLLIN, 0}, {srv.wake_r, POLLIN, 0}};
        int n = poll(p, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || p[1].revents != 0)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        int fd = accept4(srv.listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        serve(fd);
        close(fd);
    }
    return NULL;
}

/* ---- set-up (GIL held) -------------------------------------------------------- */

/* Makes `dir` (and no parents) mode 0700, or checks that an existing one is
 * a directory of ours that no one else can enter. */
static int private_dir(const char *dir)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, dir);
        return -1;
    }
    struct stat st;
    if (lstat(dir, &st) < 0) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, dir);
        return -1;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
        PyErr_Format(PyExc_PermissionError, "%s is not a directory of this user: not using it for the control socket",
                     dir);
        return -1;
    }
    if ((st.st_mode & 077) != 0) {
        PyErr_Format(PyExc_PermissionError,
                     "%s is open to other users (mode %03o): the control socket needs a private directory "
                     "(chmod 700 it)", dir, (unsigned)(st.st_mode & 0777));
        return -1;
    }
    return 0;
}

/* Removes sockets "<pid>.sock" of processes that no longer exist. */
static void remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (pid <= 0 || strcmp(end, ".sock") != 0)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[PATH_MAX];
        struct stat st;
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path) && lstat(path, &st) == 0 &&
            S_ISSOCK(st.st_mode) && st.st_uid == geteuid())
            unlink(path);
    }
    closedir(d);
}

static PyObject *control_start(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *kwlist[] = {"session", "dir", NULL};
    PyObject *session;
    const char *dir;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "Os:control_start", kwlist, &session, &dir))
        return NULL;
    lt_session_view_t v;
    if (lt_session_view(session, &v) < 0)
        return NULL;
    if (srv.running) {
        PyErr_SetString(PyExc_RuntimeError, "the control socket is open already");
        return NULL;
    }
    if (private_dir(dir) < 0)
        return NULL;
    remove_stale(dir);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    int n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%ld.sock", dir, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(addr.sun_path)) {
        PyErr_Format(PyExc_ValueError, "the control socket's directory name is too long (%zu bytes at most): %s",
                     sizeof(addr.sun_path) - 16, dir);
        return NULL;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int pipefd[2] = {-1, -1};
    if (fd < 0)
        goto oserror;
    /* A socket file left by an earlier process with our pid. */
    struct stat st;
    if (lstat(addr.sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(addr.sun_path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        goto oserror;
    if (chmod(addr.sun_path, 0600) < 0 || listen(fd, 8) < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
        unlink(addr.sun_path);
        goto oserror;
    }
    if (!atfork_registered) {
        if (pthread_atfork(NULL, NULL, after_fork_child) != 0) {
            unlink(addr.sun_path);
            PyErr_SetString(PyExc_RuntimeError, "cannot register the fork handler");
            goto error;
        }
        atfork_registered = 1;
    }
    srv.listen_fd = fd;
    srv.wake_r = pipefd[0];
    srv.wake_w = pipefd[1];
    srv.pid = getpid();
    srv.session = Py_NewRef(session);
    snprintf(srv.path, sizeof(srv.path), "%s", addr.sun_path);
    /* The thread takes no signal: they stay the program's main thread's. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&srv.thread, NULL, server_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        unlink(addr.sun_path);
        Py_CLEAR(srv.session);
        srv.listen_fd = srv.wake_r = srv.wake_w = -1;
        srv.path[0] = '\0';
        PyErr_SetString(PyExc_RuntimeError, "cannot start the control thread");
        goto error;
    }
    srv.running = 1;
    return PyUnicode_DecodeFSDefault(addr.sun_path);
oserror:
    PyErr_SetFromErrnoWithFilename(PyExc_OSError, addr.sun_path);
error:
    if (fd >= 0)
        close(fd);
    if (pipefd[0] >= 0) {
        close(pipefd[0]);
        close(pipefd[1]);
    }
    return NULL;
}

static PyObject *control_stop(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    if (!srv.running)
        Py_RETURN_NONE;
    ssize_t w;
    do
        w = write(srv.wake_w, "x", 1);
    while (w < 0 && errno == EINTR);
    /* The thread may be waiting for the GIL to build an answer. */
    Py_BEGIN_ALLOW_THREADS
    pthread_join(srv.thread, NULL);
    Py_END_ALLOW_THREADS
    close_fd(&srv.listen_fd);
    close_fd(&srv.wake_r);
    close_fd(&srv.wake_w);
    unlink(srv.path);
    srv.path[0] = '\0';
    srv.running = 0;
    Py_CLEAR(srv.session);
    Py_RETURN_NONE;
}

static PyObject *control_path(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    if (!srv.running)
        Py_RETURN_NONE;
    return PyUnicode_DecodeFSDefault(srv.path);
}

static PyMethodDef control_methods[] = {
    {"control_start", (PyCFunction)(void (*)(void))control_start, METH_VARARGS | METH_KEYWORDS,
     "control_start(session, dir) -> path\n\nOpens the control socket DIR/<pid>.sock (DIR is made mode 0700, "
     "or must be\nprivate already) and starts the thread that answers on it from `session`."},
    {"control_stop", control_stop, METH_NOARGS,
     "control_stop()\n\nStops the control thread and removes the socket (nothing if not running)."},
    {"control_path", control_path, METH_NOARGS, "control_path() -> str or None\n\nThe open control socket's path."},
    {NULL, NULL, 0, NULL},
};

int lt_control_exec(PyObject *module)
{
    return PyModule_AddFunctions(module, control_methods);
}

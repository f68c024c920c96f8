/* Roots of holder paths: sys.modules, the threads' stacks, the builtins,
 * atexit's callbacks. */
#include "roots.h"

#include "frames.h"
#include "labels.h"
#include "strbuf.h"

#include <stdio.h>
#include <string.h>

typedef struct roots_ctx {
    lt_vec_t *out;
    lt_arena_t *arena;
    lt_strbuf_t buf;            /* scratch for one label */
    PyObject *active;           /* threading._active, borrowed, or NULL */
    int have_thread;
    unsigned long thread_id;    /* the thread whose frames are being walked */
    const char *thread;         /* "thread MainThread", in the arena */
    const char *frame;          /* "thread MainThread frame main()", in the arena */
} roots_ctx_t;

/* Copies the scratch label into the arena. */
static const char *roots_keep(roots_ctx_t *c)
{
    const char *s = lt_arena_strndup(c->arena, lt_strbuf_str(&c->buf), c->buf.len);
    if (s == NULL)
        PyErr_NoMemory();
    return s;
}

static int roots_put(roots_ctx_t *c, const char *s)
{
    if (lt_strbuf_puts(&c->buf, s) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int roots_add(roots_ctx_t *c, lt_root_kind_t kind, PyObject *object, const char *node, const char *edge)
{
    lt_root_t *r = lt_arena_alloc(c->arena, sizeof(*r));
    if (r == NULL || lt_vec_push(c->out, r) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    r->kind = kind;
    r->object = object;
    r->node = node;
    r->edge = edge;
    return 0;
}

/* A root for sys.modules[key]: "module <key>". */
static int module_root(roots_ctx_t *c, PyObject *key, PyObject *module)
{
    lt_strbuf_reset(&c->buf);
    if (roots_put(c, "module ") < 0)
        return -1;
    if ((PyUnicode_CheckExact(key) ? lt_labels_put_str(&c->buf, key) : roots_put(c, "?")) < 0)
        return -1;
    const char *node = roots_keep(c);
    return node == NULL ? -1 : roots_add(c, LT_ROOT_MODULE, module, node, NULL);
}

/* The name threading gave thread `id` (Thread._name, read from the
 * instance's storage), borrowed, or NULL. */
static PyObject *thread_name(PyObject *active, unsigned long id)
{
    if (active == NULL || !PyDict_Check(active))
        return NULL;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(active, &pos, &k, &v)) {
        if (!PyLong_CheckExact(k))
            continue;
        unsigned long kid = PyLong_AsUnsignedLong(k);
        if (kid == (unsigned long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            continue;
        }
        if (kid == id) {
            PyObject *name = lt_labels_attr_get(v, "_name");
            return name != NULL && PyUnicode_CheckExact(name) ? name : NULL;
        }
    }
    return NULL;
}

static int on_frame(unsigned long thread_id, PyCodeObject *code, void *ctx)
{
    roots_ctx_t *c = ctx;
    if (!c->have_thread || thread_id != c->thread_id) {
        lt_strbuf_reset(&c->buf);
        PyObject *name = thread_name(c->active, thread_id);
        if (roots_put(c, "thread ") < 0)
            return -1;
        if (name != NULL) {
            if (lt_labels_put_str(&c->buf, name) < 0)
                return -1;
        } else {
            char id[32];
            snprintf(id, sizeof(id), "%lu", thread_id);
            if (roots_put(c, id) < 0)
                return -1;
        }
        if ((c->thread = roots_keep(c)) == NULL)
            return -1;
        c->have_thread = 1;
        c->thread_id = thread_id;
    }
    lt_strbuf_reset(&c->buf);
    if (roots_put(c, c->thread) < 0 || roots_put(c, " frame ") < 0 ||
        (code->co_name != NULL ? lt_labels_put_str(&c->buf, code->co_name) : roots_put(c, "?")) < 0 ||
        roots_put(c, "()") < 0)
        return -1;
    c->frame = roots_keep(c);
    return c->frame == NULL ? -1 : 0;
}

static int on_local(const lt_frame_local_t *local, void *ctx)
{
    roots_ctx_t *c = ctx;
    if (local->value == NULL)
        return 0;               /* an empty cell */
    lt_strbuf_reset(&c->buf);
    if (roots_put(c, "local '") < 0 || lt_labels_put_str(&c->buf, local->name) < 0 || roots_put(c, "'") < 0)
        return -1;
    const char *edge = roots_keep(c);
    return edge == NULL ? -1 : roots_add(c, LT_ROOT_SLOT, local->value, c->frame, edge);
}

static int on_atexit(int index, const char *part, PyObject *obj, void *ctx)
{
    roots_ctx_t *c = ctx;
    char edge[64];
    snprintf(edge, sizeof(edge), "[%d]%s%s", index, part[0] != '\0' ? " " : "", part);
    const char *kept = lt_arena_strndup(c->arena, edge, strlen(edge));
    if (kept == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return roots_add(c, LT_ROOT_SLOT, obj, c->frame, kept);
}

int lt_roots_collect(lt_vec_t *out, lt_arena_t *arena)
{
    roots_ctx_t c;
    memset(&c, 0, sizeof(c));
    c.out = out;
    c.arena = arena;
    lt_strbuf_init(&c.buf, &lt_page_alloc);
    int rc = -1;

    PyObject *builtins_key = NULL, *builtins = NULL;
    PyObject *modules = PyImport_GetModuleDict();
    if (modules != NULL && PyDict_Check(modules)) {
        PyObject *threading = lt_labels_dict_get(modules, "threading");
        if (threading != NULL && PyModule_Check(threading))
            c.active = lt_labels_dict_get(PyModule_GetDict(threading), "_active");
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(modules, &pos, &k, &v)) {
            if (v == Py_None)
                continue;       /* an import blocked on purpose */
            /* The builtins come last: a global or a local that holds an
             * object as closely wins over them. */
            if (builtins == NULL && PyModule_Check(v) && PyUnicode_CheckExact(k) &&
                PyUnicode_CompareWithASCIIString(k, "builtins") == 0) {
                builtins_key = k;
                builtins = v;
                continue;
            }
            if (module_root(&c, k, v) < 0)
                goto done;
        }
    }
    lt_stack_visitor_t visitor = {on_frame, on_local, &c};
    if (lt_frames_walk_stacks(&visitor) != 0)
        goto done;
    if (builtins != NULL && module_root(&c, builtins_key, builtins) < 0)
        goto done;
    /* One node label shared by every callback (on_atexit reads it). */
    c.frame = "atexit callbacks";
    if (lt_frames_atexit(on_atexit, &c) != 0)
        goto done;
    rc = 0;
done:
    lt_strbuf_clear(&c.buf);
    return rc;
}

/* holder_paths() and holder_graph(): a breadth-first search forward from the
 * roots through tp_traverse records each object's parent; paths are read
 * back from the targets. Targets no root reaches get a bounded backward
 * search that shows what holds them (a reference cycle, C code). */
#include "paths.h"

#include "dot.h"
#include "gcinfo.h"
#include "heapwalk.h"
#include "labels.h"
#include "module.h"
#include "ptrmap.h"
#include "ptrset.h"
#include "roots.h"
#include "strbuf.h"
#include "typename.h"
#include "vec.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* A parent value with this bit set is an lt_root_t pointer, not an object:
 * both are at least 8-byte aligned. */
#define ROOT_TAG UINT64_C(1)

/* Referrers followed back from a target no root reaches. */
#define BACK_STEPS 32
/* Unreached objects whose first referrer (and whose reference count) the
 * backward search remembers: bounds its memory (16 bytes a slot, at most
 * four times this many slots per map). */
#define BACK_INDEX_MAX ((size_t)1 << 21)
/* Dicts expanded in place (an owner's __dict__, whose own __dict__...). */
#define MAX_NESTING 4

static const char NOT_REACHABLE[] = "<not reachable from a root>";
static const char R_DEPTH[] = "not found within max_depth (the search stopped there)";
static const char R_CYCLE[] = "reference cycle";
static const char R_NOREF[] = "no referrer found: held by C code or by an object the gc does not track";
static const char R_STEPS[] = "held through more than 32 referrers";
static const char R_FULL[] = "too many unreached objects to follow referrers further";
static const char R_CTYPE[] = "held by a builtin or C extension type";
static const char R_CYCLE_HELD[] = "reference cycle kept alive by C code or by an object the gc does not track";

/* ---- the search ------------------------------------------------------ */

typedef struct found {
    PyObject *target;           /* borrowed */
    const lt_root_t *root;      /* NULL when no root reaches the target */
    const char *reason;         /* why not, when root is NULL (static) */
    size_t start, len;          /* its objects in job.chains, root end first */
} found_t;

typedef struct job {
    Py_ssize_t max_paths, max_depth;
    PyObject *exclude;          /* the caller's list of targets: never followed */
    lt_vec_t order;             /* the targets, each once, in the caller's order */
    lt_ptrset_t targets;        /* the same, for lookups */
    size_t unreached;           /* targets the search has not reached yet */
    lt_ptrmap_t parent;         /* reached object -> its parent, or root | ROOT_TAG */
    lt_vec_t queue;             /* breadth-first order; depth levels are runs */
    PyObject *from;             /* the object whose referents are being visited */
    int leaf_targets;           /* some target is not traversable (a str...) */
    int nesting;
    int failed;                 /* an allocation failed during a traversal */
    int depth_cut;              /* stopped at max_depth with objects left */
    lt_vec_t roots;             /* lt_root_t pointers, in priority order */
    lt_arena_t arena;           /* root records and their labels */
    lt_vec_t chains;            /* objects of every path, back to back */
    found_t *found;             /* one per target, lt_page_alloc memory */
    size_t nfound;
    size_t found_size;          /* bytes of found */
} job_t;

static void job_init(job_t *j, Py_ssize_t max_paths, Py_ssize_t max_depth)
{
    memset(j, 0, sizeof(*j));
    j->max_paths = max_paths;
    j->max_depth = max_depth;
    lt_vec_init(&j->order, &lt_page_alloc);
    lt_ptrset_init(&j->targets, &lt_page_alloc);
    lt_ptrmap_init(&j->parent, &lt_page_alloc);
    lt_vec_init(&j->queue, &lt_page_alloc);
    lt_vec_init(&j->roots, &lt_page_alloc);
    lt_arena_init(&j->arena, &lt_page_alloc);
    lt_vec_init(&j->chains, &lt_page_alloc);
}

static void job_release(job_t *j)
{
    lt_vec_clear(&j->order);
    lt_ptrset_clear(&j->targets);
    lt_ptrmap_clear(&j->parent);
    lt_vec_clear(&j->queue);
    lt_vec_clear(&j->roots);
    lt_arena_release(&j->arena);
    lt_vec_clear(&j->chains);
    lt_free(&lt_page_alloc, j->found, j->found_size);
    j->found = NULL;
}

static int is_target(const job_t *j, PyObject *o)
{
    return lt_ptrset_has(&j->targets, o);
}

/* Whether the references of o can be followed: through tp_traverse when
 * the collector would call it, or, for a static type (not a GC object, so
 * tp_traverse must not be called), by reading its dict and bases. Static
 * types hold the methods and attributes of builtin and C classes. */
static int expandable(PyObject *o)
{
    return lt_is_traversable(o) || PyType_Check(o);
}

/* Calls visit for what o refers to (o is expandable). */
static int refs_visit(PyObject *o, visitproc visit, void *arg)
{
    if (lt_is_traversable(o))
        return Py_TYPE(o)->tp_traverse(o, visit, arg);
    PyTypeObject *tp = (PyTypeObject *)o;
    PyObject *fields[] = {lt_py_type_dict(tp), tp->tp_mro, tp->tp_bases, (PyObject *)tp->tp_base};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        int rc = fields[i] != NULL ? visit(fields[i], arg) : 0;
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Records that `o` was reached from `parent`. Returns 1 when it is new and
 * should be expanded, 0 when there is nothing more to do with it, -1 when
 * the map cannot grow (j->failed set). */
static int job_claim(job_t *j, PyObject *o, uint64_t parent)
{
    if (o == NULL || o == j->exclude)
        return 0;
    int traversable = expandable(o);
    int target = is_target(j, o);
    /* Leaves matter only as targets: not recording the others keeps the
     * map to the containers. */
    if (!traversable && !target)
        return 0;
    int added;
    if (lt_ptrmap_upsert(&j->parent, o, parent, &added) == NULL) {
        j->failed = 1;
        return -1;
    }
    if (!added)
        return 0;
    if (target)
        j->unreached--;
    return traversable;
}

static int job_push(job_t *j, PyObject *o)
{
    if (lt_vec_push(&j->queue, o) < 0) {
        j->failed = 1;
        return -1;
    }
    return 0;
}

/* The keys of a dict that are targets. The traversal of a dict whose keys
 * are all str visits only its values (strings make no cycles), so a str
 * target held as a key is looked for here. */
static int claim_dict_keys(job_t *j, PyObject *d)
{
    if (!j->leaf_targets)
        return 0;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(d, &pos, &k, &v))
        if (is_target(j, k) && job_claim(j, k, (uint64_t)(uintptr_t)d) < 0)
            return -1;
    return 0;
}

/* Expands o: claims what it refers to. */
static void job_expand(job_t *j, PyObject *o);

/* tp_traverse callback of the forward search. */
static int search_visit(PyObject *child, void *arg)
{
    job_t *j = arg;
    int rc = job_claim(j, child, (uint64_t)(uintptr_t)j->from);
    if (rc <= 0)
        return rc;
    if (j->unreached == 0)
        return 1;               /* every target reached: stop the traversal */
    /* An owner's __dict__ costs no depth: its entries are the owner's
     * attributes, as inline values and slots are, whatever the version. */
    if (j->nesting < MAX_NESTING && PyDict_Check(child) && lt_labels_is_own_dict(j->from, child)) {
        PyObject *saved = j->from;
        j->nesting++;
        job_expand(j, child);
        j->nesting--;
        j->from = saved;
        return j->failed ? -1 : j->unreached == 0;
    }
    return job_push(j, child);
}

static void job_expand(job_t *j, PyObject *o)
{
    j->from = o;
    refs_visit(o, search_visit, j);
    if (PyDict_Check(o) && j->unreached > 0 && !j->failed)
        claim_dict_keys(j, o);
}

static uint64_t root_parent(const lt_root_t *r)
{
    return (uint64_t)(uintptr_t)r | ROOT_TAG;
}

/* Whether root r is the one that claimed its object (a module can be in
 * sys.modules under two names). */
static int root_owns(const job_t *j, const lt_root_t *r)
{
    uint64_t *p = lt_ptrmap_get(&j->parent, r->object);
    return p != NULL && *p == root_parent(r);
}

/* Depth 0: every module global, then every stack local, then the builtins,
 * in the roots' order, so that the first of equally short paths wins. */
static int job_seed(job_t *j)
{
    lt_root_t **roots = (lt_root_t **)j->roots.items;
    /* Modules and their dicts belong to their own root before any global
     * is seeded: `import billing` elsewhere must not make billing's
     * globals another module's attributes. */
    for (size_t i = 0; i < j->roots.len; i++) {
        lt_root_t *r = roots[i];
        if (r->kind != LT_ROOT_MODULE)
            continue;
        if (job_claim(j, r->object, root_parent(r)) < 0)
            return -1;
        if (PyModule_Check(r->object) && root_owns(j, r) &&
            job_claim(j, PyModule_GetDict(r->object), (uint64_t)(uintptr_t)r->object) < 0)
            return -1;
    }
    for (size_t i = 0; i < j->roots.len; i++) {
        lt_root_t *r = roots[i];
        if (r->kind == LT_ROOT_SLOT) {
            int rc = job_claim(j, r->object, root_parent(r));
            if (rc < 0 || (rc > 0 && job_push(j, r->object) < 0))
                return -1;
        } else if (PyModule_Check(r->object) && root_owns(j, r)) {
            PyObject *dict = PyModule_GetDict(r->object);
            Py_ssize_t pos = 0;
            PyObject *k, *v;
            while (PyDict_Next(dict, &pos, &k, &v)) {
                int rc = job_claim(j, v, (uint64_t)(uintptr_t)dict);
                if (rc < 0 || (rc > 0 && job_push(j, v) < 0))
                    return -1;
            }
            if (claim_dict_keys(j, dict) < 0)
                return -1;
        }
    }
    /* Then what modules hold besides their dict (the state of C modules),
     * and the odd object that sys.modules holds instead of a module. */
    for (size_t i = 0; i < j->roots.len; i++) {
        lt_root_t *r = roots[i];
        if (r->kind == LT_ROOT_MODULE && root_owns(j, r) && expandable(r->object) &&
            job_push(j, r->object) < 0)
            return -1;
    }
    return 0;
}

static int job_search(job_t *j)
{
    if (lt_roots_collect(&j->roots, &j->arena) < 0)
        return -1;
    if (lt_ptrmap_reserve(&j->parent, (size_t)1 << 16) < 0 || job_seed(j) < 0)
        goto nomem;
    size_t head = 0, level_end = j->queue.len;
    Py_ssize_t depth = 0;
    while (head < j->queue.len && j->unreached > 0) {
        if (head == level_end) {
            depth++;
            level_end = j->queue.len;
        }
        if (depth >= j->max_depth) {
            j->depth_cut = 1;
            break;
        }
        job_expand(j, j->queue.items[head++]);
        if (j->failed)
            goto nomem;
    }
    /* The queue is only needed during the search. */
    lt_vec_clear(&j->queue);
    return 0;
nomem:
    PyErr_NoMemory();
    return -1;
}

/* ---- paths back to the roots ------------------------------------------- */

/* Reverses items [start, end) of v. */
static void vec_reverse(lt_vec_t *v, size_t start)
{
    for (size_t a = start, b = v->len; a + 1 < b; a++, b--) {
        void *t = v->items[a];
        v->items[a] = v->items[b - 1];
        v->items[b - 1] = t;
    }
}

/* The first referrer of each unreached object, from one pass over the heap.
 * When the forward search ran to the end, the same pass tells which
 * unreached objects only cycles keep alive (garbage the gc would free), by
 * the collector's own method restricted to the unreached objects: each
 * one's reference count less the references from other unreached objects;
 * what keeps a count above zero is held from outside (C code), and so is
 * everything it reaches. */
typedef struct back {
    job_t *j;
    lt_ptrmap_t ref;            /* unreached object -> its first referrer */
    lt_vec_t pending;           /* untracked containers still to scan */
    PyObject *from;
    int from_tracked;           /* from is an unreached tracked object */
    int full;                   /* ref reached BACK_INDEX_MAX */
    int failed;
    int built;
    lt_ptrmap_t count;          /* unreached tracked object -> references from
                                 * outside the unreached ones, | HELD */
    int counting;               /* count is being made (no depth cut) */
    int count_full;             /* count reached BACK_INDEX_MAX: not usable */
} back_t;

/* In back.count: held from outside the unreached objects. */
#define HELD (UINT64_C(1) << 63)

static int is_tracked(PyObject *o)
{
    return PyObject_IS_GC(o) && PyObject_GC_IsTracked(o);
}

/* count[o], made from o's reference count on first sight; NULL when the
 * map is full (count_full set) or cannot grow (failed set). */
static uint64_t *back_count(back_t *b, PyObject *o)
{
    uint64_t *c = lt_ptrmap_get(&b->count, o);
    if (c != NULL)
        return c;
    if (b->count.len >= BACK_INDEX_MAX) {
        b->count_full = 1;
        return NULL;
    }
    Py_ssize_t refs = Py_REFCNT(o);
    c = lt_ptrmap_upsert(&b->count, o, refs > 0 ? (uint64_t)refs : 0, NULL);
    if (c == NULL)
        b->failed = 1;
    return c;
}

/* One reference from an unreached object to a tracked unreached one. */
static void back_count_internal(back_t *b, PyObject *child)
{
    uint64_t *c = back_count(b, child);
    if (c != NULL && *c > 0)
        (*c)--;
}

static int back_visit(PyObject *child, void *arg)
{
    back_t *b = arg;
    job_t *j = b->j;
    if (child == NULL || child == j->exclude)
        return 0;
    int traversable = expandable(child);
    if (!traversable && !is_target(j, child))
        return 0;
    if (lt_ptrmap_get(&j->parent, child) != NULL)
        return 0;               /* reached: its own path is known */
    if (b->counting && b->from_tracked && is_tracked(child)) {
        back_count_internal(b, child);
        if (b->failed)
            return -1;
    }
    if (b->ref.len >= BACK_INDEX_MAX) {
        if (lt_ptrmap_get(&b->ref, child) == NULL)
            b->full = 1;
        return 0;
    }
    int added;
    if (lt_ptrmap_upsert(&b->ref, child, (uint64_t)(uintptr_t)b->from, &added) == NULL) {
        b->failed = 1;
        return -1;
    }
    /* Untracked containers (tuples and dicts of atoms) and static types are
     * not on the collector's lists: scan them from here, once. */
    if (added && traversable && !is_tracked(child) && lt_vec_push(&b->pending, child) < 0) {
        b->failed = 1;
        return -1;
    }
    return 0;
}

/* Scans o for the backward index (dict keys too, as claim_dict_keys). */
static void back_scan(back_t *b, PyObject *o)
{
    b->from = o;
    b->from_tracked = is_tracked(o) && lt_ptrmap_get(&b->j->parent, o) == NULL;
    if (b->counting && b->from_tracked && back_count(b, o) == NULL && b->failed)
        return;
    refs_visit(o, back_visit, b);
    if (b->j->leaf_targets && PyDict_Check(o)) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (!b->failed && PyDict_Next(o, &pos, &k, &v))
            if (is_target(b->j, k))
                back_visit(k, b);
    }
}

/* tp_traverse callback: marks what a held object keeps alive. */
static int back_mark(PyObject *child, void *arg)
{
    back_t *b = arg;
    uint64_t *c = child != NULL ? lt_ptrmap_get(&b->count, child) : NULL;
    if (c != NULL && !(*c & HELD)) {
        *c |= HELD;
        if (lt_vec_push(&b->pending, child) < 0)
            b->failed = 1;
    }
    return 0;
}

/* After the counts: marks HELD what is held from outside, and what that
 * reaches among the unreached objects. */
static void back_propagate(back_t *b)
{
    job_t *j = b->j;
    /* The caller's list of targets is not a holder: what it holds does not
     * count as held from outside. */
    if (j->exclude != NULL) {
        Py_ssize_t n = PyList_Check(j->exclude) ? PyList_GET_SIZE(j->exclude) : PyTuple_GET_SIZE(j->exclude);
        PyObject **items = PyList_Check(j->exclude) ? ((PyListObject *)j->exclude)->ob_item
                                                    : ((PyTupleObject *)j->exclude)->ob_item;
        for (Py_ssize_t i = 0; i < n; i++) {
            uint64_t *c = lt_ptrmap_get(&b->count, items[i]);
            if (c != NULL && *c > 0)
                (*c)--;
        }
    }
    size_t pos = 0;
    const lt_ptrmap_entry_t *e;
    while (!b->failed && (e = lt_ptrmap_next(&b->count, &pos)) != NULL) {
        uint64_t *c = lt_ptrmap_get(&b->count, e->key);
        if (*c != 0 && !(*c & HELD)) {
            *c |= HELD;
            if (lt_vec_push(&b->pending, (void *)e->key) < 0)
                b->failed = 1;
        }
        while (!b->failed && b->pending.len > 0) {
            PyObject *o = lt_vec_pop(&b->pending);
            Py_TYPE(o)->tp_traverse(o, back_mark, b);
        }
    }
}

static int back_build(back_t *b)
{
    job_t *j = b->j;
    lt_vec_t tracked;
    lt_vec_init(&tracked, &lt_page_alloc);
    if (lt_gc_tracked(&tracked) < 0)
        return -1;
    b->counting = !j->depth_cut;
    for (size_t i = 0; i < tracked.len && !b->failed; i++) {
        PyObject *o = tracked.items[i];
        if (o == j->exclude || !expandable(o))
            continue;
        /* When the search ran to the end, a reached object's referents
         * were all reached: only the unreached part of the heap can hold
         * an unreached target. */
        if (!j->depth_cut && lt_ptrmap_get(&j->parent, o) != NULL)
            continue;
        back_scan(b, o);
        while (b->pending.len > 0 && !b->failed)
            back_scan(b, lt_vec_pop(&b->pending));
    }
    lt_vec_clear(&tracked);
    if (b->counting && !b->count_full)
        back_propagate(b);
    lt_vec_clear(&b->pending);
    if (b->failed) {
        PyErr_NoMemory();
        return -1;
    }
    b->built = 1;
    return 0;
}

/* Whether only cycles keep x alive: 1, 0, or -1 when the counts cannot
 * tell (x untracked, or the map was full). */
static int back_garbage(back_t *b, PyObject *x)
{
    if (!b->counting || b->count_full)
        return -1;
    uint64_t *c = lt_ptrmap_get(&b->count, x);
    return c == NULL ? -1 : !(*c & HELD);
}

/* Appends the referrers of unreached target t, outermost first, to
 * j->chains, and says why the chain ends there. */
static const char *back_chain(back_t *b, PyObject *t, size_t start)
{
    job_t *j = b->j;
    const char *why = R_STEPS;
    PyObject *x = t;
    if (lt_vec_push(&j->chains, t) < 0)
        return NULL;
    for (int step = 0; step < BACK_STEPS; step++) {
        uint64_t *r = lt_ptrmap_get(&b->ref, x);
        if (r == NULL) {
            why = b->full ? R_FULL : R_NOREF;
            break;
        }
        PyObject *ref = (PyObject *)(uintptr_t)*r;
        int seen = 0;
        for (size_t k = start; k < j->chains.len; k++)
            seen |= j->chains.items[k] == ref;
        if (lt_vec_push(&j->chains, ref) < 0)
            return NULL;
        /* A static type is C's own: whatever cycle runs through it (its
         * dict's descriptors name it), C code holds it. */
        if (PyType_Check(ref) && !PyType_HasFeature((PyTypeObject *)ref, Py_TPFLAGS_HEAPTYPE)) {
            why = R_CTYPE;
            break;
        }
        if (seen) {
            why = R_CYCLE;
            break;
        }
        if (lt_ptrmap_get(&j->parent, ref) != NULL) {
            why = R_DEPTH;
            break;
        }
        x = ref;
    }
    return j->depth_cut ? R_DEPTH : why;
}

/* Fills j->found: each target's chain, from its root (or the head of its
 * referrers) to the target. */
static int job_paths(job_t *j)
{
    back_t b;
    memset(&b, 0, sizeof(b));
    b.j = j;
    lt_ptrmap_init(&b.ref, &lt_page_alloc);
    lt_vec_init(&b.pending, &lt_page_alloc);
    lt_ptrmap_init(&b.count, &lt_page_alloc);
    /* The collector's own answer, when the counts cannot give it: made on
     * the first such cycle (a full pass over the heap). */
    lt_ptrmap_t garbage;
    lt_ptrmap_init(&garbage, &lt_page_alloc);
    int have_garbage = 0;
    int rc = -1;

    j->found_size = j->order.len * sizeof(found_t);
    j->found = lt_alloc(&lt_page_alloc, j->found_size);
    if (j->found == NULL)
        goto nomem;
    for (size_t i = 0; i < j->order.len; i++) {
        PyObject *t = j->order.items[i];
        found_t *f = &j->found[j->nfound++];
        f->target = t;
        f->start = j->chains.len;
        uint64_t *p = lt_ptrmap_get(&j->parent, t);
        if (p != NULL) {
            PyObject *x = t;
            for (;;) {
                if (lt_vec_push(&j->chains, x) < 0)
                    goto nomem;
                if (*p & ROOT_TAG) {
                    f->root = (const lt_root_t *)(uintptr_t)(*p & ~ROOT_TAG);
                    break;
                }
                x = (PyObject *)(uintptr_t)*p;
                p = lt_ptrmap_get(&j->parent, x);
            }
        } else {
            if (!b.built && back_build(&b) < 0)
                goto done;
            f->reason = back_chain(&b, t, f->start);
            if (f->reason == NULL)
                goto nomem;
            if (f->reason == R_CYCLE) {
                /* A cycle that something else holds is not garbage, and
                 * the path says so. An untracked target is judged by the
                 * cycle's object that heads the chain. */
                PyObject *judged = is_tracked(t) ? t : j->chains.items[j->chains.len - 1];
                int garbage_now = back_garbage(&b, judged);
                if (garbage_now < 0) {
                    if (!have_garbage && lt_gc_unreachable(&garbage) < 0)
                        goto done;
                    have_garbage = 1;
                    garbage_now = lt_ptrmap_get(&garbage, t) != NULL;
                }
                if (!garbage_now)
                    f->reason = R_CYCLE_HELD;
            }
        }
        vec_reverse(&j->chains, f->start);
        f->len = j->chains.len - f->start;
    }
    rc = 0;
    goto done;
nomem:
    PyErr_NoMemory();
done:
    lt_ptrmap_clear(&b.ref);
    lt_ptrmap_clear(&b.count);
    lt_vec_clear(&b.pending);
    lt_ptrmap_clear(&garbage);
    return rc;
}

/* ---- targets ------------------------------------------------------------ */

static int add_target(job_t *j, PyObject *o)
{
    int added = lt_ptrset_add(&j->targets, o);
    if (added < 0 || (added == 1 && lt_vec_push(&j->order, o) < 0)) {
        PyErr_NoMemory();
        return -1;
    }
    j->unreached += (size_t)added;
    j->leaf_targets |= added == 1 && !lt_is_traversable(o);
    return 0;
}

typedef struct sample {
    job_t *j;
    lt_type_match_t match;
} sample_t;

static int sample_visit(PyObject *o, int tracked, void *ctx)
{
    (void)tracked;
    sample_t *s = ctx;
    int m = lt_type_match(&s->match, Py_TYPE(o));
    if (m <= 0)
        return m;
    if (add_target(s->j, o) < 0)
        return -1;
    return (Py_ssize_t)s->j->order.len >= s->j->max_paths ? 1 : 0;
}

/* Fills the job's targets from the caller's argument. */
static int job_targets(job_t *j, PyObject *objects)
{
    if (PyList_Check(objects) || PyTuple_Check(objects)) {
        /* The storage itself: a subclass's __iter__ or __getitem__ is code. */
        Py_ssize_t n = PyList_Check(objects) ? PyList_GET_SIZE(objects) : PyTuple_GET_SIZE(objects);
        PyObject **items = PyList_Check(objects) ? ((PyListObject *)objects)->ob_item
                                                 : ((PyTupleObject *)objects)->ob_item;
        j->exclude = objects;
        for (Py_ssize_t i = 0; i < n; i++)
            if (add_target(j, items[i]) < 0)
                return -1;
        return 0;
    }
    if (j->max_paths == 0)
        return 0;
    sample_t s;
    s.j = j;
    if (lt_type_match_init(&s.match, objects, "objects") < 0)
        return -1;
    int rc = lt_heap_walk(sample_visit, &s, NULL);
    lt_type_match_clear(&s.match);
    return rc;
}

static int check_args(PyObject *objects, Py_ssize_t max_paths, Py_ssize_t max_depth, Py_ssize_t max_nodes)
{
    if (!PyList_Check(objects) && !PyTuple_Check(objects) && !PyType_Check(objects) && !PyUnicode_Check(objects)) {
        PyErr_Format(PyExc_TypeError,
                     "objects must be a list or tuple of objects, a type or a qualified type name, not %.100s",
                     Py_TYPE(objects)->tp_name);
        return -1;
    }
    if (PyUnicode_Check(objects) && PyUnicode_GET_LENGTH(objects) == 0) {
        PyErr_SetString(PyExc_ValueError, "the type name is empty");
        return -1;
    }
    if (max_paths < 0) {
        PyErr_Format(PyExc_ValueError, "max_paths must be >= 0, not %zd", max_paths);
        return -1;
    }
    if (max_depth < 0) {
        PyErr_Format(PyExc_ValueError, "max_depth must be >= 0, not %zd", max_depth);
        return -1;
    }
    if (max_nodes < 1) {
        PyErr_Format(PyExc_ValueError, "max_nodes must be >= 1, not %zd", max_nodes);
        return -1;
    }
    return 0;
}

/* Targets, search and paths; the caller has paused collection. */
static int job_run(job_t *j, PyObject *objects)
{
    if (job_targets(j, objects) < 0)
        return -1;
    if (j->order.len == 0)
        return 0;
    if (job_search(j) < 0)
        return -1;
    return job_paths(j);
}

/* ---- holder_paths --------------------------------------------------------- */

typedef struct texts {
    lt_strbuf_t buf;            /* the element being made */
    lt_strbuf_t last;           /* the previous element's text */
    PyObject *last_obj;         /* and its str, borrowed from the list */
} texts_t;

/* Appends buf's text to list as a str; consecutive equal elements (".next"
 * a million times) share one str. */
static int texts_flush(texts_t *t, PyObject *list)
{
    PyObject *s;
    if (t->last_obj != NULL && t->last.len == t->buf.len && memcmp(t->last.data, t->buf.data, t->buf.len) == 0) {
        s = Py_NewRef(t->last_obj);
    } else {
        s = PyUnicode_DecodeUTF8(lt_strbuf_str(&t->buf), (Py_ssize_t)t->buf.len, "replace");
        if (s == NULL)
            return -1;
        lt_strbuf_reset(&t->last);
        if (lt_strbuf_append(&t->last, lt_strbuf_str(&t->buf), t->buf.len) < 0) {
            Py_DECREF(s);
            PyErr_NoMemory();
            return -1;
        }
    }
    int rc = PyList_Append(list, s);
    t->last_obj = s;
    Py_DECREF(s);
    lt_strbuf_reset(&t->buf);
    return rc;
}

static int texts_put(texts_t *t, const char *s)
{
    if (lt_strbuf_puts(&t->buf, s) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* The path of f as a list of str. */
static PyObject *found_list(job_t *j, const found_t *f, texts_t *t)
{
    PyObject *const *chain = (PyObject *const *)&j->chains.items[f->start];
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    t->last_obj = NULL;
    lt_strbuf_reset(&t->buf);
    if (f->root == NULL) {
        if (texts_put(t, NOT_REACHABLE) < 0 || texts_flush(t, list) < 0 || texts_put(t, f->reason) < 0 ||
            texts_flush(t, list) < 0 || texts_put(t, "<") < 0 || lt_labels_node(&t->buf, chain[0]) < 0 ||
            texts_put(t, ">") < 0 || texts_flush(t, list) < 0)
            goto error;
    } else {
        if (texts_put(t, f->root->node) < 0)
            goto error;
        if (f->root->kind == LT_ROOT_SLOT && (texts_put(t, " ") < 0 || texts_put(t, f->root->edge) < 0))
            goto error;
        if (texts_flush(t, list) < 0)
            goto error;
    }
    for (size_t i = 0; i + 1 < f->len;) {
        int adv = lt_labels_step(&t->buf, chain, f->len, i);
        if (adv < 0 || texts_flush(t, list) < 0)
            goto error;
        i += (size_t)adv;
    }
    return list;
error:
    lt_strbuf_reset(&t->buf);
    Py_DECREF(list);
    return NULL;
}

/* The distinct paths, at most max_paths, in the targets' order. If `chosen`
 * is not NULL, the index in j->found of each path kept is pushed to it. */
static PyObject *job_lists(job_t *j, lt_vec_t *chosen)
{
    texts_t t;
    lt_strbuf_init(&t.buf, &lt_page_alloc);
    lt_strbuf_init(&t.last, &lt_page_alloc);
    PyObject *out = PyList_New(0);
    for (size_t i = 0; out != NULL && i < j->nfound && PyList_GET_SIZE(out) < j->max_paths; i++) {
        PyObject *path = found_list(j, &j->found[i], &t);
        if (path == NULL) {
            Py_CLEAR(out);
            break;
        }
        /* Lists of exact str compare in C. */
        int dup = 0;
        for (Py_ssize_t k = 0; !dup && k < PyList_GET_SIZE(out); k++) {
            dup = PyObject_RichCompareBool(PyList_GET_ITEM(out, k), path, Py_EQ);
            if (dup < 0)
                Py_CLEAR(out);
        }
        if (out != NULL && !dup) {
            if (PyList_Append(out, path) < 0)
                Py_CLEAR(out);
            else if (chosen != NULL && lt_vec_push(chosen, (void *)(uintptr_t)(i + 1)) < 0) {
                PyErr_NoMemory();
                Py_CLEAR(out);
            }
        }
        Py_DECREF(path);
    }
    lt_strbuf_clear(&t.buf);
    lt_strbuf_clear(&t.last);
    return out;
}

PyObject *lt_paths_find(PyObject *objects, Py_ssize_t max_paths, Py_ssize_t max_depth)
{
    if (check_args(objects, max_paths, max_depth, 1) < 0)
        return NULL;
    job_t j;
    job_init(&j, max_paths, max_depth);
    int gc_was = lt_gc_pause();
    if (gc_was < 0)
        return NULL;
    PyObject *out = job_run(&j, objects) < 0 ? NULL : job_lists(&j, NULL);
    job_release(&j);
    lt_gc_resume(gc_was);
    return out;
}

/* ---- holder_graph ---------------------------------------------------------- */

typedef struct graph {
    job_t *j;
    lt_strbuf_t out;
    lt_strbuf_t label;
    lt_ptrmap_t ids;            /* node key -> id + 1 */
    lt_ptrmap_t edges;          /* (from, to) -> 1 */
    size_t nodes, max_nodes;
    size_t left_out;            /* paths that did not fit */
} graph_t;

/* One node of a path: an object, or a pseudo node (a stack root, the
 * "not reachable" marker) keyed by its record. */
typedef struct gnode {
    const void *key;
    PyObject *obj;              /* NULL for a pseudo node */
    const char *text;           /* pseudo node's label */
    int style;
    const char *edge;           /* label of the edge into this node: the path's
                                 * arena, a root's label or static */
} gnode_t;

static int graph_fail(int rc)
{
    if (rc < 0 && !PyErr_Occurred())
        PyErr_NoMemory();
    return rc < 0 ? -1 : 0;
}

/* Emits node n if new; sets *id. */
static int graph_node(graph_t *g, const gnode_t *n, size_t *id)
{
    int added;
    uint64_t *slot = lt_ptrmap_upsert(&g->ids, n->key, g->nodes + 1, &added);
    if (slot == NULL)
        return graph_fail(-1);
    *id = (size_t)*slot - 1;
    if (!added)
        return 0;
    g->nodes++;
    lt_strbuf_reset(&g->label);
    if (n->obj != NULL) {
        if (lt_labels_node(&g->label, n->obj) < 0)
            return -1;
    } else if (lt_strbuf_puts(&g->label, n->text) < 0) {
        return graph_fail(-1);
    }
    return graph_fail(lt_dot_node(&g->out, *id, lt_strbuf_str(&g->label), n->style));
}

static int graph_edge(graph_t *g, size_t from, size_t to, const char *label)
{
    /* Node ids count the nodes drawn, far below 2^30: a pair packs into
     * one non-zero key. */
    uint64_t pair = (((uint64_t)from << 30 | (uint64_t)to) + 1) << 3;
    int added;
    if (lt_ptrmap_upsert(&g->edges, (const void *)(uintptr_t)pair, 1, &added) == NULL)
        return graph_fail(-1);
    return added ? graph_fail(lt_dot_edge(&g->out, from, to, label)) : 0;
}

static gnode_t *gnode_push(lt_vec_t *nodes, lt_arena_t *arena, gnode_t value)
{
    gnode_t *n = lt_arena_alloc(arena, sizeof(*n));
    if (n == NULL || lt_vec_push(nodes, n) < 0) {
        PyErr_NoMemory();
        return NULL;
    }
    *n = value;
    return n;
}

/* The nodes of path f in order, each with the label of the edge into it. */
static int graph_nodes(graph_t *g, const found_t *f, lt_vec_t *nodes, lt_arena_t *arena)
{
    job_t *j = g->j;
    PyObject *const *chain = (PyObject *const *)&j->chains.items[f->start];
    const char *into_first = NULL;
    int first_style = LT_DOT_NODE_PLAIN;
    if (f->root == NULL) {
        /* One marker per reason: the reason's static string is its key. */
        size_t size = sizeof(NOT_REACHABLE) + strlen(f->reason) + 1;
        char *text = lt_arena_alloc(arena, size);
        if (text == NULL)
            return graph_fail(-1);
        snprintf(text, size, "%s\n%s", NOT_REACHABLE, f->reason);
        if (gnode_push(nodes, arena, (gnode_t){f->reason, NULL, text, LT_DOT_NODE_PLAIN, NULL}) == NULL)
            return -1;
        into_first = "";
    } else if (f->root->kind == LT_ROOT_SLOT) {
        /* The locals of one frame share its label: one node per frame. */
        if (gnode_push(nodes, arena, (gnode_t){f->root->node, NULL, f->root->node, LT_DOT_NODE_ROOT, NULL}) == NULL)
            return -1;
        into_first = f->root->edge;
    } else {
        first_style = LT_DOT_NODE_ROOT;
    }
    if (gnode_push(nodes, arena, (gnode_t){chain[0], chain[0], NULL, first_style, into_first}) == NULL)
        return -1;
    for (size_t i = 0; i + 1 < f->len;) {
        lt_strbuf_reset(&g->label);
        int adv = lt_labels_step(&g->label, chain, f->len, i);
        if (adv < 0)
            return -1;
        i += (size_t)adv;
        char *edge = lt_arena_strndup(arena, lt_strbuf_str(&g->label), g->label.len);
        if (edge == NULL)
            return graph_fail(-1);
        if (gnode_push(nodes, arena, (gnode_t){chain[i], chain[i], NULL, LT_DOT_NODE_PLAIN, edge}) == NULL)
            return -1;
    }
    for (size_t k = 0; k < nodes->len; k++) {
        gnode_t *m = nodes->items[k];
        if (m->obj != NULL && is_target(j, m->obj))
            m->style = LT_DOT_NODE_TARGET;
    }
    return 0;
}

/* Adds path f if its new nodes fit; the first path is cut to fit. */
static int graph_path(graph_t *g, const found_t *f)
{
    lt_vec_t nodes;
    lt_vec_init(&nodes, &lt_page_alloc);
    lt_arena_t arena;
    lt_arena_init(&arena, &lt_page_alloc);
    lt_ptrset_t fresh;
    lt_ptrset_init(&fresh, &lt_page_alloc);
    int rc = -1;
    if (graph_nodes(g, f, &nodes, &arena) < 0)
        goto done;
    size_t need = 0;
    for (size_t k = 0; k < nodes.len; k++) {
        gnode_t *m = nodes.items[k];
        if (lt_ptrmap_get(&g->ids, m->key) != NULL)
            continue;
        int added = lt_ptrset_add(&fresh, m->key);
        if (added < 0) {
            graph_fail(-1);
            goto done;
        }
        need += (size_t)added;
    }
    size_t keep = nodes.len;     /* nodes of the path drawn before any cut */
    int cut = 0;
    if (g->nodes + need > g->max_nodes) {
        if (g->nodes > 0) {
            g->left_out++;
            rc = 0;
            goto done;
        }
        /* The first path alone is too long: its head, a marker for what is
         * left out, and the target. */
        cut = g->max_nodes >= 3;
        keep = cut ? g->max_nodes - 2 : g->max_nodes;
    }
    size_t prev = 0;
    for (size_t k = 0; k < keep; k++) {
        gnode_t *m = nodes.items[k];
        size_t id;
        if (graph_node(g, m, &id) < 0 || (k > 0 && graph_edge(g, prev, id, m->edge) < 0))
            goto done;
        prev = id;
    }
    if (cut) {
        char text[64];
        snprintf(text, sizeof(text), "... %zu more", nodes.len - keep - 1);
        gnode_t more = {&more, NULL, text, LT_DOT_NODE_PLAIN, NULL};
        size_t id;
        if (graph_node(g, &more, &id) < 0 || graph_edge(g, prev, id, NULL) < 0)
            goto done;
        prev = id;
        gnode_t *last = nodes.items[nodes.len - 1];
        if (graph_node(g, last, &id) < 0 || graph_edge(g, prev, id, last->edge) < 0)
            goto done;
    }
    rc = 0;
done:
    lt_vec_clear(&nodes);
    lt_arena_release(&arena);
    lt_ptrset_clear(&fresh);
    return rc;
}

static PyObject *job_graph(job_t *j, Py_ssize_t max_nodes)
{
    graph_t g;
    memset(&g, 0, sizeof(g));
    g.j = j;
    g.max_nodes = (size_t)max_nodes;
    lt_strbuf_init(&g.out, &lt_page_alloc);
    lt_strbuf_init(&g.label, &lt_page_alloc);
    lt_ptrmap_init(&g.ids, &lt_page_alloc);
    lt_ptrmap_init(&g.edges, &lt_page_alloc);
    lt_vec_t chosen;
    lt_vec_init(&chosen, &lt_page_alloc);
    PyObject *out = NULL;

    PyObject *lists = job_lists(j, &chosen);
    if (lists == NULL)
        goto done;
    Py_DECREF(lists);
    if (graph_fail(lt_dot_begin(&g.out, "holder_paths")) < 0)
        goto done;
    for (size_t k = 0; k < chosen.len; k++)
        if (graph_path(&g, &j->found[(uintptr_t)chosen.items[k] - 1]) < 0)
            goto done;
    if (g.left_out > 0) {
        char text[96];
        snprintf(text, sizeof(text), "%zu more path%s left out (max_nodes=%zd)", g.left_out,
                 g.left_out == 1 ? "" : "s", max_nodes);
        if (graph_fail(lt_strbuf_puts(&g.out, "  label=\"")) < 0 || graph_fail(lt_dot_escape(&g.out, text)) < 0 ||
            graph_fail(lt_strbuf_puts(&g.out, "\";\n")) < 0)
            goto done;
    }
    if (graph_fail(lt_dot_end(&g.out)) < 0)
        goto done;
    out = PyUnicode_DecodeUTF8(lt_strbuf_str(&g.out), (Py_ssize_t)g.out.len, "replace");
done:
    lt_vec_clear(&chosen);
    lt_strbuf_clear(&g.out);
    lt_strbuf_clear(&g.label);
    lt_ptrmap_clear(&g.ids);
    lt_ptrmap_clear(&g.edges);
    return out;
}

PyObject *lt_paths_graph(PyObject *objects, Py_ssize_t max_paths, Py_ssize_t max_depth, Py_ssize_t max_nodes)
{
    if (check_args(objects, max_paths, max_depth, max_nodes) < 0)
        return NULL;
    job_t j;
    job_init(&j, max_paths, max_depth);
    int gc_was = lt_gc_pause();
    if (gc_was < 0)
        return NULL;
    PyObject *out = job_run(&j, objects) < 0 ? NULL : job_graph(&j, max_nodes);
    job_release(&j);
    lt_gc_resume(gc_was);
    return out;
}

/* ---- module functions ------------------------------------------------------ */

static PyObject *holder_paths_fn(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *kwlist[] = {"objects", "max_paths", "max_depth", NULL};
    PyObject *objects;
    Py_ssize_t max_paths = 10, max_depth = 64;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$nn:holder_paths", kwlist, &objects, &max_paths, &max_depth))
        return NULL;
    return lt_paths_find(objects, max_paths, max_depth);
}

static PyObject *holder_graph_fn(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *kwlist[] = {"objects", "max_paths", "max_depth", "max_nodes", NULL};
    PyObject *objects;
    Py_ssize_t max_paths = 10, max_depth = 64, max_nodes = 200;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$nnn:holder_graph", kwlist, &objects, &max_paths, &max_depth,
                                     &max_nodes))
        return NULL;
    return lt_paths_graph(objects, max_paths, max_depth, max_nodes);
}

static PyMethodDef paths_functions[] = {
    {"holder_paths", (PyCFunction)(void (*)(void))holder_paths_fn, METH_VARARGS | METH_KEYWORDS,
     "holder_paths(objects, *, max_paths=10, max_depth=64) -> list[list[str]]\n"
     "\n"
     "Who keeps objects alive: for each target, the shortest chain of references\n"
     "from a root to it, root first, each element as the program would spell it:\n"
     "\n"
     "    ['module billing', '.INVOICES', \"['inv-1466']\"]\n"
     "    [\"thread MainThread frame handle() local 'payload'\", '[3]', '.owner']\n"
     "\n"
     "objects is a list or tuple of targets (the list itself is never followed),\n"
     "or a type or qualified type name ('billing.Invoice'), in which case up to\n"
     "max_paths live instances of exactly that type are the targets.\n"
     "\n"
     "Roots, in the order that breaks ties between equally short paths: the\n"
     "globals of every module in sys.modules ('module billing', then '.NAME');\n"
     "the locals, cell variables and class-body names of every frame on every\n"
     "thread's stack, the calling thread first, innermost frame first (one\n"
     "element: \"thread <name> frame <function>() local '<variable>'\", the name\n"
     "from threading, else the thread ident); then the builtins ('module\n"
     "builtins'); then the callbacks of atexit.register, which from 3.10 the\n"
     "interpreter holds outside any object ('atexit callbacks [3]', its args\n"
     "'atexit callbacks [3] args'). One breadth-first search through the\n"
     "objects' tp_traverse (and the dicts and bases of static types) serves\n"
     "all targets; it stops once every target is reached or after max_depth\n"
     "references from the roots' own variables: a global or a local is at\n"
     "depth 0, and a __dict__ costs no depth.\n"
     "\n"
     "Elements after the root: '.name' (an attribute: module global, class\n"
     "attribute, instance __dict__ entry, inline value, __slots__ member, or a\n"
     "field of a builtin object such as '.__traceback__', '.tb_frame',\n"
     "'.tb_next', '.__context__', '.__cause__', '.__self__', '.__func__',\n"
     "'.__globals__', '.__defaults__', '.__closure__', '.gi_frame'); \"['key']\",\n"
     "'[7]' or '[<tuple key>]' (a dict value: only exact str and int keys are\n"
     "shown, as repr() would, cut to 60 characters); \"key 'k'\" or 'key <T>'\n"
     "(the target is the key); '[3]' (list or tuple index); '{...} element' (set\n"
     "member); \"cell 'name'\" (a function's closure variable); \"frame f() local\n"
     "'x'\" and 'frame f() value stack' (a frame object's or a generator's\n"
     "local or stack); and '<type name>' (e.g. '<functools._lru_cache_wrapper\n"
     "total>') for a reference inside a C object with no attribute name.\n"
     "\n"
     "A target that no root reaches within max_depth still gets a path:\n"
     "'<not reachable from a root>', then why, then '<what>' the outermost\n"
     "object of a chain of referrers found backwards from the target is (each\n"
     "object's first referrer among the objects the gc tracks, at most 32\n"
     "steps), then the elements from that object down to the target. Why is\n"
     "one of:\n"
     "  'reference cycle': following referrers came back to an object of the\n"
     "    chain, and only cycles keep the target alive (the gc would free it).\n"
     "    The chain starts at that object: the cycle is the stretch up to where\n"
     "    it appears again.\n"
     "  'reference cycle kept alive by C code or by an object the gc does not\n"
     "    track': the same, but the gc would not free it.\n"
     "  'held by a builtin or C extension type': the chain reached a static\n"
     "    type, which C code owns.\n"
     "  'no referrer found: held by C code or by an object the gc does not\n"
     "    track'.\n"
     "  'not found within max_depth (the search stopped there)': a longer path\n"
     "    may exist.\n"
     "  'held through more than 32 referrers', 'too many unreached objects to\n"
     "    follow referrers further': the backward search's own limits (it\n"
     "    remembers at most 2M objects).\n"
     "\n"
     "At most max_paths paths are returned, in the targets' order; equal paths\n"
     "are returned once. No code of the program runs (no __repr__, __eq__,\n"
     "__hash__, __getattr__ or descriptor); automatic collection is paused\n"
     "during the search. ValueError for negative limits, TypeError for other\n"
     "kinds of objects."},
    {"holder_graph", (PyCFunction)(void (*)(void))holder_graph_fn, METH_VARARGS | METH_KEYWORDS,
     "holder_graph(objects, *, max_paths=10, max_depth=64, max_nodes=200) -> str\n"
     "\n"
     "The paths holder_paths() returns, merged into one graphviz dot digraph:\n"
     "an object on several paths is one node. Roots are blue, targets red;\n"
     "nodes are labelled by type and name ('module billing', 'dict (3 items)',\n"
     "'function billing.handle'), edges by the path elements; a stack root is a\n"
     "node for its frame ('thread MainThread frame main()') with an edge\n"
     "\"local 'x'\". At most max_nodes nodes: paths whose new nodes do not fit\n"
     "are left out (the graph's label says how many), and a first path too long\n"
     "for the limit keeps its head, a '... N more' node and its target. Every\n"
     "label is escaped."},
    {NULL, NULL, 0, NULL},
};

int lt_paths_exec(PyObject *module)
{
    return PyModule_AddFunctions(module, paths_functions);
}

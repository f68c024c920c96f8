/* Everything that differs between the supported CPython versions (3.9 to
 * 3.13). This is the ONLY file that tests PY_VERSION_HEX: the rest of
 * src/ext calls the lt_py_* helpers defined here. */
#ifndef LT_COMPAT_H
#define LT_COMPAT_H

/* A file that needs the collector's internal lists defines
 * LT_COMPAT_GC_INTERNALS before including this header; internal headers
 * require Py_BUILD_CORE_MODULE before Python.h, which changes some public
 * macros, so only gclists.c does it. */
#ifdef LT_COMPAT_GC_INTERNALS
#define Py_BUILD_CORE_MODULE 1
#endif

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#ifdef LT_COMPAT_GC_INTERNALS
/* CPython's internal headers are not written for -Wextra. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <internal/pycore_gc.h>
#include <internal/pycore_interp.h>
#pragma GCC diagnostic pop
#endif

#if PY_VERSION_HEX < 0x03090000 || PY_VERSION_HEX >= 0x030E0000
#error "leaktrace supports CPython 3.9 to 3.13"
#endif
#ifdef Py_GIL_DISABLED
#error "leaktrace does not support the free-threaded build yet"
#endif

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *Py_NewRef(PyObject *o)
{
    Py_INCREF(o);
    return o;
}
static inline PyObject *Py_XNewRef(PyObject *o)
{
    Py_XINCREF(o);
    return o;
}
#endif

/* Automatic collection on or off. 3.9 has no C API for it, so it goes
 * through the gc module's own C functions (no user code runs either way).
 * Returns the previous state (1 enabled, 0 disabled) or -1 with an
 * exception set. */
static inline int lt_py_gc_set_enabled(int enable)
{
#if PY_VERSION_HEX >= 0x030A0000
    return enable ? PyGC_Enable() : PyGC_Disable();
#else
    PyObject *gc = PyImport_ImportModule("gc");
    if (gc == NULL)
        return -1;
    int was = -1;
    PyObject *r = PyObject_CallMethod(gc, "isenabled", NULL);
    if (r != NULL) {
        was = PyObject_IsTrue(r);
        Py_DECREF(r);
        if (was >= 0) {
            r = PyObject_CallMethod(gc, enable ? "enable" : "disable", NULL);
            if (r == NULL)
                was = -1;
            Py_XDECREF(r);
        }
    }
    Py_DECREF(gc);
    return was;
#endif
}

/* str.__sizeof__ of an exact str in the common case (compact ASCII, no
 * separate wchar_t copy), or -1 when the C __sizeof__ must be asked. */
static inline Py_ssize_t lt_py_str_sizeof(PyObject *o)
{
    if (!PyUnicode_IS_COMPACT_ASCII(o))
        return -1;
#if PY_VERSION_HEX < 0x030C0000
    if (((PyASCIIObject *)o)->wstr != NULL)
        return -1;
#endif
    return (Py_ssize_t)sizeof(PyASCIIObject) + PyUnicode_GET_LENGTH(o) + 1;
}

/* int.__sizeof__ of an exact int: the digits follow a PyVarObject-sized
 * head in every version; 3.11 started counting zero as one digit. */
static inline Py_ssize_t lt_py_int_sizeof(PyObject *o)
{
#if PY_VERSION_HEX >= 0x030C0000
    Py_ssize_t ndigits = (Py_ssize_t)(((PyLongObject *)o)->long_value.lv_tag >> _PyLong_NON_SIZE_BITS);
#else
    Py_ssize_t ndigits = Py_SIZE(o) < 0 ? -Py_SIZE(o) : Py_SIZE(o);
#endif
#if PY_VERSION_HEX >= 0x030B0000
    if (ndigits < 1)
        ndigits = 1;
#endif
    return (Py_ssize_t)sizeof(PyVarObject) + ndigits * (Py_ssize_t)sizeof(digit);
}

/* dict.__sizeof__ of an exact dict without the call, where CPython exports
 * the function behind it (3.9 to 3.12); LT_PY_HAVE_DICT_SIZEOF says so. */
#if PY_VERSION_HEX < 0x030D0000
#define LT_PY_HAVE_DICT_SIZEOF 1
static inline Py_ssize_t lt_py_dict_sizeof(PyObject *o)
{
    return _PyDict_SizeOf((PyDictObject *)o);
}
#else
#define LT_PY_HAVE_DICT_SIZEOF 0
static inline Py_ssize_t lt_py_dict_sizeof(PyObject *o)
{
    (void)o;
    return -1;
}
#endif

/* PyGC_Head is internal since 3.9; it has been two words in every
 * supported version. */
#define LT_PY_GC_HEAD_SIZE ((Py_ssize_t)(2 * sizeof(void *)))

/* Bytes that sys.getsizeof adds to __sizeof__: the GC header, and from
 * 3.11 the pre-header of the managed dict (and from 3.12 weakref) pointers. */
static inline Py_ssize_t lt_py_sizeof_extra(PyObject *o)
{
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
    /* 3.11's _PyType_PreHeaderSize, applied to every object. */
    PyTypeObject *tp = Py_TYPE(o);
    return (PyType_IS_GC(tp) ? LT_PY_GC_HEAD_SIZE : 0) +
           (PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT) ? 2 * (Py_ssize_t)sizeof(PyObject *) : 0);
#elif PY_VERSION_HEX >= 0x030C0000
    /* _PyType_PreHeaderSize, applied as _PySys_GetSizeOf does; 3.13 leaves
     * static type objects out. */
#if PY_VERSION_HEX >= 0x030D0000
    if (Py_IS_TYPE(o, &PyType_Type) && !PyType_HasFeature((PyTypeObject *)o, Py_TPFLAGS_HEAPTYPE))
        return 0;
#endif
    PyTypeObject *tp = Py_TYPE(o);
    Py_ssize_t extra = PyType_IS_GC(tp) ? LT_PY_GC_HEAD_SIZE : 0;
    if (PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT | Py_TPFLAGS_MANAGED_WEAKREF))
        extra += 2 * (Py_ssize_t)sizeof(PyObject *);
    return extra;
#else
    return PyObject_IS_GC(o) ? LT_PY_GC_HEAD_SIZE : 0;
#endif
}

/* PyObject_GC_IsTracked for an object known to be of a GC type, inlined:
 * the collector's header sits just before the object and its first word
 * (_gc_next) is non-zero exactly when the object is tracked, in every
 * supported version. */
static inline int lt_py_gc_is_tracked(PyObject *o)
{
    return ((const uintptr_t *)o)[-2] != 0;
}

#ifdef LT_COMPAT_GC_INTERNALS
/* Calls fn(op, permanent, arg) for every object the collector tracks: the
 * generations in list order, then the permanent generation of gc.freeze()
 * (permanent = 1), which PyUnstable_GC_VisitObjects and gc.get_objects()
 * leave out. fn returns 1 to go on, 0 to stop. fn must not create or free
 * tracked objects; untracked ones (str, int) are fine. The caller holds the
 * GIL and has paused automatic collection. The lists are those of
 * pycore_gc.h, the same in 3.9 to 3.13: _gc_next carries no flag bits
 * outside a collection. */
typedef int (*lt_py_gc_visit_fn)(PyObject *op, int permanent, void *arg);
static inline int lt_py_gc_foreach_list(PyGC_Head *head, int permanent, lt_py_gc_visit_fn fn, void *arg)
{
    PyGC_Head *g = (PyGC_Head *)head->_gc_next;
    while (g != head) {
        PyObject *op = (PyObject *)(g + 1);
        /* A reference keeps op (and so its place in the list) valid while
         * fn runs, as in PyUnstable_GC_VisitObjects. */
        Py_INCREF(op);
        int go_on = fn(op, permanent, arg);
        g = (PyGC_Head *)g->_gc_next;
        Py_DECREF(op);
        if (!go_on)
            return 0;
    }
    return 1;
}

static inline void lt_py_gc_foreach(lt_py_gc_visit_fn fn, void *arg)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    for (int i = 0; i < NUM_GENERATIONS; i++)
        if (!lt_py_gc_foreach_list(&interp->gc.generations[i].head, 0, fn, arg))
            return;
    lt_py_gc_foreach_list(&interp->gc.permanent_generation.head, 1, fn, arg);
}
#endif

/* The thread state of the calling thread, or NULL; never fails, never
 * allocates (usable inside an allocator hook). */
static inline PyThreadState *lt_py_tstate_current(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyThreadState_GetUnchecked();
#else
    return _PyThreadState_UncheckedGet();
#endif
}

/* The qualified name of a code object's function (co_qualname from 3.11,
 * co_name before), borrowed. */
static inline PyObject *lt_py_code_qualname(PyCodeObject *co)
{
#if PY_VERSION_HEX >= 0x030B0000
    return co->co_qualname;
#else
    return co->co_name;
#endif
}

/* Where the allocator's block of `o` starts: the object minus its
 * pre-header (the GC header, and from 3.11 the managed dict and weakref
 * words). NULL for a static type object, which was never allocated. */
static inline const void *lt_py_alloc_start(PyObject *o)
{
    if (PyType_Check(o) && !PyType_HasFeature((PyTypeObject *)o, Py_TPFLAGS_HEAPTYPE))
        return NULL;
    PyTypeObject *tp = Py_TYPE(o);
    Py_ssize_t pre = PyType_IS_GC(tp) ? LT_PY_GC_HEAD_SIZE : 0;
#if PY_VERSION_HEX >= 0x030C0000
    if (PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT | Py_TPFLAGS_MANAGED_WEAKREF))
        pre += 2 * (Py_ssize_t)sizeof(PyObject *);
#elif PY_VERSION_HEX >= 0x030B0000
    if (PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT))
        pre += 2 * (Py_ssize_t)sizeof(PyObject *);
#endif
    return (const char *)o - pre;
}

/* Visits the objects a code object holds (constants, names, tables): code
 * objects are not gc containers, so no tp_traverse shows them. */
static inline int lt_py_code_traverse(PyCodeObject *co, visitproc visit, void *arg)
{
    Py_VISIT(co->co_consts);
    Py_VISIT(co->co_names);
    Py_VISIT(co->co_filename);
    Py_VISIT(co->co_name);
#if PY_VERSION_HEX >= 0x030B0000
    Py_VISIT(co->co_exceptiontable);
    Py_VISIT(co->co_localsplusnames);
    Py_VISIT(co->co_localspluskinds);
    Py_VISIT(co->co_qualname);
    Py_VISIT(co->co_linetable);
#if PY_VERSION_HEX < 0x030C0000
    Py_VISIT(co->_co_code);
#endif
#else
    Py_VISIT(co->co_code);
    Py_VISIT(co->co_varnames);
    Py_VISIT(co->co_freevars);
    Py_VISIT(co->co_cellvars);
#if PY_VERSION_HEX >= 0x030A0000
    Py_VISIT(co->co_linetable);
#else
    Py_VISIT(co->co_lnotab);
#endif
#endif
    return 0;
}

/* Type flag for types made only by leaktrace itself (3.10+ refuses to
 * instantiate them from Python; on 3.9 an instance made from Python is
 * empty but harmless). */
#if PY_VERSION_HEX >= 0x030A0000
#define LT_PY_TPFLAGS_NO_INSTANCES Py_TPFLAGS_DISALLOW_INSTANTIATION
#else
#define LT_PY_TPFLAGS_NO_INSTANCES 0
#endif

/* The module slot that says leaktrace's process-wide state does not
 * support several interpreters (3.12+ understands the slot). */
#if PY_VERSION_HEX >= 0x030C0000
#define LT_PY_MOD_SINGLE_INTERPRETER_SLOT {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#else
#define LT_PY_MOD_SINGLE_INTERPRETER_SLOT
#endif

/* ---- Frames, instance attributes, interpreter state (holder paths) ------
 * The first helpers are public API; the rest of this section is seen only
 * by frames.c, which defines LT_COMPAT_FRAMES and Py_BUILD_CORE_MODULE
 * before its first include. From 3.11 the interpreter's frames
 * (_PyInterpreterFrame), the inline attribute values of managed dicts and,
 * from 3.10, the atexit callbacks are described only by CPython's internal
 * headers; those need Py_BUILD_CORE before Python.h, which changes macros of
 * the public headers too, so no other unit may see it. Nothing here
 * allocates or runs Python code: each helper reads memory that the
 * interpreter keeps consistent while the caller holds the GIL. */

/* The __notes__ list of an exception (3.11+), borrowed, or NULL. */
static inline PyObject *lt_py_exc_notes(PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030B0000
    return ((PyBaseExceptionObject *)exc)->notes;
#else
    (void)exc;
    return NULL;
#endif
}

/* A type's dict, borrowed, or NULL. From 3.12 a static builtin type keeps
 * its dict in the interpreter and tp_dict is NULL; PyType_GetDict reads it
 * (a new reference to a dict the interpreter keeps alive, so it is given
 * back at once). */
static inline PyObject *lt_py_type_dict(PyTypeObject *tp)
{
#if PY_VERSION_HEX >= 0x030C0000
    if (tp->tp_dict != NULL)
        return tp->tp_dict;
    PyObject *d = PyType_GetDict(tp);
    Py_XDECREF(d);
    return d;
#else
    return tp->tp_dict;
#endif
}

#ifdef LT_COMPAT_FRAMES

#ifndef Py_BUILD_CORE
#error "define Py_BUILD_CORE_MODULE with LT_COMPAT_FRAMES, before the first include"
#endif
#if PY_VERSION_HEX >= 0x030B0000
/* CPython's internal headers are not written for -Wextra. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <internal/pycore_code.h>
#include <internal/pycore_dict.h>
#include <internal/pycore_frame.h>
#include <internal/pycore_object.h>
#include <internal/pycore_interp.h>
#pragma GCC diagnostic pop
/* A frame on a thread's stack or owned by a frame object or a generator. */
typedef _PyInterpreterFrame lt_py_iframe_t;
#else
#include <frameobject.h>
#if PY_VERSION_HEX >= 0x030A0000
#include <internal/pycore_interp.h>
#endif
/* Up to 3.10 every Python frame is a frame object. */
typedef PyFrameObject lt_py_iframe_t;
#endif

/* The Python callbacks of atexit.register: from 3.10 the interpreter keeps
 * them in C memory that no object's traversal shows; 3.9's atexit module
 * keeps them in its state, reached through the module (0 callbacks here).
 * Callback i (below the count; unregistered ones are NULL) sets its
 * function, args tuple and kwargs dict (each may be NULL), borrowed, and
 * returns 1; 0 for an empty slot. */
static inline int lt_py_atexit_count(PyInterpreterState *interp)
{
#if PY_VERSION_HEX >= 0x030A0000
    return interp->atexit.callbacks != NULL ? interp->atexit.ncallbacks : 0;
#else
    (void)interp;
    return 0;
#endif
}

static inline int lt_py_atexit_callback(PyInterpreterState *interp, int i, PyObject **func, PyObject **args,
                                        PyObject **kwargs)
{
#if PY_VERSION_HEX >= 0x030C0000
    atexit_py_callback *cb = interp->atexit.callbacks[i];
#elif PY_VERSION_HEX >= 0x030A0000
    atexit_callback *cb = interp->atexit.callbacks[i];
#else
    void *cb = NULL;
    (void)interp, (void)i;
#endif
    if (cb == NULL)
        return 0;
#if PY_VERSION_HEX >= 0x030A0000
    *func = cb->func;
    *args = cb->args;
    *kwargs = cb->kwargs;
#else
    (void)func, (void)args, (void)kwargs;
#endif
    return 1;
}

/* The innermost frame of a thread, or NULL. It may be incomplete: check
 * lt_py_iframe_code before reading its locals. */
static inline lt_py_iframe_t *lt_py_thread_frame(PyThreadState *ts)
{
#if PY_VERSION_HEX >= 0x030D0000
    return ts->current_frame;
#elif PY_VERSION_HEX >= 0x030B0000
    return ts->cframe != NULL ? ts->cframe->current_frame : NULL;
#else
    return ts->frame;
#endif
}

static inline lt_py_iframe_t *lt_py_iframe_previous(lt_py_iframe_t *f)
{
#if PY_VERSION_HEX >= 0x030B0000
    return f->previous;
#else
    return f->f_back;
#endif
}

/* The code object of a complete Python frame, borrowed; NULL for the
 * frames whose locals must not be read: shims owned by the C stack (3.12+),
 * frames still making their cells (3.11+, "incomplete"), or an executable
 * that is not code (3.13). */
static inline PyCodeObject *lt_py_iframe_code(lt_py_iframe_t *f)
{
#if PY_VERSION_HEX >= 0x030D0000
    if (f->owner == FRAME_OWNED_BY_CSTACK || f->f_executable == NULL || !PyCode_Check(f->f_executable) ||
        _PyFrame_IsIncomplete(f))
        return NULL;
    return (PyCodeObject *)f->f_executable;
#elif PY_VERSION_HEX >= 0x030C0000
    if (f->owner == FRAME_OWNED_BY_CSTACK || f->f_code == NULL || _PyFrame_IsIncomplete(f))
        return NULL;
    return f->f_code;
#elif PY_VERSION_HEX >= 0x030B0000
    if (f->f_code == NULL || _PyFrame_IsIncomplete(f))
        return NULL;
    return f->f_code;
#else
    return f->f_code;
#endif
}

/* The byte offset in co's bytecode of the instruction the frame runs (or
 * last ran), as PyCode_Addr2Line takes it; -1 before the first one. */
static inline int lt_py_iframe_lasti(lt_py_iframe_t *f, PyCodeObject *co)
{
#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t units = f->instr_ptr - _PyCode_CODE(co);
#elif PY_VERSION_HEX >= 0x030B0000
    Py_ssize_t units = f->prev_instr - _PyCode_CODE(co);
#elif PY_VERSION_HEX >= 0x030A0000
    Py_ssize_t units = f->f_lasti;      /* in code units from 3.10 */
    (void)co;
#else
    (void)co;
    return f->f_lasti < 0 ? -1 : f->f_lasti;
#endif
#if PY_VERSION_HEX >= 0x030A0000
    return units < 0 ? -1 : (int)(units * (Py_ssize_t)sizeof(_Py_CODEUNIT));
#endif
}

/* The fast locals of a frame: co_nlocalsplus slots (locals, then cell and
 * free variables). */
static inline PyObject **lt_py_iframe_locals(lt_py_iframe_t *f)
{
#if PY_VERSION_HEX >= 0x030B0000
    return f->localsplus;
#else
    return f->f_localsplus;
#endif
}

/* The frame's other references, for labels: globals, builtins, the locals
 * mapping (NULL unless locals() or a class body made one) and the function
 * (3.11+; NULL before). All borrowed. */
static inline PyObject *lt_py_iframe_globals(lt_py_iframe_t *f) { return f->f_globals; }
static inline PyObject *lt_py_iframe_builtins(lt_py_iframe_t *f) { return f->f_builtins; }
static inline PyObject *lt_py_iframe_localsdict(lt_py_iframe_t *f) { return f->f_locals; }
static inline PyObject *lt_py_iframe_function(lt_py_iframe_t *f)
{
#if PY_VERSION_HEX >= 0x030C0000
    return f->f_funcobj;
#elif PY_VERSION_HEX >= 0x030B0000
    return (PyObject *)f->f_func;
#else
    (void)f;
    return NULL;
#endif
}

/* The value stack of a frame that is not running (owned by a frame object
 * or a suspended generator): sets *n and returns its first slot, or returns
 * NULL with *n = 0 when it is not known to be valid. */
static inline PyObject **lt_py_iframe_stack(lt_py_iframe_t *f, PyCodeObject *co, Py_ssize_t *n)
{
    *n = 0;
#if PY_VERSION_HEX >= 0x030B0000
    int base = co->co_nlocalsplus;
    if (f->stacktop <= base)
        return NULL;
    *n = f->stacktop - base;
    return f->localsplus + base;
#elif PY_VERSION_HEX >= 0x030A0000
    (void)co;
    if (f->f_stackdepth <= 0)
        return NULL;
    *n = f->f_stackdepth;
    return f->f_valuestack;
#else
    (void)co;
    if (f->f_stacktop == NULL || f->f_stacktop <= f->f_valuestack)
        return NULL;
    *n = f->f_stacktop - f->f_valuestack;
    return f->f_valuestack;
#endif
}

/* The frame data of a frame object, or NULL once it has none to read. */
static inline lt_py_iframe_t *lt_py_frame_object_iframe(PyFrameObject *fo)
{
#if PY_VERSION_HEX >= 0x030B0000
    return fo->f_frame;
#else
    return fo;
#endif
}

/* A frame object's own fields: the frame it was called from (NULL while
 * that frame has no frame object yet, 3.11+) and the trace function. */
static inline PyObject *lt_py_frame_object_back(PyFrameObject *fo) { return (PyObject *)fo->f_back; }
static inline PyObject *lt_py_frame_object_trace(PyFrameObject *fo) { return fo->f_trace; }

/* The frame embedded in a generator, coroutine or async generator (3.11+)
 * while it still holds its locals; NULL before 3.11, where their frame is a
 * frame object (gi_frame) reached as such. */
static inline lt_py_iframe_t *lt_py_gen_iframe(PyObject *gen)
{
#if PY_VERSION_HEX >= 0x030B0000
    /* Generators, coroutines and async generators share _PyGenObject_HEAD;
     * the collector reads the frame while its state is below CLEARED. */
    PyGenObject *g = (PyGenObject *)gen;
    if (g->gi_frame_state >= FRAME_CLEARED)
        return NULL;
    return (lt_py_iframe_t *)g->gi_iframe;
#else
    (void)gen;
    return NULL;
#endif
}

/* Whether a generator-like object runs now (3.11+; before, its frame is a
 * frame object and this is not asked). */
static inline int lt_py_gen_running(PyObject *gen)
{
#if PY_VERSION_HEX >= 0x030B0000
    return ((PyGenObject *)gen)->gi_frame_state == FRAME_EXECUTING;
#else
    (void)gen;
    return 0;
#endif
}

/* The frame object of a generator-like object (gi_frame), borrowed, or
 * NULL: up to 3.10 it holds the generator's locals; from 3.11 it exists only
 * once someone asked for it. */
static inline PyObject *lt_py_gen_frame_object(PyObject *gen)
{
#if PY_VERSION_HEX >= 0x030B0000
    lt_py_iframe_t *f = lt_py_gen_iframe(gen);
    return f != NULL ? (PyObject *)f->frame_obj : NULL;
#else
    return (PyObject *)((PyGenObject *)gen)->gi_frame;
#endif
}

/* The code object of a generator-like object (its gi_code), borrowed. */
static inline PyObject *lt_py_gen_code(PyObject *gen)
{
#if PY_VERSION_HEX >= 0x030C0000
    lt_py_iframe_t *f = lt_py_gen_iframe(gen);
    return f != NULL ? (PyObject *)lt_py_iframe_code(f) : NULL;
#else
    return (PyObject *)((PyGenObject *)gen)->gi_code;
#endif
}

/* Names and kinds of the fast-local slots of a code object. */
static inline int lt_py_code_nlocalsplus(PyCodeObject *co)
{
#if PY_VERSION_HEX >= 0x030B0000
    return co->co_nlocalsplus;
#else
    return co->co_nlocals + (int)PyTuple_GET_SIZE(co->co_cellvars) + (int)PyTuple_GET_SIZE(co->co_freevars);
#endif
}

/* The name of slot i (a str, borrowed). */
static inline PyObject *lt_py_code_localname(PyCodeObject *co, int i)
{
#if PY_VERSION_HEX >= 0x030B0000
    return PyTuple_GET_ITEM(co->co_localsplusnames, i);
#else
    int ncells = (int)PyTuple_GET_SIZE(co->co_cellvars);
    if (i < co->co_nlocals)
        return PyTuple_GET_ITEM(co->co_varnames, i);
    if (i < co->co_nlocals + ncells)
        return PyTuple_GET_ITEM(co->co_cellvars, i - co->co_nlocals);
    return PyTuple_GET_ITEM(co->co_freevars, i - co->co_nlocals - ncells);
#endif
}

/* Whether slot i is a cell or free variable, which holds its value in a
 * cell (from 3.11, only once the frame is complete). */
static inline int lt_py_code_local_is_cell(PyCodeObject *co, int i)
{
#if PY_VERSION_HEX >= 0x030B0000
    return (PyBytes_AS_STRING(co->co_localspluskinds)[i] & (CO_FAST_CELL | CO_FAST_FREE)) != 0;
#else
    return i >= co->co_nlocals;
#endif
}

/* The name of a free variable of a code object: index i of a function's
 * __closure__ is free variable i (co_freevars). Borrowed, or NULL. */
static inline PyObject *lt_py_code_freevar(PyCodeObject *co, Py_ssize_t i)
{
#if PY_VERSION_HEX >= 0x030B0000
    /* Free variables are the last co_nfreevars slots of localsplus. */
    Py_ssize_t first = co->co_nlocalsplus - co->co_nfreevars;
    if (i < 0 || i >= co->co_nfreevars)
        return NULL;
    return PyTuple_GET_ITEM(co->co_localsplusnames, first + i);
#else
    if (i < 0 || i >= PyTuple_GET_SIZE(co->co_freevars))
        return NULL;
    return PyTuple_GET_ITEM(co->co_freevars, i);
#endif
}

/* An object's __dict__, borrowed, or NULL when it has none (yet). Never
 * creates one: from 3.11 a managed dict is read where the interpreter keeps
 * it, and _PyObject_GetDictPtr, which would create it, is called only for
 * types whose dict is at tp_dictoffset (there it computes an address). */
static inline PyObject *lt_py_instance_dict(PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
#if PY_VERSION_HEX >= 0x030B0000
    if (PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT)) {
#if PY_VERSION_HEX >= 0x030D0000
        return (PyObject *)_PyObject_GetManagedDict(o);
#elif PY_VERSION_HEX >= 0x030C0000
        PyDictOrValues dorv = *_PyObject_DictOrValuesPointer(o);
        return _PyDictOrValues_IsValues(dorv) ? NULL : _PyDictOrValues_GetDict(dorv);
#else
        return *_PyObject_ManagedDictPointer(o);
#endif
    }
#endif
    if (tp->tp_dictoffset == 0)
        return NULL;
    PyObject **slot = _PyObject_GetDictPtr(o);
    return slot != NULL ? *slot : NULL;
}

/* Attribute i of an object's inline values (3.11+ managed dicts that are
 * not, or not only, a dict object): returns 1 and sets *name (a str) and
 * *value (NULL when the object has no such attribute), both borrowed; 0 once i is past
 * the last one or when the object has no inline values. The collector
 * visits these values straight from the object, with no dict in between. */
static inline int lt_py_inline_attr(PyObject *o, Py_ssize_t i, PyObject **name, PyObject **value)
{
#if PY_VERSION_HEX >= 0x030B0000
    PyTypeObject *tp = Py_TYPE(o);
    if (!PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT) || !PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE))
        return 0;
    PyDictKeysObject *keys = ((PyHeapTypeObject *)tp)->ht_cached_keys;
#if PY_VERSION_HEX >= 0x030D0000
    if (!PyType_HasFeature(tp, Py_TPFLAGS_INLINE_VALUES))
        return 0;
    PyDictValues *values = _PyObject_InlineValues(o);
    if (!values->valid || i >= values->capacity)
        return 0;
#elif PY_VERSION_HEX >= 0x030C0000
    PyDictOrValues dorv = *_PyObject_DictOrValuesPointer(o);
    if (!_PyDictOrValues_IsValues(dorv))
        return 0;
    PyDictValues *values = _PyDictOrValues_GetValues(dorv);
#else
    PyDictValues *values = *_PyObject_ValuesPointer(o);
    if (values == NULL)
        return 0;
#endif
    if (keys == NULL || i < 0 || i >= keys->dk_nentries || keys->dk_kind == DICT_KEYS_GENERAL)
        return 0;
    *name = DK_UNICODE_ENTRIES(keys)[i].me_key;
    *value = values->values[i];
    return 1;
#else
    (void)o, (void)i, (void)name, (void)value;
    return 0;
#endif
}

#endif /* LT_COMPAT_FRAMES */

#endif

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

#if defined(LT_COMPAT_GC_INTERNALS) && PY_VERSION_HEX < 0x030C0000
#include <internal/pycore_gc.h>
#include <internal/pycore_interp.h>
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
/* Calls fn(op, arg) for every object the collector tracks, in all
 * generations, in list order. fn returns 1 to go on, 0 to stop. fn must
 * not create or free tracked objects (whether those are visited is
 * undefined, as PyUnstable_GC_VisitObjects says); untracked ones (str,
 * int) are fine. The caller has paused automatic collection. */
typedef int (*lt_py_gc_visit_fn)(PyObject *op, void *arg);
static inline void lt_py_gc_foreach(lt_py_gc_visit_fn fn, void *arg)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyUnstable_GC_VisitObjects(fn, arg);
#else
    /* What 3.12's PyUnstable_GC_VisitObjects does, on the lists of
     * pycore_gc.h: _gc_next carries no flag bits outside a collection. */
    PyInterpreterState *interp = PyInterpreterState_Get();
    for (int i = 0; i < NUM_GENERATIONS; i++) {
        PyGC_Head *head = &interp->gc.generations[i].head;
        PyGC_Head *g = (PyGC_Head *)head->_gc_next;
        while (g != head) {
            PyObject *op = (PyObject *)(g + 1);
            Py_INCREF(op);
            int go_on = fn(op, arg);
            g = (PyGC_Head *)g->_gc_next;
            Py_DECREF(op);
            if (!go_on)
                return;
        }
    }
#endif
}
#endif

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

#endif

/* Everything that differs between the supported CPython versions (3.9 to
 * 3.13). This is the ONLY file that tests PY_VERSION_HEX: the rest of
 * src/ext calls the lt_py_* helpers defined here. */
#ifndef LT_COMPAT_H
#define LT_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

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

/* Calls fn(op, arg) for every object the collector tracks, in all
 * generations. fn returns 1 to go on, 0 to stop. fn must not allocate or
 * free tracked objects (3.12's PyUnstable_GC_VisitObjects contract).
 * The caller has paused automatic collection. Returns 0, or -1 with an
 * exception set (3.9 to 3.11 go through gc.get_objects, which allocates). */
typedef int (*lt_py_gc_visit_fn)(PyObject *op, void *arg);
static inline int lt_py_gc_foreach(lt_py_gc_visit_fn fn, void *arg)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyUnstable_GC_VisitObjects(fn, arg);
    return 0;
#else
    PyObject *gc = PyImport_ImportModule("gc");
    if (gc == NULL)
        return -1;
    PyObject *all = PyObject_CallMethod(gc, "get_objects", NULL);
    Py_DECREF(gc);
    if (all == NULL)
        return -1;
    if (!PyList_Check(all)) {
        Py_DECREF(all);
        PyErr_SetString(PyExc_TypeError, "gc.get_objects() did not return a list");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(all); i++)
        if (!fn(PyList_GET_ITEM(all, i), arg))
            break;
    Py_DECREF(all);
    return 0;
#endif
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

#endif

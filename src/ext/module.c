/* leaktrace._core: module definition (PEP 489 multi-phase init). */
#include "module.h"
#include "control.h"
#include "repeat_py.h"
#include "session.h"
#include "tracker.h"

#include <time.h>

/* The module keeps process-wide state (allocator hooks, from the tracking
 * component on), so it declares itself single-interpreter. */

static int module_exec(PyObject *module)
{
    if (PyModule_AddStringConstant(module, "__version__", "0.1.0") < 0)
        return -1;
    if (lt_capture_exec(module) < 0 ||
        lt_census_exec(module) < 0 || lt_gcinfo_exec(module) < 0 ||
        lt_proc_exec(module) < 0 || lt_paths_exec(module) < 0 || lt_tracker_exec(module) < 0 ||
        lt_native_exec(module) < 0 || lt_session_exec(module) < 0 || lt_repeat_exec(module) < 0 || lt_replay_exec(module) < 0)
        return -1;
    if (lt_control_exec(module) < 0)
        return -1;
    return 0;
}

static int module_traverse(PyObject *module, visitproc visit, void *arg)
{
    lt_state_t *st = lt_state(module);
    Py_VISIT(st->census_type);
    Py_VISIT(st->checkpoint_type);
    Py_VISIT(st->type_delta_type);
    Py_VISIT(st->tracker_type);
    Py_VISIT(st->alloc_snapshot_type);
    Py_VISIT(st->site_stat_type);
    Py_VISIT(st->site_delta_type);
    return 0;
}

static int module_clear(PyObject *module)
{
    lt_state_t *st = lt_state(module);
    Py_CLEAR(st->census_type);
    Py_CLEAR(st->checkpoint_type);
    Py_CLEAR(st->type_delta_type);
    Py_CLEAR(st->tracker_type);
    Py_CLEAR(st->alloc_snapshot_type);
    Py_CLEAR(st->site_stat_type);
    Py_CLEAR(st->site_delta_type);
    return 0;
}

static void module_free(void *module)
{
    module_clear(module);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    LT_PY_MOD_SINGLE_INTERPRETER_SLOT
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "leaktrace._core",
    .m_doc = "The C core of leaktrace: heap census, holder paths, process facts.",
    .m_size = sizeof(lt_state_t),
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

lt_state_t *lt_state_of_type(PyTypeObject *tp)
{
    PyObject *module = PyType_GetModule(tp);
    return module == NULL ? NULL : lt_state(module);
}

double lt_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

PyMODINIT_FUNC PyInit__core(void)
{
    return PyModuleDef_Init(&module_def);
}

/* process_facts() and open_fds(): the Python face of src/core/procfs. */
#include "lt_compat.h"

#include "module.h"
#include "procfs.h"
#include "raise.h"

static PyObject *process_facts_fn(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *kwlist[] = {"pid", NULL};
    int pid = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|i:process_facts", kwlist, &pid))
        return NULL;
    if (pid < 0) {
        PyErr_SetString(PyExc_ValueError, "pid must be 0 (this process) or positive");
        return NULL;
    }
    lt_proc_facts_t f;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = lt_proc_read(pid, &f);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        return lt_raise(rc, "reading /proc");
    PyObject *kinds = PyDict_New();
    for (int k = 0; kinds != NULL && k < LT_FD_KIND_COUNT; k++) {
        PyObject *v = PyLong_FromUnsignedLongLong(f.fds_by_kind[k]);
        if (v == NULL || PyDict_SetItemString(kinds, lt_fd_kind_name(k), v) < 0)
            Py_CLEAR(kinds);
        Py_XDECREF(v);
    }
    if (kinds == NULL)
        return NULL;
    return Py_BuildValue("{sKsKsKsKsN}", "rss", (unsigned long long)f.rss_bytes, "vm",
                         (unsigned long long)f.vm_bytes, "threads", (unsigned long long)f.threads, "fds",
                         (unsigned long long)f.fds, "fds_by_kind", kinds);
}

static int fd_append(int fd, lt_fd_kind_t kind, const char *target, void *ctx)
{
    PyObject *t = Py_BuildValue("(iss)", fd, lt_fd_kind_name(kind), target);
    if (t == NULL)
        return -1;
    int rc = PyList_Append(ctx, t);
    Py_DECREF(t);
    return rc;
}

static PyObject *open_fds_fn(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *kwlist[] = {"pid", NULL};
    int pid = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|i:open_fds", kwlist, &pid))
        return NULL;
    if (pid < 0) {
        PyErr_SetString(PyExc_ValueError, "pid must be 0 (this process) or positive");
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    int rc = lt_proc_fd_foreach(pid, fd_append, out);
    if (rc == -1 && PyErr_Occurred()) {
        Py_DECREF(out);
        return NULL;
    }
    if (rc < 0) {
        Py_DECREF(out);
        return lt_raise(rc, "reading /proc");
    }
    return out;
}

static PyMethodDef proc_functions[] = {
    {"process_facts", (PyCFunction)(void (*)(void))process_facts_fn, METH_VARARGS | METH_KEYWORDS,
     "process_facts(pid=0) -> dict\n\n"
     "rss and vm (bytes), threads, fds and fds_by_kind {'file', 'socket', 'pipe',\n"
     "'anon_inode', 'other'} of a process (0: this one), read from /proc."},
    {"open_fds", (PyCFunction)(void (*)(void))open_fds_fn, METH_VARARGS | METH_KEYWORDS,
     "open_fds(pid=0) -> [(fd, kind, target), ...]\n\nEach open descriptor with its kind and readlink target."},
    {NULL, NULL, 0, NULL},
};

int lt_proc_exec(PyObject *module)
{
    return PyModule_AddFunctions(module, proc_functions);
}

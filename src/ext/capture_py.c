/* read_capture() and CaptureWriter: the Python face of src/core/capture.
 * The tracker drives the C writer directly; this writer exists for tests and
 * tools. */
#include "lt_compat.h"

#include "capture.h"
#include "errors.h"
#include "module.h"
#include "procfs.h"
#include "raise.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Static_assert(LT_CAPTURE_FD_KINDS == LT_FD_KIND_COUNT, "the capture counts descriptors by procfs's kinds");

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Raises for a code of lt_capture_writer_* or of reading a file: the codes
 * of src/core go through lt_raise; a failed system call (-errno, e.g.
 * -ENOSPC) becomes the OSError subclass of its errno, with the path. */
static PyObject *capture_raise(int code, const char *what, PyObject *path)
{
    if (code == LT_ENOMEM || code == LT_EINVAL || code == LT_ERANGE || code == LT_EFORMAT || code <= -4096)
        return lt_raise(code, what);
    errno = -code;
    return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
}

/* ---- Reading ------------------------------------------------------------- */

/* The whole file in page-allocator memory (not a hooked allocator; no
 * mapping of the file itself, which a concurrent truncation would turn into
 * SIGBUS). A regular file is read up to the size it had when opened, so a
 * capture still being written reads as a consistent prefix. 0 or -errno. */
static int read_file(int fd, unsigned char **out, size_t *len, size_t *cap)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    int regular = S_ISREG(st.st_mode);
    size_t want = regular ? (size_t)st.st_size : SIZE_MAX;
    size_t c = regular ? (size_t)st.st_size + 1 : 1 << 16;
    unsigned char *buf = lt_alloc(&lt_page_alloc, c);
    size_t n = 0;
    if (buf == NULL)
        return LT_ENOMEM;
    while (n < want) {
        if (n == c) {
            unsigned char *more = lt_alloc(&lt_page_alloc, c * 2);
            if (more == NULL) {
                lt_free(&lt_page_alloc, buf, c);
                return LT_ENOMEM;
            }
            memcpy(more, buf, n);
            lt_free(&lt_page_alloc, buf, c);
            buf = more;
            c *= 2;
        }
        size_t room = c - n < want - n ? c - n : want - n;
        ssize_t k = read(fd, buf + n, room);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int rc = -errno;
            lt_free(&lt_page_alloc, buf, c);
            return rc;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    *out = buf;
    *len = n;
    *cap = c;
    return 0;
}

static PyObject *str_from(const char *s, size_t len)
{
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, "replace");
}

static PyObject *header_dict(const lt_capture_header_t *h)
{
    PyObject *argv = PyList_New((Py_ssize_t)h->argc);
    if (argv == NULL)
        return NULL;
    for (size_t i = 0; i < h->argc; i++) {
        PyObject *a = str_from(h->argv[i].s, h->argv[i].len);
        if (a == NULL) {
            Py_DECREF(argv);
            return NULL;
        }
        PyList_SET_ITEM(argv, (Py_ssize_t)i, a);
    }
    PyObject *pyver = str_from(h->python_version.s, h->python_version.len);
    if (pyver == NULL) {
        Py_DECREF(argv);
        return NULL;
    }
    const char *mode = lt_capture_mode_name(h->mode);
    PyObject *m = mode != NULL ? PyUnicode_FromString(mode) : PyLong_FromUnsignedLongLong(h->mode);
    if (m == NULL) {
        Py_DECREF(argv);
        Py_DECREF(pyver);
        return NULL;
    }
    return Py_BuildValue("{s(II)sKsdsKsNsNsKsN}", "version", h->major, h->minor, "created_ns",
                         (unsigned long long)h->created_ns, "created", (double)h->created_ns / 1e9, "pid",
                         (unsigned long long)h->pid, "python_version", pyver, "argv", argv, "sample_mean",
                         (unsigned long long)h->sample_mean, "mode", m);
}

static PyObject *frame_dict(const lt_capture_frame_t *f, PyObject *strings)
{
    PyObject *file = f->file == LT_CAPTURE_NONE ? Py_None : PyList_GET_ITEM(strings, f->file);
    PyObject *function = f->function == LT_CAPTURE_NONE ? Py_None : PyList_GET_ITEM(strings, f->function);
    PyObject *address = (f->flags & LT_CAPTURE_FRAME_NATIVE) ? PyLong_FromUnsignedLongLong(f->address)
                                                             : Py_NewRef(Py_None);
    if (address == NULL)
        return NULL;
    return Py_BuildValue("{sOsOsIsN}", "file", file, "function", function, "line", f->line, "address", address);
}

static PyObject *stack_tuple(const uint32_t *ids, size_t n)
{
    PyObject *t = PyTuple_New((Py_ssize_t)n);
    for (size_t i = 0; t != NULL && i < n; i++) {
        PyObject *v = PyLong_FromUnsignedLong(ids[i]);
        if (v == NULL)
            Py_CLEAR(t);
        else
            PyTuple_SET_ITEM(t, (Py_ssize_t)i, v);
    }
    return t;
}

/* {key: (a, b)} for each row: key is the stack id for sites (a, b = bytes,
 * count) or the type name for the census (a, b = count, bytes; rows whose
 * names are equal strings are added up). */
static PyObject *rows_dict(const lt_capture_row_t *rows, size_t n, PyObject *strings)
{
    PyObject *d = PyDict_New();
    for (size_t i = 0; d != NULL && i < n; i++) {
        PyObject *key, *value;
        if (strings == NULL) {
            key = PyLong_FromUnsignedLong(rows[i].id);
            value = Py_BuildValue("(KK)", (unsigned long long)rows[i].bytes, (unsigned long long)rows[i].count);
        } else {
            key = Py_NewRef(PyList_GET_ITEM(strings, rows[i].id));
            unsigned long long count = rows[i].count, bytes = rows[i].bytes;
            PyObject *had = PyDict_GetItemWithError(d, key);
            if (had != NULL) {
                count += PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(had, 0));
                bytes += PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(had, 1));
            }
            value = PyErr_Occurred() ? NULL : Py_BuildValue("(KK)", count, bytes);
        }
        if (key == NULL || value == NULL || PyDict_SetItem(d, key, value) < 0)
            Py_CLEAR(d);
        Py_XDECREF(key);
        Py_XDECREF(value);
    }
    return d;
}

static PyObject *checkpoint_dict(const lt_capture_checkpoint_t *cp, PyObject *strings)
{
    PyObject *fds = PyDict_New();
    for (int k = 0; fds != NULL && k < LT_CAPTURE_FD_KINDS; k++) {
        PyObject *v = PyLong_FromUnsignedLongLong(cp->fds[k]);
        if (v == NULL || PyDict_SetItemString(fds, lt_fd_kind_name((lt_fd_kind_t)k), v) < 0)
            Py_CLEAR(fds);
        Py_XDECREF(v);
    }
    if (fds == NULL)
        return NULL;
    PyObject *sites = rows_dict(cp->sites, cp->nsites, NULL);
    if (sites == NULL) {
        Py_DECREF(fds);
        return NULL;
    }
    PyObject *census = cp->has_census ? rows_dict(cp->census, cp->ncensus, strings) : Py_NewRef(Py_None);
    if (census == NULL) {
        Py_DECREF(fds);
        Py_DECREF(sites);
        return NULL;
    }
    return Py_BuildValue("{sKsdsKsKsKsNsKsNsN}", "time_ns", (unsigned long long)cp->time_ns, "time",
                         (double)cp->time_ns / 1e9, "rss", (unsigned long long)cp->rss_bytes, "py_heap",
                         (unsigned long long)cp->py_heap_bytes, "native_heap",
                         (unsigned long long)cp->native_heap_bytes, "fds_by_kind", fds, "threads",
                         (unsigned long long)cp->threads, "sites", sites, "census", census);
}

/* Why reading stopped before the end of the file, as one line; None when
 * every byte was read (with or without a trailer). */
static PyObject *stopped_text(const lt_capture_reader_t *r)
{
    switch (r->stop) {
    case LT_CAPTURE_TRUNCATED:
        return PyUnicode_FromFormat("truncated at byte %zu: %s (as when the program is killed while writing)",
                                    r->stop_offset, r->why);
    case LT_CAPTURE_CORRUPT:
        return PyUnicode_FromFormat("corrupt at byte %zu: %s", r->stop_offset, r->why);
    default:
        Py_RETURN_NONE;
    }
}

/* Reads all records into the result dict's lists. */
static PyObject *capture_to_dict(lt_capture_reader_t *r)
{
    PyObject *result = NULL, *strings = NULL, *frames = NULL, *stacks = NULL, *checkpoints = NULL;
    PyObject *header = header_dict(&r->header);
    strings = PyList_New(0);
    frames = PyList_New(0);
    stacks = PyList_New(0);
    checkpoints = PyList_New(0);
    if (header == NULL || strings == NULL || frames == NULL || stacks == NULL || checkpoints == NULL)
        goto done;
    lt_capture_type_t type;
    int rc;
    while ((rc = lt_capture_reader_next(r, &type)) == 1) {
        PyObject *item = NULL, *list = NULL;
        size_t len;
        switch (type) {
        case LT_CAPTURE_STRING: {
            const char *s = lt_capture_reader_string(r, r->nstrings - 1, &len);
            item = str_from(s, len);
            list = strings;
            break;
        }
        case LT_CAPTURE_FRAME:
            item = frame_dict(lt_capture_reader_frame(r, r->nframes - 1), strings);
            list = frames;
            break;
        case LT_CAPTURE_STACK: {
            const uint32_t *ids = lt_capture_reader_stack(r, r->nstacks - 1, &len);
            item = stack_tuple(ids, len);
            list = stacks;
            break;
        }
        case LT_CAPTURE_CHECKPOINT:
            item = checkpoint_dict(&r->checkpoint, strings);
            list = checkpoints;
            break;
        default:
            continue;           /* the trailer: read below */
        }
        if (item == NULL)
            goto done;
        int bad = PyList_Append(list, item);
        Py_DECREF(item);
        if (bad < 0)
            goto done;
    }
    if (rc < 0) {
        lt_raise(rc, "reading a capture");
        goto done;
    }
    PyObject *trailer = Py_None;
    if (r->has_trailer)
        trailer = Py_BuildValue("{sKsKsKsKsK}", "end_ns", (unsigned long long)r->trailer.end_ns, "strings",
                                (unsigned long long)r->trailer.strings, "frames",
                                (unsigned long long)r->trailer.frames, "stacks",
                                (unsigned long long)r->trailer.stacks, "checkpoints",
                                (unsigned long long)r->trailer.checkpoints);
    else
        Py_INCREF(trailer);
    PyObject *stopped = trailer != NULL ? stopped_text(r) : NULL;
    if (stopped == NULL) {
        Py_XDECREF(trailer);
        goto done;
    }
    result = Py_BuildValue("{sOsOsOsOsOsNsOsNsKsKsK}", "header", header, "strings", strings, "frames", frames,
                           "stacks", stacks, "checkpoints", checkpoints, "trailer", trailer, "complete",
                           r->has_trailer ? Py_True : Py_False, "stopped", stopped, "records",
                           (unsigned long long)r->records, "bytes_read", (unsigned long long)r->offset,
                           "skipped", (unsigned long long)r->skipped);
done:
    Py_XDECREF(header);
    Py_XDECREF(strings);
    Py_XDECREF(frames);
    Py_XDECREF(stacks);
    Py_XDECREF(checkpoints);
    return result;
}

static PyObject *read_capture_fn(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *kwlist[] = {"path", "verify", NULL};
    PyObject *path = NULL, *result = NULL;
    int verify = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&|$p:read_capture", kwlist, PyUnicode_FSConverter, &path,
                                     &verify))
        return NULL;
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    int fd, rc;
    Py_BEGIN_ALLOW_THREADS
    fd = open(PyBytes_AS_STRING(path), O_RDONLY | O_CLOEXEC);
    rc = fd < 0 ? -errno : read_file(fd, &buf, &len, &cap);
    if (fd >= 0)
        close(fd);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        capture_raise(rc, "reading a capture", path);
        goto done;
    }
    lt_capture_reader_t r;
    rc = lt_capture_reader_open(&r, &lt_page_alloc, buf, len, verify ? 0 : LT_CAPTURE_READ_NO_CHECKSUM);
    if (rc == LT_EFORMAT && r.header.major > LT_CAPTURE_VERSION_MAJOR) {
        PyErr_Format(PyExc_ValueError,
                     "unsupported leaktrace capture: %s: format version %u.%u is newer than this leaktrace reads "
                     "(%d.x); upgrade leaktrace to read it",
                     PyBytes_AS_STRING(path), r.header.major, r.header.minor, LT_CAPTURE_VERSION_MAJOR);
    } else if (rc == LT_EFORMAT) {
        PyErr_Format(PyExc_ValueError, "not a leaktrace capture: %s: %s", PyBytes_AS_STRING(path), r.why);
    } else if (rc < 0) {
        lt_raise(rc, "reading a capture");
    } else {
        result = capture_to_dict(&r);
        lt_capture_reader_release(&r);
    }
done:
    lt_free(&lt_page_alloc, buf, cap);
    Py_DECREF(path);
    return result;
}

/* ---- CaptureWriter -------------------------------------------------------- */

typedef struct capwriter {
    PyObject_HEAD
    lt_capture_writer_t w;
    int fd;                     /* -1 once closed (or never opened) */
    uint64_t start_ns;          /* monotonic clock when the capture started */
    PyObject *path;             /* bytes, as given (after os.fsencode) */
} capwriter_t;

static int mode_from(PyObject *o, uint64_t *mode)
{
    static const lt_capture_mode_t modes[] = {LT_CAPTURE_MODE_OFF, LT_CAPTURE_MODE_SAMPLED, LT_CAPTURE_MODE_TRACE};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (PyUnicode_CompareWithASCIIString(o, lt_capture_mode_name(modes[i])) == 0) {
            *mode = modes[i];
            return 0;
        }
    PyErr_Format(PyExc_ValueError, "mode must be 'off', 'sampled' or 'trace', not %R", o);
    return -1;
}

/* UTF-8 bytes of a str, with undecodable file-name bytes kept
 * (surrogateescape). New reference or NULL. */
static PyObject *utf8_of(PyObject *s)
{
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "expected str, not %.100s", Py_TYPE(s)->tp_name);
        return NULL;
    }
    return PyUnicode_AsEncodedString(s, "utf-8", "surrogateescape");
}

static PyObject *capwriter_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"path",   "argv",       "mode", "sample_mean", "python_version", "pid", "created_ns",
                             "overwrite", "fsync", NULL};
    PyObject *path = NULL, *argv = Py_None, *mode_obj = NULL, *pyver = Py_None;
    unsigned long long sample_mean = 512 * 1024, pid = 0, created_ns = 0;
    int overwrite = 0, sync = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&|$OUKOKKpp:CaptureWriter", kwlist, PyUnicode_FSConverter,
                                     &path, &argv, &mode_obj, &sample_mean, &pyver, &pid, &created_ns, &overwrite,
                                     &sync))
        return NULL;
    capwriter_t *self = NULL;
    PyObject *argv_seq = NULL, *argv_bytes = NULL, *pyver_bytes = NULL;
    const char **cargv = NULL;
    lt_capture_meta_t meta;
    memset(&meta, 0, sizeof(meta));
    meta.mode = LT_CAPTURE_MODE_SAMPLED;
    meta.sample_mean = sample_mean;
    meta.pid = pid;
    meta.created_ns = created_ns;
    if (mode_obj != NULL && mode_from(mode_obj, &meta.mode) < 0)
        goto error;

    if (argv == Py_None) {
        argv = PySys_GetObject("argv");         /* borrowed; may be missing */
        if (argv == NULL)
            argv = Py_None;
    }
    argv_seq = argv == Py_None ? PyList_New(0) : PySequence_Fast(argv, "argv must be a sequence of str");
    if (argv_seq == NULL)
        goto error;
    Py_ssize_t argc = PySequence_Fast_GET_SIZE(argv_seq);
    argv_bytes = PyList_New(argc);
    cargv = PyMem_Calloc((size_t)argc + 1, sizeof(*cargv));
    if (argv_bytes == NULL || cargv == NULL) {
        if (cargv == NULL)
            PyErr_NoMemory();
        goto error;
    }
    for (Py_ssize_t i = 0; i < argc; i++) {
        PyObject *b = utf8_of(PySequence_Fast_GET_ITEM(argv_seq, i));
        if (b == NULL)
            goto error;
        PyList_SET_ITEM(argv_bytes, i, b);
        if ((size_t)PyBytes_GET_SIZE(b) != strlen(PyBytes_AS_STRING(b))) {
            PyErr_SetString(PyExc_ValueError, "argv strings must not contain NUL");
            goto error;
        }
        cargv[i] = PyBytes_AS_STRING(b);
    }
    meta.argc = (size_t)argc;
    meta.argv = cargv;
    if (pyver == Py_None) {
        /* "3.11.7 (main, ...)": the first word. */
        const char *v = Py_GetVersion();
        pyver_bytes = PyBytes_FromStringAndSize(v, (Py_ssize_t)strcspn(v, " "));
    } else {
        pyver_bytes = utf8_of(pyver);
    }
    if (pyver_bytes == NULL)
        goto error;
    meta.python_version = PyBytes_AS_STRING(pyver_bytes);

    self = (capwriter_t *)tp->tp_alloc(tp, 0);
    if (self == NULL)
        goto error;
    self->fd = -1;
    self->path = Py_NewRef(path);
    /* Nothing the user owns is overwritten unless asked: O_EXCL. */
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
    int fd = open(PyBytes_AS_STRING(path), flags, 0666);
    if (fd < 0) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        goto error;
    }
    self->start_ns = monotonic_ns();
    int rc = lt_capture_writer_open(&self->w, &lt_page_alloc, fd, &meta, sync ? LT_CAPTURE_FSYNC : 0);
    if (rc < 0) {
        close(fd);
        if (!overwrite)
            unlink(PyBytes_AS_STRING(path));    /* ours: made above */
        capture_raise(rc, "starting a capture", path);
        goto error;
    }
    self->fd = fd;
    goto done;

error:
    Py_CLEAR(self);
done:
    PyMem_Free(cargv);
    Py_XDECREF(argv_seq);
    Py_XDECREF(argv_bytes);
    Py_XDECREF(pyver_bytes);
    Py_DECREF(path);
    return (PyObject *)self;
}

static void capwriter_close_fd(capwriter_t *self)
{
    if (self->fd >= 0) {
        lt_capture_writer_release(&self->w);
        close(self->fd);
        self->fd = -1;
    }
}

static void capwriter_dealloc(capwriter_t *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    /* Not closed: the capture is left without a trailer, which readers
     * report as unfinished (as after a crash). */
    capwriter_close_fd(self);
    Py_XDECREF(self->path);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int capwriter_check_open(capwriter_t *self)
{
    if (self->fd >= 0)
        return 0;
    PyErr_SetString(PyExc_ValueError, "the capture writer is closed");
    return -1;
}

static PyObject *capwriter_result(capwriter_t *self, int rc, const char *what, uint32_t id, int with_id)
{
    if (rc < 0)
        return capture_raise(rc, what, self->path);
    if (with_id)
        return PyLong_FromUnsignedLong(id);
    Py_RETURN_NONE;
}

static PyObject *capwriter_add_string(capwriter_t *self, PyObject *arg)
{
    if (capwriter_check_open(self) < 0)
        return NULL;
    PyObject *b = utf8_of(arg);
    if (b == NULL)
        return NULL;
    uint32_t id = 0;
    int rc = lt_capture_writer_add_string(&self->w, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b), &id);
    Py_DECREF(b);
    return capwriter_result(self, rc, "adding a string", id, 1);
}

/* A string id argument: None or a non-negative int below 2**32 - 1. */
static int string_id_from(PyObject *o, uint32_t *id)
{
    if (o == Py_None) {
        *id = LT_CAPTURE_NONE;
        return 0;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (PyErr_Occurred())
        return -1;
    if (v >= LT_CAPTURE_NONE) {
        PyErr_SetString(PyExc_ValueError, "string id out of range");
        return -1;
    }
    *id = (uint32_t)v;
    return 0;
}

static PyObject *capwriter_add_frame(capwriter_t *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"file", "function", "line", "address", NULL};
    PyObject *file, *function, *address = Py_None;
    unsigned int line = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|I$O:add_frame", kwlist, &file, &function, &line, &address))
        return NULL;
    if (capwriter_check_open(self) < 0)
        return NULL;
    lt_capture_frame_t f;
    memset(&f, 0, sizeof(f));
    f.line = line;
    if (string_id_from(file, &f.file) < 0 || string_id_from(function, &f.function) < 0)
        return NULL;
    if (address != Py_None) {
        f.address = PyLong_AsUnsignedLongLong(address);
        if (PyErr_Occurred())
            return NULL;
        f.flags = LT_CAPTURE_FRAME_NATIVE;
    }
    uint32_t id = 0;
    int rc = lt_capture_writer_add_frame(&self->w, &f, &id);
    return capwriter_result(self, rc, "adding a frame (are its string ids added?)", id, 1);
}

static PyObject *capwriter_add_stack(capwriter_t *self, PyObject *arg)
{
    if (capwriter_check_open(self) < 0)
        return NULL;
    PyObject *seq = PySequence_Fast(arg, "add_stack() takes a sequence of frame ids");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    uint32_t *ids = PyMem_Calloc((size_t)n + 1, sizeof(*ids));
    PyObject *result = NULL;
    if (ids == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned long v = PyLong_AsUnsignedLong(PySequence_Fast_GET_ITEM(seq, i));
        if (PyErr_Occurred())
            goto done;
        if (v > LT_CAPTURE_MAX_ID) {
            PyErr_SetString(PyExc_ValueError, "frame id out of range");
            goto done;
        }
        ids[i] = (uint32_t)v;
    }
    uint32_t id = 0;
    int rc = lt_capture_writer_add_stack(&self->w, ids, (size_t)n, &id);
    result = capwriter_result(self, rc, "adding a stack (are its frame ids added?)", id, 1);
done:
    PyMem_Free(ids);
    Py_DECREF(seq);
    return result;
}

/* Rows from {id: (a, b)}; the pair is (bytes, count) for sites and (count,
 * bytes) for the census, as read_capture gives them back. *rows is
 * PyMem-allocated (NULL when empty). */
static int rows_from(PyObject *d, int bytes_first, const char *what, lt_capture_row_t **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    if (!PyDict_Check(d)) {
        PyErr_Format(PyExc_TypeError, "%s must be a dict {id: (%s)}", what, bytes_first ? "bytes, count" : "count, bytes");
        return -1;
    }
    Py_ssize_t len = PyDict_Size(d), pos = 0, i = 0;
    lt_capture_row_t *r = PyMem_Calloc((size_t)len + 1, sizeof(*r));
    if (r == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject *key, *value;
    while (PyDict_Next(d, &pos, &key, &value)) {
        unsigned long long id = PyLong_AsUnsignedLongLong(key), a = 0, b = 0;
        if (!PyErr_Occurred() && id > LT_CAPTURE_MAX_ID)
            PyErr_Format(PyExc_ValueError, "%s: id out of range", what);
        if (!PyErr_Occurred() && (!PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 2))
            PyErr_Format(PyExc_TypeError, "%s values must be (%s) tuples", what,
                         bytes_first ? "bytes, count" : "count, bytes");
        if (!PyErr_Occurred())
            a = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(value, 0));
        if (!PyErr_Occurred())
            b = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(value, 1));
        if (PyErr_Occurred()) {
            PyMem_Free(r);
            return -1;
        }
        r[i].id = (uint32_t)id;
        r[i].bytes = bytes_first ? a : b;
        r[i].count = bytes_first ? b : a;
        i++;
    }
    *rows = r;
    *n = (size_t)i;
    return 0;
}

static PyObject *capwriter_checkpoint(capwriter_t *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"time_ns", "rss", "py_heap", "native_heap", "fds_by_kind", "threads", "sites", "census",
                             NULL};
    PyObject *time_obj = Py_None, *fds = Py_None, *sites = Py_None, *census = Py_None;
    unsigned long long rss = 0, py_heap = 0, native_heap = 0, threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$OKKKOKOO:checkpoint", kwlist, &time_obj, &rss, &py_heap,
                                     &native_heap, &fds, &threads, &sites, &census))
        return NULL;
    if (capwriter_check_open(self) < 0)
        return NULL;
    lt_capture_checkpoint_t cp;
    memset(&cp, 0, sizeof(cp));
    if (time_obj == Py_None) {
        cp.time_ns = monotonic_ns() - self->start_ns;
    } else {
        cp.time_ns = PyLong_AsUnsignedLongLong(time_obj);
        if (PyErr_Occurred())
            return NULL;
    }
    cp.rss_bytes = rss;
    cp.py_heap_bytes = py_heap;
    cp.native_heap_bytes = native_heap;
    cp.threads = threads;
    if (fds != Py_None) {
        if (!PyDict_Check(fds)) {
            PyErr_SetString(PyExc_TypeError, "fds_by_kind must be a dict {kind: count}");
            return NULL;
        }
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(fds, &pos, &key, &value)) {
            int k = 0;
            while (k < LT_CAPTURE_FD_KINDS &&
                   !(PyUnicode_Check(key) && PyUnicode_CompareWithASCIIString(key, lt_fd_kind_name((lt_fd_kind_t)k)) == 0))
                k++;
            if (k == LT_CAPTURE_FD_KINDS) {
                PyErr_Format(PyExc_ValueError,
                             "fds_by_kind: unknown kind %R (file, socket, pipe, anon_inode, other)", key);
                return NULL;
            }
            cp.fds[k] = PyLong_AsUnsignedLongLong(value);
            if (PyErr_Occurred())
                return NULL;
        }
    }
    lt_capture_row_t *site_rows = NULL, *census_rows = NULL;
    PyObject *result = NULL;
    if (sites != Py_None && rows_from(sites, 1, "sites", &site_rows, &cp.nsites) < 0)
        goto done;
    if (census != Py_None) {
        if (rows_from(census, 0, "census", &census_rows, &cp.ncensus) < 0)
            goto done;
        cp.has_census = 1;
    }
    cp.sites = site_rows;
    cp.census = census_rows;
    int rc = lt_capture_writer_checkpoint(&self->w, &cp);
    result = capwriter_result(self, rc, "writing a checkpoint (unique ids, each added before?)", 0, 0);
done:
    PyMem_Free(site_rows);
    PyMem_Free(census_rows);
    return result;
}

/* Appends the trailer (end_obj: ns since the start, or None for now) and
 * closes the file. */
static PyObject *capwriter_finish(capwriter_t *self, PyObject *end_obj)
{
    if (self->fd < 0)
        Py_RETURN_NONE;         /* closing twice is fine, as for files */
    uint64_t end_ns;
    if (end_obj == Py_None) {
        end_ns = monotonic_ns() - self->start_ns;
    } else {
        end_ns = PyLong_AsUnsignedLongLong(end_obj);
        if (PyErr_Occurred())
            return NULL;
    }
    int rc = lt_capture_writer_finish(&self->w, end_ns);
    capwriter_close_fd(self);
    return capwriter_result(self, rc, "finishing a capture", 0, 0);
}

static PyObject *capwriter_close(capwriter_t *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"end_ns", NULL};
    PyObject *end_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$O:close", kwlist, &end_obj))
        return NULL;
    return capwriter_finish(self, end_obj);
}

static PyObject *capwriter_enter(capwriter_t *self, PyObject *unused)
{
    (void)unused;
    if (capwriter_check_open(self) < 0)
        return NULL;
    return Py_NewRef((PyObject *)self);
}

static PyObject *capwriter_exit(capwriter_t *self, PyObject *args)
{
    (void)args;
    return capwriter_finish(self, Py_None);
}

static PyObject *capwriter_get_bytes_written(capwriter_t *self, void *unused)
{
    (void)unused;
    return PyLong_FromUnsignedLongLong(self->w.bytes_written);
}

static PyObject *capwriter_get_closed(capwriter_t *self, void *unused)
{
    (void)unused;
    return PyBool_FromLong(self->fd < 0);
}

static PyObject *capwriter_get_path(capwriter_t *self, void *unused)
{
    (void)unused;
    return PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(self->path), PyBytes_GET_SIZE(self->path));
}

static PyMethodDef capwriter_methods[] = {
    {"add_string", (PyCFunction)capwriter_add_string, METH_O,
     "add_string(s) -> int\n\nAppends a STRING record; returns its id (0, 1, ... in order)."},
    {"add_frame", (PyCFunction)(void (*)(void))capwriter_add_frame, METH_VARARGS | METH_KEYWORDS,
     "add_frame(file, function, line=0, *, address=None) -> int\n\n"
     "Appends a FRAME record: file and function are string ids (or None); a native\n"
     "frame gives its address. Returns the frame id."},
    {"add_stack", (PyCFunction)capwriter_add_stack, METH_O,
     "add_stack(frame_ids) -> int\n\nAppends a STACK record (frame ids, innermost first); returns its id."},
    {"checkpoint", (PyCFunction)(void (*)(void))capwriter_checkpoint, METH_VARARGS | METH_KEYWORDS,
     "checkpoint(*, time_ns=None, rss=0, py_heap=0, native_heap=0, fds_by_kind=None, threads=0,\n"
     "           sites=None, census=None) -> None\n\n"
     "Appends a CHECKPOINT with the full state: sites {stack_id: (bytes, count)},\n"
     "census {type_name_string_id: (count, bytes)} or None when no census was taken.\n"
     "Only the changes since the previous checkpoint are stored. time_ns defaults to the\n"
     "time since the writer was made."},
    {"close", (PyCFunction)(void (*)(void))capwriter_close, METH_VARARGS | METH_KEYWORDS,
     "close(*, end_ns=None) -> None\n\nAppends the trailer (a clean end) and closes the file."},
    {"__enter__", (PyCFunction)capwriter_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)capwriter_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef capwriter_getset[] = {
    {"bytes_written", (getter)capwriter_get_bytes_written, NULL, "bytes written to the file so far", NULL},
    {"closed", (getter)capwriter_get_closed, NULL, "whether close() was called", NULL},
    {"path", (getter)capwriter_get_path, NULL, "the file's path", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot capwriter_slots[] = {
    {Py_tp_new, capwriter_new},
    {Py_tp_dealloc, capwriter_dealloc},
    {Py_tp_methods, capwriter_methods},
    {Py_tp_getset, capwriter_getset},
    {Py_tp_doc,
     "CaptureWriter(path, *, argv=None, mode='sampled', sample_mean=524288, python_version=None,\n"
     "              pid=0, created_ns=0, overwrite=False, fsync=False)\n\n"
     "Writes a capture file (docs/capture-format.md) record by record. The file must not\n"
     "exist unless overwrite=True. argv defaults to sys.argv, python_version to this\n"
     "interpreter's, pid and created_ns (0) to this process and now. Not thread-safe: use\n"
     "one writer from one thread at a time."},
    {0, NULL},
};

static PyType_Spec capwriter_spec = {
    "leaktrace._core.CaptureWriter", sizeof(capwriter_t), 0, Py_TPFLAGS_DEFAULT, capwriter_slots,
};

static PyMethodDef capture_functions[] = {
    {"read_capture", (PyCFunction)(void (*)(void))read_capture_fn, METH_VARARGS | METH_KEYWORDS,
     "read_capture(path, *, verify=True) -> dict\n\n"
     "Reads a capture file, complete or cut short, up to its last complete record:\n"
     "header (dict), strings (list of str), frames (list of dicts), stacks (list of\n"
     "tuples of frame ids), checkpoints (list of dicts with the full state: sites\n"
     "{stack_id: (bytes, count)}, census {type_name: (count, bytes)} or None), trailer\n"
     "(dict or None), complete (the trailer was read), stopped (None, or why reading\n"
     "stopped before the end of the file), records, bytes_read, skipped. verify=False\n"
     "skips checksums to salvage a damaged file. A file that is not a capture raises\n"
     "ValueError."},
    {NULL, NULL, 0, NULL},
};

int lt_capture_exec(PyObject *module)
{
    PyObject *tp = PyType_FromModuleAndSpec(module, &capwriter_spec, NULL);
    if (tp == NULL)
        return -1;
    if (PyModule_AddObject(module, "CaptureWriter", tp) < 0) {
        Py_DECREF(tp);
        return -1;
    }
    return PyModule_AddFunctions(module, capture_functions);
}

/* libleaktrace_inject.so: what `leaktrace attach` loads into a running
 * CPython process through gdb. Its one entry point starts a thread that
 * takes the GIL the ordinary way and runs the attach payload there. */
#include "inject.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The payload file is ours and small; anything larger is not ours. */
#define PAYLOAD_MAX (64 * 1024)

/* The library never links libpython, so that one build serves every
 * supported version (and a process without Python is told apart): the few
 * functions of the stable ABI it needs are looked up in the process. */
typedef struct lt_pyobject lt_pyobject_t;
#define LT_FILE_INPUT 257       /* Py_file_input, the same in 3.9 to 3.13 */

typedef struct pyapi {
    int (*is_initialized)(void);
    int (*gil_ensure)(void);
    void (*gil_release)(int);
    lt_pyobject_t *(*compile)(const char *, const char *, int);
    lt_pyobject_t *(*eval_code)(lt_pyobject_t *, lt_pyobject_t *, lt_pyobject_t *);
    lt_pyobject_t *(*dict_new)(void);
    int (*dict_set)(lt_pyobject_t *, const char *, lt_pyobject_t *);
    lt_pyobject_t *(*import)(const char *);
    lt_pyobject_t *(*decode_fs)(const char *);
    lt_pyobject_t *(*err_occurred)(void);
    void (*err_fetch)(lt_pyobject_t **, lt_pyobject_t **, lt_pyobject_t **);
    lt_pyobject_t *(*str)(lt_pyobject_t *);
    lt_pyobject_t *(*as_utf8)(lt_pyobject_t *);
    char *(*bytes_as_string)(lt_pyobject_t *);
    void (*decref)(lt_pyobject_t *);
} pyapi_t;

/* Looks every function up; 0, or -1 naming the first missing one. */
static int pyapi_load(pyapi_t *api, const char **missing)
{
    static const char *const names[] = {
        "Py_IsInitialized", "PyGILState_Ensure", "PyGILState_Release", "Py_CompileString",
        "PyEval_EvalCode", "PyDict_New", "PyDict_SetItemString", "PyImport_ImportModule",
        "PyUnicode_DecodeFSDefault", "PyErr_Occurred", "PyErr_Fetch", "PyObject_Str",
        "PyUnicode_AsUTF8String", "PyBytes_AsString", "Py_DecRef",
    };
    void *fns[sizeof(names) / sizeof(names[0])];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        fns[i] = dlsym(RTLD_DEFAULT, names[i]);
        if (fns[i] == NULL) {
            *missing = names[i];
            return -1;
        }
    }
    /* POSIX guarantees that a dlsym result converts to a function pointer. */
    memcpy(&api->is_initialized, &fns[0], sizeof(void *));
    memcpy(&api->gil_ensure, &fns[1], sizeof(void *));
    memcpy(&api->gil_release, &fns[2], sizeof(void *));
    memcpy(&api->compile, &fns[3], sizeof(void *));
    memcpy(&api->eval_code, &fns[4], sizeof(void *));
    memcpy(&api->dict_new, &fns[5], sizeof(void *));
    memcpy(&api->dict_set, &fns[6], sizeof(void *));
    memcpy(&api->import, &fns[7], sizeof(void *));
    memcpy(&api->decode_fs, &fns[8], sizeof(void *));
    memcpy(&api->err_occurred, &fns[9], sizeof(void *));
    memcpy(&api->err_fetch, &fns[10], sizeof(void *));
    memcpy(&api->str, &fns[11], sizeof(void *));
    memcpy(&api->as_utf8, &fns[12], sizeof(void *));
    memcpy(&api->bytes_as_string, &fns[13], sizeof(void *));
    memcpy(&api->decref, &fns[14], sizeof(void *));
    return 0;
}

/* Writes `text` to dir/name through a temporary file and a rename, so the
 * waiting CLI never reads half a message. Failures are ignored: the CLI
 * then times out and says so. */
static void put_file(const char *dir, const char *name, const char *text)
{
    char tmp[4096], path[4096];
    if (snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name) >= (int)sizeof(tmp) ||
        snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return;
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    close(fd);
    if (done == len)
        rename(tmp, path);
    else
        unlink(tmp);
}

/* Reads dir/payload.py into a new NUL-terminated buffer (malloc), or NULL. */
static char *read_payload(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/payload.py", dir) >= (int)sizeof(path))
        return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    char *buf = malloc(PAYLOAD_MAX + 1);
    size_t len = 0;
    while (buf != NULL && len < PAYLOAD_MAX) {
        ssize_t r = read(fd, buf + len, PAYLOAD_MAX - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            buf = NULL;
        }
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (buf != NULL)
        buf[len] = '\0';
    return buf;
}

/* The pending exception as one line in dir/error; clears it. GIL held. */
static void put_exception(const pyapi_t *api, const char *dir)
{
    lt_pyobject_t *type = NULL, *value = NULL, *tb = NULL;
    api->err_fetch(&type, &value, &tb);
    char msg[1024] = "the attach payload failed";
    lt_pyobject_t *s = value != NULL ? api->str(value) : NULL;
    lt_pyobject_t *b = s != NULL ? api->as_utf8(s) : NULL;
    const char *u = b != NULL ? api->bytes_as_string(b) : NULL;
    if (u != NULL)
        snprintf(msg, sizeof(msg), "the attach payload failed: %s", u);
    if (b != NULL)
        api->decref(b);
    if (s != NULL)
        api->decref(s);
    /* Anything raised while describing it goes too. */
    lt_pyobject_t *t2 = NULL, *v2 = NULL, *tb2 = NULL;
    if (api->err_occurred() != NULL)
        api->err_fetch(&t2, &v2, &tb2);
    lt_pyobject_t *all[] = {type, value, tb, t2, v2, tb2};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (all[i] != NULL)
            api->decref(all[i]);
    put_file(dir, "error", msg);
}

/* Compiles and runs the payload in fresh globals (never __main__'s), with
 * `_lt_dir` set to the handshake directory. GIL held. */
static void run_payload(const pyapi_t *api, const char *dir, const char *source)
{
    lt_pyobject_t *globals = api->dict_new();
    lt_pyobject_t *builtins = api->import("builtins");
    lt_pyobject_t *d = api->decode_fs(dir);
    lt_pyobject_t *code = NULL, *result = NULL;
    if (globals == NULL || builtins == NULL || d == NULL || api->dict_set(globals, "__builtins__", builtins) < 0 ||
        api->dict_set(globals, "_lt_dir", d) < 0)
        goto done;
    code = api->compile(source, "<leaktrace attach>", LT_FILE_INPUT);
    if (code == NULL)
        goto done;
    result = api->eval_code(code, globals, globals);
done:
    if (result == NULL && api->err_occurred() != NULL)
        put_exception(api, dir);
    lt_pyobject_t *refs[] = {result, code, d, builtins, globals};
    for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++)
        if (refs[i] != NULL)
            api->decref(refs[i]);
}

static void *inject_thread(void *arg)
{
    char *dir = arg;
    /* Signals are the program's business: they go to its own threads (and
     * the checkpoint thread the payload starts inherits this mask). */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);

    pyapi_t api;
    const char *missing = NULL;
    if (pyapi_load(&api, &missing) < 0) {
        char msg[256];
        snprintf(msg, sizeof(msg), "not a Python process: no %s in it", missing);
        put_file(dir, "error", msg);
        goto done;
    }
    if (!api.is_initialized()) {
        put_file(dir, "error", "the Python interpreter is not initialized (starting up or shutting down)");
        goto done;
    }
    char *source = read_payload(dir);
    if (source == NULL)
        goto done;              /* the CLI gave up and removed the directory */
    /* Waits, as any thread would, until the interpreter hands the GIL over
     * at a safe point: between bytecodes, or while a thread is in C code
     * that released it. */
    int g = api.gil_ensure();
    run_payload(&api, dir, source);
    api.gil_release(g);
    free(source);
done:
    free(dir);
    return NULL;
}

int lt_inject_start(const char *path)
{
    if (path == NULL)
        return EINVAL;
    /* Our own copy, from the malloc this library is linked to (the
     * process's, interposed or not); the caller frees its string with the
     * malloc it took it from. */
    char *dir = strdup(path);
    if (dir == NULL)
        return ENOMEM;
    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc != 0) {
        free(dir);
        return rc;
    }
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    rc = pthread_create(&t, &attr, inject_thread, dir);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        free(dir);
    return rc;
}

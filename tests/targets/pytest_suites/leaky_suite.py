"""A leaky test suite: each test is a SCENARIOS.md scenario that leaks on
every run. Run with `pytest --leaktrace`: every test must fail, with the
finding named in its EXPECT entry (type, category). Used by
tests/python/plugin/test_plugin_suites.py and bench/pytest_compare.py."""
import asyncio
import gc
import logging
import os
import queue
import sqlite3
import tempfile
import threading

import pytest

# test name -> (type of a finding, category), None: any; a tuple of types:
# any of them (the finding of a container is represented by one of the
# types it holds: the task or its coroutine, the handler or the weak
# reference logging keeps to it).
EXPECT = {
    "test_unbounded_container": ("leaky_suite.Invoice", "unbounded-container"),
    "test_cycles_held_globally": ("leaky_suite.Node", None),
    "test_unclosed_files": (None, "unclosed-resource"),
    "test_unclosed_sqlite": (None, "unclosed-resource"),
    "test_threads_not_joined": ("threading.Thread", "thread"),
    "test_callback_registration": (None, "callback-registration"),
    "test_logging_handler_added": (("logging.NullHandler", "weakref.ReferenceType", "weakref"), None),
    "test_exception_traceback_kept": (None, "exception-traceback"),
    "test_asyncio_tasks_kept": (("_asyncio.Task", "coroutine"), None),
    "test_generators_kept": ("generator", None),
    "test_queue_producer_faster": ("leaky_suite.Job", None),
    "test_large_structures_kept": ("bytes", None),
    "test_gc_disabled_garbage_saved": ("leaky_suite.Node", None),
}


class Invoice:
    def __init__(self, n):
        self.n = n
        self.lines = [n, n + 1]


INVOICES = {}


def test_unbounded_container():
    # SCENARIOS 2/15: a module-global cache that is never trimmed.
    for _ in range(20):
        INVOICES["inv-%d" % len(INVOICES)] = Invoice(len(INVOICES))


class Node:
    def __init__(self, parent=None):
        self.parent = parent
        self.children = []
        if parent is not None:
            parent.children.append(self)


TREES = []


def test_cycles_held_globally():
    # SCENARIOS 1: parent <-> child cycles, kept by a global registry.
    for _ in range(10):
        root = Node()
        Node(root)
        TREES.append(root)


OPEN_FILES = []


def test_unclosed_files():
    # SCENARIOS 4: files opened and never closed (kept by a list).
    fd, path = tempfile.mkstemp(prefix="leaktrace-suite-")
    os.close(fd)
    OPEN_FILES.append(open(path, "rb"))
    os.unlink(path)


CONNECTIONS = []


def test_unclosed_sqlite(tmp_path):
    # SCENARIOS 5: database connections never closed.
    conn = sqlite3.connect(str(tmp_path / ("db-%d.sqlite" % len(CONNECTIONS))))
    conn.execute("create table if not exists t (x)")
    CONNECTIONS.append(conn)


STOP = threading.Event()


def test_threads_not_joined():
    # SCENARIOS 10: threads started and never joined (they wait forever).
    t = threading.Thread(target=STOP.wait, daemon=True)
    t.start()


class Listener:
    def __init__(self):
        self.seen = 0

    def on_event(self, event):
        self.seen += 1


class EventBus:
    listeners = []

    @classmethod
    def subscribe(cls, callback):
        cls.listeners.append(callback)


def test_callback_registration():
    # SCENARIOS 8: a callback (a bound method) registered on every call and
    # never removed.
    EventBus.subscribe(Listener().on_event)


def test_logging_handler_added():
    # SCENARIOS 8 with logging: a handler added on every call.
    logging.getLogger("leaky_suite.events").addHandler(logging.NullHandler())


ERRORS = []


def _parse(i):
    payload = bytearray(512)  # noqa: F841 (kept alive by the traceback's frame)
    raise ValueError("bad record %d" % i)


def test_exception_traceback_kept():
    # SCENARIOS 11: exceptions stored with their tracebacks (and frames).
    for i in range(5):
        try:
            _parse(i)
        except ValueError as e:
            ERRORS.append(e)


TASKS = []


@pytest.mark.asyncio
async def test_asyncio_tasks_kept():
    # Tasks created and kept, never awaited or cancelled.
    TASKS.append(asyncio.ensure_future(asyncio.sleep(3600)))
    await asyncio.sleep(0)


GENERATORS = []


def _rows():
    for i in range(10**6):
        yield i


def test_generators_kept():
    # SCENARIOS 9: generators started and kept (suspended frames).
    g = _rows()
    next(g)
    GENERATORS.append(g)


class Job:
    def __init__(self, n):
        self.n = n


JOBS = queue.Queue()


def test_queue_producer_faster():
    # SCENARIOS 12: a producer faster than its consumer (one get per 3 puts).
    for i in range(3):
        JOBS.put(Job(i))
    JOBS.get_nowait()


class DataProcessor:
    cache = []


def test_large_structures_kept():
    # SCENARIOS 7: a large intermediate result kept on a class attribute.
    DataProcessor.cache.append(bytes(64 * 1024))


def test_gc_disabled_garbage_saved():
    # SCENARIOS 1 (gc.garbage): with DEBUG_SAVEALL the collector keeps
    # every cycle it finds in gc.garbage.
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        a = Node()
        Node(a)
        del a
        gc.collect()
    finally:
        gc.set_debug(0)

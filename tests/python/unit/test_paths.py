"""holder_paths() and holder_graph(): exact paths for real holders.

Each test writes a small module to tmp_path and imports it under a fixed
name, so that the module name in a path is known. Results are computed
outside `assert` statements: pytest's assertion rewriting keeps the
intermediate values of an assert in locals of the test function, which
would be a shorter (and correct) path to the target.
"""
import ctypes
import gc
import importlib
import re
import shutil
import subprocess
import sys
import textwrap
import threading

import pytest

import leaktrace
from leaktrace import holder_graph, holder_paths

NOT_REACHABLE = "<not reachable from a root>"
PY311 = sys.version_info >= (3, 11)


@pytest.fixture
def load(tmp_path, monkeypatch):
    """load(name, source) -> the module `name` made from `source`."""
    monkeypatch.syspath_prepend(str(tmp_path))
    names = []

    def _load(name, source):
        (tmp_path / (name + ".py")).write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        names.append(name)
        return importlib.import_module(name)

    yield _load
    for name in names:
        sys.modules.pop(name, None)


@pytest.fixture
def no_gc():
    """Objects kept only by cycles must survive until the search."""
    was = gc.isenabled()
    gc.disable()
    yield
    if was:
        gc.enable()


# ---- module globals, classes, instances -------------------------------------

def test_module_global_dict_cache(load):
    m = load("ltp_cache", """
        class Item:
            pass
        CACHE = {}
        CACHE['k'] = Item()
        CACHE[7] = Item()
        CACHE[(1, 2)] = Item()
        CACHE[-5] = Item()
        CACHE[2 ** 70] = Item()
    """)
    paths = holder_paths([m.CACHE["k"]])
    assert paths == [["module ltp_cache", ".CACHE", "['k']"]]
    paths = holder_paths([m.CACHE[7]])
    assert paths == [["module ltp_cache", ".CACHE", "[7]"]]
    paths = holder_paths([m.CACHE[(1, 2)]])
    assert paths == [["module ltp_cache", ".CACHE", "[<tuple key>]"]]
    paths = holder_paths([m.CACHE[-5], m.CACHE[2 ** 70]])
    assert paths == [["module ltp_cache", ".CACHE", "[-5]"], ["module ltp_cache", ".CACHE", "[<int key>]"]]


def test_global_itself_and_several_targets(load):
    m = load("ltp_globals", """
        class Item:
            pass
        A = Item()
        B = [Item(), Item()]
    """)
    paths = holder_paths([m.A, m.B[1], m.B[0], m.A])
    assert paths == [
        ["module ltp_globals", ".A"],
        ["module ltp_globals", ".B", "[1]"],
        ["module ltp_globals", ".B", "[0]"],
    ]
    # A tuple works as well as a list.
    paths = holder_paths((m.A,))
    assert paths == [["module ltp_globals", ".A"]]


def test_class_attribute_list(load):
    m = load("ltp_registry", """
        class Handler:
            pass
        class Registry:
            items = []
        Registry.items.append(Handler())
        Registry.items.append(Handler())
    """)
    paths = holder_paths([m.Registry.items[1]])
    assert paths == [["module ltp_registry", ".Registry", ".items", "[1]"]]


def test_instance_attribute_chain(load):
    m = load("ltp_app", """
        class Item:
            pass
        class Service:
            def __init__(self):
                self.cache = {'x': [0, Item()]}
        class App:
            def __init__(self):
                self.name = 'app'
                self.service = Service()
        APP = App()
    """)
    paths = holder_paths([m.APP.service.cache["x"][1]])
    assert paths == [["module ltp_app", ".APP", ".service", ".cache", "['x']", "[1]"]]


def test_instance_dict_made_explicit(load):
    # Asking for __dict__ makes a real dict on 3.11+; the path reads the same.
    m = load("ltp_dictattr", """
        class Item:
            pass
        class Box:
            pass
        BOX = Box()
        BOX.item = Item()
        BOX.__dict__
    """)
    paths = holder_paths([m.BOX.item])
    assert paths == [["module ltp_dictattr", ".BOX", ".item"]]


def test_slots(load):
    m = load("ltp_slots", """
        class Item:
            pass
        class Base:
            __slots__ = ('first',)
        class Slotted(Base):
            __slots__ = ('payload', 'other')
        HOLDER = Slotted()
        HOLDER.first = Item()
        HOLDER.payload = Item()
    """)
    paths = holder_paths([m.HOLDER.payload, m.HOLDER.first])
    assert paths == [
        ["module ltp_slots", ".HOLDER", ".payload"],
        ["module ltp_slots", ".HOLDER", ".first"],
    ]


def test_list_index_nested_and_set(load):
    m = load("ltp_nested", """
        class Item:
            pass
        ITEMS = [1, 2, Item()]
        CONFIG = {'a': {'b': [0, {'c': Item()}]}}
        TAGS = {Item()}
        KEYS = {Item(): 1}
        FROZEN = (0, (1, Item()))
    """)
    paths = holder_paths([m.ITEMS[2]])
    assert paths == [["module ltp_nested", ".ITEMS", "[2]"]]
    paths = holder_paths([m.CONFIG["a"]["b"][1]["c"]])
    assert paths == [["module ltp_nested", ".CONFIG", "['a']", "['b']", "[1]", "['c']"]]
    paths = holder_paths([next(iter(m.TAGS))])
    assert paths == [["module ltp_nested", ".TAGS", "{...} element"]]
    paths = holder_paths([next(iter(m.KEYS))])
    assert paths == [["module ltp_nested", ".KEYS", "key <ltp_nested.Item>"]]
    paths = holder_paths([m.FROZEN[1][1]])
    assert paths == [["module ltp_nested", ".FROZEN", "[1]", "[1]"]]


def test_deque_items_are_indexed_like_a_list(load):
    """A deque's items (its storage is private to _collections) are read in
    order by the deque type's own traversal: [i] counts from the left, in a
    subclass with a __dict__ too, and through a queue.Queue's .queue."""
    m = load("ltp_deque", """
        import collections, queue
        class Item:
            pass
        class Backlog(collections.deque):
            pass
        D = collections.deque([0] * 100)
        D.appendleft(-1)
        D.append(Item())
        SUB = Backlog([1, 2, Item()])
        SUB.note = "x"
        Q = queue.Queue()
        for _ in range(70):
            Q.put(None)
        Q.put(Item())
    """)
    assert holder_paths([m.D[-1]]) == [["module ltp_deque", ".D", "[101]"]]
    assert holder_paths([m.SUB[2]]) == [["module ltp_deque", ".SUB", "[2]"]]
    assert holder_paths([m.Q.queue[-1]]) == [["module ltp_deque", ".Q", ".queue", "[70]"]]


def test_dict_key_escaping_and_cut(load):
    m = load("ltp_keys", r"""
        class Item:
            pass
        ODD = 'it\'s "x"\\\n\t'
        LONG = 'k' * 200
        D = {ODD: Item(), LONG: Item()}
    """)
    paths = holder_paths([m.D[m.ODD]])
    assert paths == [["module ltp_keys", ".D", "[" + repr(m.ODD) + "]"]]
    paths = holder_paths([m.D[m.LONG]])
    last = paths[0][-1]
    assert last.startswith("['kkkk") and last.endswith("...']")
    assert len(last) == 2 + 60


def test_key_itself(load):
    m = load("ltp_keyself", """
        BYNAME = {}
        def add():
            # A str made at run time: not interned, so only BYNAME holds it.
            BYNAME[''.join(['key-', 'x' * 3])] = 1
        add()
    """)
    paths = holder_paths([next(iter(m.BYNAME))])
    assert paths == [["module ltp_keyself", ".BYNAME", "key 'key-xxx'"]]


# ---- functions, closures, methods -------------------------------------------

def test_closure_cell(load):
    m = load("ltp_closure", """
        class Item:
            pass
        def make():
            callback = Item()
            def handler():
                return callback
            return handler
        HANDLER = make()
    """)
    paths = holder_paths("ltp_closure.Item")
    assert paths == [["module ltp_closure", ".HANDLER", "cell 'callback'"]]


def test_bound_method_in_handler_list(load):
    m = load("ltp_handlers", """
        class Listener:
            def on_event(self):
                pass
        HANDLERS = []
        def register():
            HANDLERS.append(Listener().on_event)
        register()
    """)
    paths = holder_paths("ltp_handlers.Listener")
    assert paths == [["module ltp_handlers", ".HANDLERS", "[0]", ".__self__"]]


def test_function_fields_and_partial(load):
    m = load("ltp_funcs", """
        import functools
        import types
        class Item:
            pass
        def f(x=Item()):
            return x
        P = functools.partial(print, Item())
        def _make():
            def bound(self):
                return self
            return bound
        BOUND = types.MethodType(_make(), Item())
        def _exec_globals():
            ns = {}
            exec("def g():\\n    return X\\nX = object()", ns)
            return ns['g']
        G = [_exec_globals()]
    """)
    paths = holder_paths([m.f.__defaults__[0], m.P.args[0], m.BOUND.__func__, m.BOUND.__self__,
                          m.G[0].__globals__["X"]])
    assert paths == [
        ["module ltp_funcs", ".f", ".__defaults__", "[0]"],
        ["module ltp_funcs", ".P", ".args", "[0]"],
        ["module ltp_funcs", ".BOUND", ".__func__"],
        ["module ltp_funcs", ".BOUND", ".__self__"],
        ["module ltp_funcs", ".G", "[0]", ".__globals__", "['X']"],
    ]


def test_lru_cache_results(load):
    m = load("ltp_lru", """
        import functools
        class Result:
            pass
        class Unbounded:
            pass
        @functools.lru_cache(maxsize=32)
        def total(n):
            return Result()
        @functools.lru_cache(maxsize=None)
        def forever(n):
            return Unbounded()
        total(1)
        forever(5)
    """)
    paths = holder_paths("ltp_lru.Result")
    assert paths == [["module ltp_lru", ".total", "<functools._lru_cache_wrapper total>"]]
    paths = holder_paths("ltp_lru.Unbounded")
    assert paths == [["module ltp_lru", ".forever", "<functools._lru_cache_wrapper forever>", "[5]"]]


# ---- exceptions, frames, threads ---------------------------------------------

def test_exception_traceback_frame_local(load):
    m = load("ltp_errors", """
        class Payload:
            pass
        ERRORS = []
        def handle():
            payload = Payload()
            try:
                raise ValueError('boom')
            except ValueError as e:
                ERRORS.append(e)
        handle()
    """)
    paths = holder_paths("ltp_errors.Payload")
    assert paths == [["module ltp_errors", ".ERRORS", "[0]", ".__traceback__", ".tb_frame",
                      "frame handle() local 'payload'"]]


def test_exception_context_and_frame_cell(load):
    m = load("ltp_context", """
        class Payload:
            pass
        KEPT = []
        def fail():
            token = Payload()
            def uses():
                return token
            raise KeyError('inner')
        def outer():
            try:
                fail()
            except KeyError:
                try:
                    raise ValueError('outer')
                except ValueError as e:
                    KEPT.append(e)
        outer()
    """)
    paths = holder_paths("ltp_context.Payload")
    # token is a cell variable of fail(): the cell and its content read as
    # the local.
    assert paths == [["module ltp_context", ".KEPT", "[0]", ".__context__", ".__traceback__", ".tb_next",
                      ".tb_frame", "frame fail() local 'token'"]]


def test_exception_cause(load):
    m = load("ltp_cause", """
        class Payload(Exception):
            pass
        KEPT = []
        def fail():
            try:
                raise Payload('root cause')
            except Payload as inner:
                try:
                    raise ValueError('outer') from inner
                except ValueError as e:
                    KEPT.append(e)
        fail()
    """)
    paths = holder_paths("ltp_cause.Payload")
    assert paths == [["module ltp_cause", ".KEPT", "[0]", ".__cause__"]]


def test_generator_local(load):
    m = load("ltp_gen", """
        class Payload:
            pass
        def produce():
            token = Payload()
            yield 1
            yield token
        GEN = produce()
        next(GEN)
    """)
    paths = holder_paths("ltp_gen.Payload")
    if PY311:
        expected = ["module ltp_gen", ".GEN", "frame produce() local 'token'"]
    else:
        expected = ["module ltp_gen", ".GEN", ".gi_frame", "frame produce() local 'token'"]
    assert paths == [expected]


def test_generator_value_stack(load):
    m = load("ltp_genstack", """
        class Item:
            pass
        def produce():
            # The iterator of the loop lives on the suspended generator's
            # value stack, not in a local.
            for x in [Item(), Item()]:
                yield x
        GEN = produce()
        next(GEN)
    """)
    paths = holder_paths("ltp_genstack.Item")
    head = ["module ltp_genstack", ".GEN"] + ([] if PY311 else [".gi_frame"])
    assert paths == [head + ["frame produce() local 'x'"],
                     head + ["frame produce() value stack", "<tuple_iterator>", "[1]"]]


def test_class_body_namespace(load):
    m = load("ltp_body", """
        import leaktrace
        class Item:
            pass
        class Body:
            kept = Item()
            FOUND = leaktrace.holder_paths([kept])
    """)
    name = threading.current_thread().name
    assert m.Body.FOUND == [["thread %s frame Body() local 'kept'" % name]]


def test_local_of_running_function_main_thread(load):
    m = load("ltp_local", """
        class Item:
            pass
    """)
    items = [m.Item(), m.Item()]
    paths = holder_paths([items[1]])
    name = threading.current_thread().name
    assert paths == [["thread %s frame test_local_of_running_function_main_thread() local 'items'" % name, "[1]"]]


def test_cell_variable_of_running_function(load):
    m = load("ltp_cellvar", """
        class Item:
            pass
    """)
    kept = [m.Item()]

    def inner():
        return kept

    paths = holder_paths([kept[0]])
    name = threading.current_thread().name
    assert paths == [["thread %s frame test_cell_variable_of_running_function() local 'kept'" % name, "[0]"]]
    assert inner() is kept


def test_local_of_another_live_thread(load):
    m = load("ltp_thread", """
        class Payload:
            pass
        def worker(ready, stop):
            payload = Payload()
            ready.set()
            stop.wait()
    """)
    ready, stop = threading.Event(), threading.Event()
    t = threading.Thread(target=m.worker, args=(ready, stop), name="lt-worker")
    t.start()
    try:
        assert ready.wait(10)
        paths = holder_paths("ltp_thread.Payload")
    finally:
        stop.set()
        t.join()
    assert paths == [["thread lt-worker frame worker() local 'payload'"]]


def test_global_wins_over_local_at_equal_depth(load):
    m = load("ltp_tie", """
        class Item:
            pass
        SHARED = Item()
    """)
    shared = m.SHARED
    paths = holder_paths([shared])
    assert paths == [["module ltp_tie", ".SHARED"]]


def test_builtins_come_last(load):
    import builtins
    m = load("ltp_builtins", """
        class Item:
            pass
    """)
    builtins.LTP_ITEM = m.Item()
    try:
        paths = holder_paths("ltp_builtins.Item")
        assert paths == [["module builtins", ".LTP_ITEM"]]
        local = builtins.LTP_ITEM
        paths = holder_paths("ltp_builtins.Item")
        name = threading.current_thread().name
        assert paths == [["thread %s frame test_builtins_come_last() local 'local'" % name]]
        del local
    finally:
        del builtins.LTP_ITEM


def test_atexit_callbacks(load):
    import atexit
    m = load("ltp_atexit", """
        class Spool:
            def remove(self):
                pass
        class Arg:
            pass
        def register():
            import atexit
            atexit.register(Spool().remove)
            atexit.register(print, Arg())
    """)
    before = atexit._ncallbacks()
    m.register()
    try:
        spool = holder_paths("ltp_atexit.Spool")
        arg = holder_paths("ltp_atexit.Arg")
    finally:
        for cb in (print,):
            atexit.unregister(cb)
        # The bound method compares equal to a new one of the same object.
        for o in gc.get_objects():
            if type(o).__name__ == "Spool" and type(o).__module__ == "ltp_atexit":
                atexit.unregister(o.remove)
    if sys.version_info >= (3, 10):
        # The interpreter keeps them: a root of its own.
        assert spool == [["atexit callbacks [%d]" % before, ".__self__"]]
        assert arg == [["atexit callbacks [%d] args" % (before + 1), "[0]"]]
    else:
        # The atexit module keeps them in its state.
        assert spool == [["module atexit", "<module atexit>", ".__self__"]]
        assert arg == [["module atexit", "<module atexit>", "[0]"]]


# ---- not reachable ----------------------------------------------------------

def test_reference_cycle_only(load, no_gc):
    m = load("ltp_cycle", """
        class CycleNode:
            pass
        def make():
            a = CycleNode()
            b = CycleNode()
            a.peer = b
            b.peer = a
        make()
    """)
    paths = holder_paths("ltp_cycle.CycleNode")
    # Both nodes give the same strings: returned once.
    assert paths == [[NOT_REACHABLE, "reference cycle", "<ltp_cycle.CycleNode>", ".peer", ".peer"]]
    graph = holder_graph("ltp_cycle.CycleNode")
    assert NOT_REACHABLE in graph and "reference cycle" in graph


def test_held_by_c_code(load):
    m = load("ltp_leaked", """
        class Leaked:
            pass
    """)
    obj = m.Leaked()
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
    addr = id(obj)
    del obj
    try:
        paths = holder_paths("ltp_leaked.Leaked")
        assert paths == [[NOT_REACHABLE,
                          "no referrer found: held by C code or by an object the gc does not track",
                          "<ltp_leaked.Leaked>"]]
    finally:
        for o in gc.get_objects():
            if id(o) == addr:
                ctypes.pythonapi.Py_DecRef(ctypes.py_object(o))
                break


def test_cycle_held_by_c_code(load, no_gc):
    m = load("ltp_heldcycle", """
        class Ring:
            pass
        def make():
            a = Ring()
            b = Ring()
            a.peer = b
            b.peer = a
            return a
    """)
    obj = m.make()
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
    addr = id(obj)
    del obj
    try:
        paths = holder_paths("ltp_heldcycle.Ring")
        assert paths == [[NOT_REACHABLE,
                          "reference cycle kept alive by C code or by an object the gc does not track",
                          "<ltp_heldcycle.Ring>", ".peer", ".peer"]]
    finally:
        for o in gc.get_objects():
            if id(o) == addr:
                ctypes.pythonapi.Py_DecRef(ctypes.py_object(o))
                break


def test_type_given_as_type_and_name(load):
    m = load("ltp_types", """
        class Invoice:
            pass
        class Other:
            pass
        INVOICES = {'inv-%d' % i: Invoice() for i in range(5)}
        OTHER = Other()
    """)
    by_name = holder_paths("ltp_types.Invoice", max_paths=10)
    by_type = holder_paths(m.Invoice, max_paths=10)
    expected = [["module ltp_types", ".INVOICES", "['inv-%d']" % i] for i in range(5)]
    assert sorted(by_name) == expected
    assert sorted(by_type) == expected
    paths = holder_paths("ltp_types.NoSuchType")
    assert paths == []


def test_max_paths_and_max_depth(load):
    m = load("ltp_limits", """
        class Item:
            pass
        MANY = [Item() for _ in range(6)]
        DEEP = {'a': {'b': {'c': Item()}}}
    """)
    paths = holder_paths("ltp_limits.Item", max_paths=2)
    assert len(paths) == 2
    assert holder_paths("ltp_limits.Item", max_paths=0) == []
    assert holder_paths(list(m.MANY), max_paths=0) == []
    paths = holder_paths(list(m.MANY), max_paths=3)
    assert paths == [["module ltp_limits", ".MANY", "[%d]" % i] for i in range(3)]

    expected = ["module ltp_limits", ".DEEP", "['a']", "['b']", "['c']"]
    paths = holder_paths([m.DEEP["a"]["b"]["c"]], max_depth=3)
    assert paths == [expected]
    paths = holder_paths([m.DEEP["a"]["b"]["c"]], max_depth=2)
    assert paths[0][:2] == [NOT_REACHABLE, "not found within max_depth (the search stopped there)"]
    # The referrers found backwards lead to the target.
    assert paths[0][-1] == "['c']"
    paths = holder_paths([m.DEEP], max_depth=0)
    assert paths == [["module ltp_limits", ".DEEP"]]


def test_long_linked_list_no_recursion(load):
    m = load("ltp_chain", """
        class Link:
            __slots__ = ('next',)
        def build(n):
            head = Link()
            cur = head
            for _ in range(n):
                nxt = Link()
                cur.next = nxt
                cur = nxt
            return head
        def tail():
            cur = HEAD
            while hasattr(cur, 'next'):
                cur = cur.next
            return cur
        HEAD = build(1_000_000)
    """)
    paths = holder_paths([m.tail()], max_depth=2_000_000)
    assert len(paths) == 1
    path = paths[0]
    assert path[:2] == ["module ltp_chain", ".HEAD"]
    assert len(path) == 2 + 1_000_000
    assert all(p == ".next" for p in path[2:])

    paths = holder_paths([m.tail()])
    assert paths[0][:3] == [NOT_REACHABLE, "not found within max_depth (the search stopped there)",
                            "<ltp_chain.Link>"]
    assert paths[0][3:] == [".next"] * 32

    graph = holder_graph([m.tail()], max_depth=2_000_000, max_nodes=10)
    nodes = [s for s in _dot_statements(graph) if _NODE.match(s)]
    # The path's head, a marker for the left-out middle, and the target.
    assert len(nodes) == 10
    assert 'label="... 999993 more"' in graph
    assert graph.count('fillcolor="#ffd6d6"') == 1
    m.HEAD = None


# ---- no code of the program runs --------------------------------------------

def test_never_calls_user_code(load):
    m = load("ltp_evil", """
        CALLS = []
        class Evil:
            def __repr__(self):
                CALLS.append('repr')
                raise RuntimeError('repr')
            def __eq__(self, other):
                CALLS.append('eq')
                raise RuntimeError('eq')
            def __hash__(self):
                CALLS.append('hash')
                return object.__hash__(self)
            def __getattr__(self, name):
                CALLS.append('getattr')
                raise RuntimeError('getattr')
            def __getattribute__(self, name):
                CALLS.append('getattribute')
                raise RuntimeError('getattribute')
            def __len__(self):
                CALLS.append('len')
                raise RuntimeError('len')
            def __iter__(self):
                CALLS.append('iter')
                raise RuntimeError('iter')
        class EvilDict(dict):
            def __getitem__(self, key):
                CALLS.append('getitem')
                raise RuntimeError('getitem')
            def __iter__(self):
                CALLS.append('iter')
                raise RuntimeError('iter')
            def __eq__(self, other):
                CALLS.append('eq')
                raise RuntimeError('eq')
            __hash__ = None
        class EvilList(list):
            def __getitem__(self, i):
                CALLS.append('getitem')
                raise RuntimeError('getitem')
            def __iter__(self):
                CALLS.append('iter')
                raise RuntimeError('iter')
            def __len__(self):
                CALLS.append('len')
                raise RuntimeError('len')
        class Payload:
            pass
        class Slotted(Evil):
            __slots__ = ('held',)
        BY_EVIL_KEY = {Evil(): Payload()}
        EVIL = Evil()
        object.__setattr__(EVIL, 'payload', Payload())
        EVIL_KEYS = {Evil(): 1}
        EVIL_DICT = EvilDict(inner=Payload())
        SLOTTED = Slotted()
        object.__setattr__(SLOTTED, 'held', Payload())
        EVIL_LIST = EvilList([Evil()])
    """)
    # No local of this function may hold a target: it would be a root.
    targets = m.EvilList([
        next(iter(dict.values(m.BY_EVIL_KEY))),
        object.__getattribute__(m.EVIL, "__dict__")["payload"],
        next(iter(dict.keys(m.EVIL_KEYS))),
        dict.__getitem__(m.EVIL_DICT, "inner"),
        m.Slotted.held.__get__(m.SLOTTED),
        list.__getitem__(m.EVIL_LIST, 0),
    ])
    del m.CALLS[:]
    paths = holder_paths(targets)
    graph = holder_graph(targets)
    graph_by_type = holder_graph(m.Evil)
    calls = list(m.CALLS)
    assert calls == []
    assert paths == [
        ["module ltp_evil", ".BY_EVIL_KEY", "[<ltp_evil.Evil key>]"],
        ["module ltp_evil", ".EVIL", ".payload"],
        ["module ltp_evil", ".EVIL_KEYS", "key <ltp_evil.Evil>"],
        ["module ltp_evil", ".EVIL_DICT", "['inner']"],
        ["module ltp_evil", ".SLOTTED", ".held"],
        ["module ltp_evil", ".EVIL_LIST", "[0]"],
    ]
    assert "ltp_evil.Evil" in graph and "ltp_evil.Evil" in graph_by_type


# ---- graphviz ------------------------------------------------------------------

_NODE = re.compile(r'^(digraph "holder_paths" \{\s*rankdir=LR\s*)?n\d+ \[label=')


def _dot_statements(text):
    """Splits dot text into statements, checking quoting and braces."""
    depth = 0
    i = 0
    stmts, cur = [], ""
    while i < len(text):
        c = text[i]
        if c == '"':
            j = i + 1
            while text[j] != '"':
                assert text[j] != "\n", "raw newline inside a quoted string"
                j += 2 if text[j] == "\\" else 1
            cur += text[i:j + 1]
            i = j + 1
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            assert depth >= 0
        elif c == ";":
            stmts.append(cur.strip())
            cur = ""
            i += 1
            continue
        cur += c
        i += 1
    assert depth == 0
    return stmts


def test_graph_structure_and_escaping(load):
    m = load("ltp_graph", r"""
        class Item:
            pass
        KEY = 'say "hi"\\path\nnext'
        STORE = {KEY: Item(), 'plain': Item()}
        OTHER = [Item()]
    """)
    targets = [m.STORE[m.KEY], m.STORE["plain"], m.OTHER[0]]
    graph = holder_graph(targets)
    assert graph.startswith('digraph "holder_paths" {')
    assert graph.rstrip().endswith("}")
    stmts = _dot_statements(graph)
    nodes = [s for s in stmts if _NODE.match(s)]
    edges = [s for s in stmts if re.match(r"^n\d+ -> n\d+", s)]
    # module, STORE, 2 items, OTHER list, its item.
    assert len(nodes) == 6
    assert len(edges) == 5
    assert 'label="module ltp_graph", style=filled, fillcolor="#cfe8ff"' in graph
    assert graph.count('fillcolor="#ffd6d6"') == 3
    # The key's quotes, backslash and newline are escaped for dot.
    assert r'''label="['say \"hi\"\\\\path\\nnext']"''' in graph
    assert 'label=".STORE"' in graph and "label=\"['plain']\"" in graph

    dot = shutil.which("dot")
    if dot:
        r = subprocess.run([dot, "-Tsvg"], input=graph.encode(), capture_output=True)
        assert r.returncode == 0, r.stderr


def test_graph_stack_root_and_limit(load):
    m = load("ltp_graph2", """
        class Item:
            pass
        MANY = [Item() for _ in range(5)]
    """)
    mine = [m.Item()]
    yours = [m.Item()]
    graph = holder_graph([mine[0], yours[0]])
    name = threading.current_thread().name
    # One node for the frame, an edge for each local.
    assert graph.count('label="thread %s frame test_graph_stack_root_and_limit()"' % name) == 1
    assert "label=\"local 'mine'\"" in graph and "label=\"local 'yours'\"" in graph
    graph = holder_graph(list(m.MANY), max_nodes=4)
    stmts = _dot_statements(graph)
    nodes = [s for s in stmts if _NODE.match(s)]
    assert len(nodes) <= 4
    assert "left out (max_nodes=4)" in graph


# ---- arguments ----------------------------------------------------------------

def test_bad_arguments():
    with pytest.raises(TypeError, match="list or tuple"):
        holder_paths(5)
    with pytest.raises(TypeError, match="list or tuple"):
        holder_paths({1: 2})
    with pytest.raises(TypeError, match="list or tuple"):
        holder_paths(iter([]))
    with pytest.raises(TypeError):
        holder_paths()
    with pytest.raises(TypeError):
        holder_paths([], 3)             # the limits are keyword-only
    with pytest.raises(ValueError, match="max_paths"):
        holder_paths([], max_paths=-1)
    with pytest.raises(ValueError, match="max_depth"):
        holder_paths([], max_depth=-1)
    with pytest.raises(ValueError, match="max_nodes"):
        holder_graph([], max_nodes=0)
    with pytest.raises(ValueError, match="empty"):
        holder_paths("")
    with pytest.raises(TypeError):
        holder_paths([], max_depth="3")
    assert holder_paths([]) == []
    assert holder_graph([]).startswith("digraph")


def test_exported():
    assert leaktrace.holder_paths is holder_paths
    assert "holder_paths" in leaktrace.__all__ and "holder_graph" in leaktrace.__all__
    assert "<not reachable from a root>" in holder_paths.__doc__

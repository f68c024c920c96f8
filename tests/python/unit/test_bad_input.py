"""Bad arguments, hostile objects and huge heaps.

The walks (census, Checkpoint, new_objects, cyclic_garbage, holder_paths) must
run no code of the program's classes (README, STYLE.md "Runtime rules"):
hostile objects record every call of their special methods while armed, and
a variant whose methods loop forever runs in a subprocess with a time limit.
What could crash the interpreter runs in a subprocess too, so that a crash is
one failed test and not a dead test run.
"""
import gc
import json
import subprocess
import sys
import textwrap
import types
import weakref

import pytest

import leaktrace
from leaktrace import _core


def type_name(tp):
    module = type.__getattribute__(tp, "__module__")
    qual = type.__getattribute__(tp, "__qualname__")
    return qual if module == "builtins" else "%s.%s" % (module, qual)


def run_child(code, timeout=120):
    """Runs `code` in a fresh interpreter; returns (returncode, stdout lines, stderr)."""
    try:
        proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return "timeout", out.splitlines(), ""
    return proc.returncode, proc.stdout.splitlines(), proc.stderr


# ---- arguments ---------------------------------------------------------------------

class Thing:
    pass


def test_new_objects_argument_errors():
    cp = leaktrace.Checkpoint()
    for bad in (123, None, Thing(), b"bytes", ["list"]):
        with pytest.raises(TypeError):
            leaktrace.new_objects(bad, since=cp)
    with pytest.raises(TypeError):
        leaktrace.new_objects(Thing)                          # since= is required
    with pytest.raises(TypeError):
        leaktrace.new_objects(Thing, cp)                      # and keyword-only
    for bad_since in (None, cp.census, 1.5, "cp"):
        with pytest.raises(TypeError):
            leaktrace.new_objects(Thing, since=bad_since)
    with pytest.raises(TypeError):
        leaktrace.new_objects(Thing, since=cp, limit="10")
    with pytest.raises(TypeError):
        leaktrace.new_objects(Thing, since=cp, limit=2.5)
    with pytest.raises(OverflowError):
        leaktrace.new_objects(Thing, since=cp, limit=2 ** 80)


def test_negative_limits_return_nothing():
    cp = leaktrace.Checkpoint()
    keep = [Thing() for _ in range(5)]
    assert leaktrace.new_objects(Thing, since=cp, limit=-1) == []
    assert leaktrace.new_objects(Thing, since=cp, limit=-(2 ** 62)) == []
    c = leaktrace.census()
    assert c.top(-1) == [] and c.top(-(2 ** 62)) == []
    del keep


def test_census_method_argument_errors():
    c = leaktrace.census()
    for bad in (123, None, Thing(), 1.5, [dict]):
        with pytest.raises(TypeError):
            c.get(bad)
        with pytest.raises(TypeError):
            bad in c
        with pytest.raises(TypeError):
            c.diff(bad)
    with pytest.raises(TypeError):
        c.get()
    with pytest.raises(TypeError):
        c.top(by=None)
    with pytest.raises(TypeError):
        c.top("5")
    with pytest.raises(TypeError):
        leaktrace.census(collect=True, extra=1)


@pytest.mark.parametrize("call", ["c.top(3, 'sideways')", "c.top(by='sideways')", "c.top(3, by='sideways')"])
def test_top_rejects_an_unknown_order_naming_it(call):
    """Run in a subprocess: building the message must not read past the
    arguments (it did, and crashed the interpreter)."""
    rc, lines, stderr = run_child("""
        import leaktrace
        c = leaktrace.census()
        try:
            %s
        except ValueError as exc:
            print(str(exc))
        else:
            print("no error")
    """ % call)
    assert rc == 0, "the interpreter died (exit %r):\n%s" % (rc, stderr[-2000:])
    assert lines and "sideways" in lines[-1], "message should name the bad value: %r" % lines


def test_census_and_checkpoint_types_cannot_be_faked():
    """Census is made only by census() (3.10+ refuses instantiation; on 3.9 an
    instance made from Python must at least be empty and harmless)."""
    try:
        fake = leaktrace.Census()
    except TypeError:
        pass
    else:
        assert len(fake) == 0 and fake.types() == {} and fake.top() == [] and fake.get(int) == (0, 0)
        real = leaktrace.census()
        assert fake.diff(fake) == []
        assert len(real.diff(fake)) == len(real)
        del fake
    with pytest.raises(TypeError):
        leaktrace.TypeDelta()


def test_holder_paths_argument_errors():
    from leaktrace import holder_graph, holder_paths

    for fn in (holder_paths, holder_graph):
        for bad in (123, None, 1.5):
            with pytest.raises(TypeError):
                fn(bad)
    assert holder_paths([]) == []
    for kwargs in ({"max_paths": -1}, {"max_depth": -1}):
        try:
            result = holder_paths([Thing()], **kwargs)
        except ValueError:
            continue
        assert result == [], (kwargs, result)
    with pytest.raises(TypeError):
        holder_paths([Thing()], max_paths="3")
    with pytest.raises(ValueError):
        holder_graph([Thing()], max_nodes=-1)


# ---- hostile objects -----------------------------------------------------------------

CALLS = []
ARMED = [False]


def _record(what):
    if ARMED[0]:
        CALLS.append(what)
        raise RuntimeError("leaktrace ran user code: " + what)


class Hostile:
    def __init__(self, n):
        object.__setattr__(self, "n", n)

    def __repr__(self):
        _record("__repr__")
        return "Hostile"

    def __str__(self):
        _record("__str__")
        return "Hostile"

    def __eq__(self, other):
        _record("__eq__")
        return NotImplemented

    def __hash__(self):
        _record("__hash__")
        return 1

    def __getattr__(self, name):
        _record("__getattr__ " + name)
        raise AttributeError(name)

    def __getattribute__(self, name):
        _record("__getattribute__ " + name)
        return object.__getattribute__(self, name)

    def __setattr__(self, name, value):
        _record("__setattr__ " + name)
        object.__setattr__(self, name, value)

    def __sizeof__(self):
        _record("__sizeof__")
        return 1

    def __len__(self):
        _record("__len__")
        return 0

    def __iter__(self):
        _record("__iter__")
        return iter(())

    def __bool__(self):
        _record("__bool__")
        return True

    def __dir__(self):
        _record("__dir__")
        return []

    def __del__(self):
        _record("__del__")


class Unhashable(list):
    __hash__ = None

    def __eq__(self, other):
        _record("Unhashable.__eq__")
        return NotImplemented


class Disguised:
    @property
    def __class__(self):
        _record("__class__")
        return int


class HostileMeta(type):
    def __getattribute__(cls, name):
        _record("meta __getattribute__ " + name)
        return type.__getattribute__(cls, name)

    def __getattr__(cls, name):
        _record("meta __getattr__ " + name)
        raise AttributeError(name)

    def __repr__(cls):
        _record("meta __repr__")
        return "HostileMeta"

    def __eq__(cls, other):
        _record("meta __eq__")
        return type.__eq__(cls, other)

    def __hash__(cls):
        _record("meta __hash__")
        return type.__hash__(cls)

    def __instancecheck__(cls, obj):
        _record("meta __instancecheck__")
        return False

    def __subclasscheck__(cls, sub):
        _record("meta __subclasscheck__")
        return False


class Managed(metaclass=HostileMeta):
    def __init__(self, n):
        self.n = n


class LazyModule(types.ModuleType):
    def __getattr__(self, name):
        _record("module __getattr__ " + name)
        raise AttributeError(name)

    def __repr__(self):
        _record("module __repr__")
        return "<lazy>"


def test_hostile_objects_do_record_calls():
    """The control of the tests below: armed, touching a hostile object records."""
    h, m = Hostile(0), Managed(0)
    ARMED[0] = True
    try:
        for poke in (repr, hash, len, bool, lambda o: o.missing, lambda o: o == 1, sys.getsizeof):
            with pytest.raises(RuntimeError):
                poke(h)
        with pytest.raises(RuntimeError):
            repr(Managed)
        with pytest.raises(RuntimeError):
            isinstance(1, Managed)
        with pytest.raises(RuntimeError):
            Disguised().__class__
    finally:
        ARMED[0] = False
    assert len(CALLS) == 10, CALLS
    CALLS.clear()


@pytest.fixture
def hostile_heap():
    """A checkpoint, then a heap of hostile objects: held in lists and dicts (also
    as keys), behind weakref proxies (live and dead), in a module subclass, in
    garbage cycles (with __del__) and in gc.garbage. Armed while the test runs."""
    gc.collect()
    gc.disable()
    cp = leaktrace.Checkpoint()
    hostiles = [Hostile(i) for i in range(50)]
    keyed = {Hostile(i): Hostile(-i) for i in range(20)}       # keys hashed before arming
    unhashable = [Unhashable([i]) for i in range(20)]
    disguised = [Disguised() for _ in range(20)]
    managed = [Managed(i) for i in range(20)]
    proxies = [weakref.proxy(h) for h in hostiles[:10]]
    dead_proxies = [weakref.proxy(Hostile(-1)) for _ in range(10)]
    lazy = LazyModule("lazy_settings")
    lazy.REGISTRY = hostiles[10:20]
    sys.modules["lazy_settings"] = lazy
    gc.set_debug(gc.DEBUG_SAVEALL)                              # a hostile object in gc.garbage
    saved = Hostile(2000)
    object.__setattr__(saved, "me", saved)
    del saved
    gc.collect(generation=0)
    gc.set_debug(0)
    for i in range(10):                                         # garbage cycles with __del__
        h = Hostile(1000 + i)
        object.__setattr__(h, "me", h)
    del h
    heap = dict(cp=cp, hostiles=hostiles, keyed=keyed, unhashable=unhashable, disguised=disguised,
                managed=managed, proxies=proxies, dead_proxies=dead_proxies, lazy=lazy)
    CALLS.clear()
    ARMED[0] = True
    try:
        yield heap
    finally:
        ARMED[0] = False
        sys.modules.pop("lazy_settings", None)
        gc.garbage.clear()


def test_walks_run_no_user_code(hostile_heap):
    cp = hostile_heap["cp"]
    cyclic = leaktrace.cyclic_garbage()        # first: new_objects' lists will hold the cycles
    c = leaktrace.census()
    leaktrace.census(collect=False)
    cp2 = leaktrace.Checkpoint()
    new = {name: leaktrace.new_objects(tp, since=cp, limit=1000)
           for name, tp in [("Hostile", Hostile), ("Disguised", Disguised), ("Managed", Managed),
                            ("Unhashable", Unhashable), ("by name", type_name(Hostile))]}
    proxy_type = type(hostile_heap["proxies"][0])
    new_proxies = leaktrace.new_objects(proxy_type, since=cp, limit=1000)
    state = leaktrace.gc_state()
    sizes = [_core.sizeof(o) for o in (hostile_heap["hostiles"][0], hostile_heap["disguised"][0],
                                         hostile_heap["managed"][0], hostile_heap["proxies"][0],
                                         hostile_heap["dead_proxies"][0], hostile_heap["lazy"], Managed)]
    diff = c.diff(cp2)
    ARMED[0] = False
    assert CALLS == [], "user code ran: %r" % CALLS
    # The results are right too: real types, not __class__; every hostile counted.
    assert c.get(Hostile)[0] == 50 + 40 + 10 + 1          # list, dict keys+values, cycles, gc.garbage
    assert c.get(Disguised)[0] == 20 and c.get(Managed)[0] == 20 and c.get(Unhashable)[0] == 20
    assert c.get(proxy_type)[0] >= 20
    assert c.get(type_name(LazyModule))[0] == 1
    assert len(new["Hostile"]) == c.get(Hostile)[0] and len(new["by name"]) == len(new["Hostile"])
    assert len(new["Disguised"]) == len(new["Managed"]) == len(new["Unhashable"]) == 20
    assert len(new_proxies) == 20
    assert cyclic[type_name(Hostile)][0] == 10
    assert state["garbage_types"][type_name(Hostile)][0] == 1
    assert all(isinstance(s, int) and s > 0 for s in sizes)
    assert isinstance(diff, list)


def test_holder_paths_run_no_user_code(hostile_heap):
    from leaktrace import holder_graph, holder_paths

    heap = hostile_heap
    targets = heap["hostiles"][10:12] + [heap["managed"][0], heap["disguised"][0], heap["unhashable"][0]]
    paths = holder_paths(targets, max_paths=10)
    by_type = holder_paths(Hostile, max_paths=10)
    by_name = holder_paths(type_name(Managed), max_paths=10)
    dot = holder_graph(targets, max_paths=10)
    ARMED[0] = False
    assert CALLS == [], "user code ran: %r" % CALLS
    assert paths and by_type and by_name and isinstance(dot, str)
    # The module subclass is named without its __repr__/__getattr__.
    assert any(p[0] == "module lazy_settings" and ".REGISTRY" in p for p in paths), paths


@pytest.mark.filterwarnings("ignore:non-string key:RuntimeWarning")    # 3.13 warns at type()
def test_keys_colliding_with_type_dict_names_run_no_user_code():
    """A class namespace may hold non-str keys; one whose hash equals that of
    '__module__' or '__sizeof__' is compared with __eq__ by a dict lookup of
    that name. Looking up a type's module or size must not do such lookups."""
    calls = []
    armed = [False]

    class Key:
        def __init__(self, name):
            self.name = name

        def __hash__(self):
            return hash(self.name)

        def __eq__(self, other):
            if armed[0]:
                calls.append(other)
            return False

    names = ["__module__", "__qualname__", "__sizeof__", "__dict__", "__slots__", "__name__"]
    Colliding = type("Colliding", (), {Key(n): n for n in names})
    keep = [Colliding() for _ in range(3)]
    cp = leaktrace.Checkpoint()
    more = [Colliding() for _ in range(2)]
    # Computed before arming: CPython's own type.__module__ getter does the
    # very dict lookup this test is about.
    name = type_name(Colliding)
    armed[0] = True
    c = leaktrace.census()
    leaktrace.Checkpoint()
    found = leaktrace.new_objects(name, since=cp)
    _core.sizeof(keep[0])
    armed[0] = False
    assert calls == [], "a Key.__eq__ ran during the walk, compared with %r" % calls
    assert c.get(Colliding)[0] == 5 and len(found) == 2
    del keep, more


# ---- hostile objects that loop forever (subprocess) ------------------------------------

LOOPING_HEAP = """
    import gc, json, sys, types, weakref
    import leaktrace
    from leaktrace import _core

    def forever(*args):
        while True:
            pass

    class Looping:
        __repr__ = __str__ = __eq__ = __hash__ = __sizeof__ = __len__ = __bool__ = forever
        __getattr__ = __getattribute__ = __setattr__ = __del__ = __iter__ = forever

    class LoopingMeta(type):
        __getattribute__ = __getattr__ = __repr__ = __eq__ = __instancecheck__ = forever

    Quiet = LoopingMeta("Quiet", (), {})

    class LoopingModule(types.ModuleType):
        __getattr__ = __repr__ = forever

    def build(n):
        out = []
        for i in range(n):
            o = object.__new__(Looping)
            object.__setattr__(o, "i", i)
            out.append(o)
        return out

    gc.collect()
    gc.disable()
    cp = leaktrace.Checkpoint()
    heap = build(100) + [Quiet() for _ in range(10)]
    proxies = [weakref.proxy(o) for o in heap[:10]]
    mod = LoopingModule("looping_settings")
    object.__setattr__(mod, "KEEP", heap[10:20])
    sys.modules["looping_settings"] = mod
    for o in build(10):                     # garbage cycles with a looping __del__
        object.__setattr__(o, "me", o)
    del o
    print(json.dumps({"step": "built"}), flush=True)
    cyc = leaktrace.cyclic_garbage()        # before new_objects' list holds the cycles
    c = leaktrace.census()
    leaktrace.Checkpoint()
    new = leaktrace.new_objects(Looping, since=cp, limit=1000)
    _core.sizeof(heap[0])
    print(json.dumps({"step": "walks", "count": c.get(Looping)[0], "new": len(new),
                      "cyclic": cyc.get("__main__.Looping", [0])[0]}), flush=True)
    try:
        from leaktrace import holder_paths, holder_graph
    except ImportError as exc:
        print(json.dumps({"step": "holder", "error": str(exc)}), flush=True)
    else:
        paths = holder_paths(heap[10:12] + heap[100:101], max_paths=5)
        holder_graph(heap[10:12], max_paths=5)
        by_type = holder_paths(Looping, max_paths=5)
        print(json.dumps({"step": "holder", "paths": paths, "by_type": by_type}), flush=True)
    import os
    os._exit(0)
"""


@pytest.fixture(scope="module")
def looping_run():
    return run_child(LOOPING_HEAP, timeout=60)


def _steps(lines):
    return {rec["step"]: rec for rec in map(json.loads, lines)}


def test_walks_never_call_methods_that_loop_forever(looping_run):
    rc, lines, stderr = looping_run
    steps = _steps(lines)
    assert "walks" in steps, "the walks hung or crashed (exit %r): %s" % (rc, stderr[-2000:])
    assert steps["walks"]["count"] == 110       # 100 held, 10 in garbage cycles
    assert steps["walks"]["new"] == 110
    assert steps["walks"]["cyclic"] == 10


def test_holder_paths_never_call_methods_that_loop_forever(looping_run):
    rc, lines, stderr = looping_run
    steps = _steps(lines)
    assert "holder" in steps, "holder_paths hung or crashed (exit %r): %s" % (rc, stderr[-2000:])
    assert "error" not in steps["holder"], steps["holder"]["error"]
    assert rc == 0
    assert steps["holder"]["paths"] and steps["holder"]["by_type"]


# ---- a __sizeof__ borrowed from another type (subprocess: it may crash) ----------------

def test_sizeof_borrowed_from_another_c_type_is_not_called():
    """`__sizeof__ = bytearray.__sizeof__` in a class that is not a bytearray:
    sys.getsizeof refuses (the descriptor does not apply); the census must not
    call the C function on the wrong object either (it reads foreign fields)."""
    rc, lines, stderr = run_child("""
        import json, sys
        import leaktrace
        from leaktrace import _core

        class Borrowed:
            __sizeof__ = bytearray.__sizeof__
            def __init__(self):
                self.a = 1

        class BorrowedDict:
            __sizeof__ = dict.__sizeof__

        class Same:
            def __init__(self):
                self.a = 1

        keep = [Borrowed() for _ in range(100)] + [BorrowedDict() for _ in range(100)]
        try:
            sys.getsizeof(keep[0])
            refused = False
        except TypeError:
            refused = True
        c = leaktrace.census()
        print(json.dumps({"refused": refused, "count": c.get(Borrowed)[0], "bytes": c.get(Borrowed)[1],
                          "dict_count": c.get(BorrowedDict)[0],
                          "sizeof": _core.sizeof(keep[0]), "expected": sys.getsizeof(Same())}), flush=True)
    """)
    assert rc == 0, "the interpreter died (exit %r):\n%s" % (rc, stderr[-3000:])
    out = json.loads(lines[-1])
    assert out["refused"] is True
    assert out["count"] == 100 and out["dict_count"] == 100
    assert out["sizeof"] == out["expected"], out
    assert out["bytes"] == 100 * out["expected"], out


# ---- huge objects and heaps --------------------------------------------------------------

def test_a_100_mib_bytes_object():
    cp = leaktrace.Checkpoint()
    holder = [b"\0" * (100 * 1024 * 1024)]
    size = sys.getsizeof(holder[0])
    assert _core.sizeof(holder[0]) == size
    c = leaktrace.census()
    assert c.get(bytes)[1] >= size
    assert c.top(1)[0][0] == "bytes"
    assert any(o is holder[0] for o in leaktrace.new_objects(bytes, since=cp, limit=10 ** 6))
    delta = {d.type: d for d in c.diff(cp)}
    assert delta["bytes"].bytes_delta >= size
    del holder


# The bound documented for the census and checkpoints of a big heap: at most
# one pointer's worth (8 bytes) per live object plus 32 MiB, at peak and
# retained by a Checkpoint. Measured on 3.9-3.13: about 0.3 byte per object
# (an address bitmap). A hash set holding every object's address (16-32
# bytes per object) breaks it.
BYTES_PER_OBJECT = 8
FIXED_OVERHEAD = 32 * 1024 * 1024

TEN_MILLION = """
    import json, time
    import leaktrace

    def hwm():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024

    def reset_hwm():
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    class Record:
        __slots__ = ("value",)

    floats = [float(i) for i in range(7_000_000)]           # untracked, behind one list
    records = [Record() for _ in range(3_000_000)]          # tracked
    out = {}
    base = leaktrace.process_facts()["rss"]
    out["can_reset"] = reset_hwm()
    t = time.monotonic()
    c = leaktrace.census()
    out["census_s"] = time.monotonic() - t
    out["census_peak"] = hwm() - base
    out["total"] = c.total_count
    out["floats"] = c.get(float)[0]
    out["records"] = c.get(Record)[0]
    del c
    base = leaktrace.process_facts()["rss"]
    reset_hwm()
    t = time.monotonic()
    cp = leaktrace.Checkpoint()
    out["checkpoint_s"] = time.monotonic() - t
    out["checkpoint_peak"] = hwm() - base
    out["checkpoint_retained"] = leaktrace.process_facts()["rss"] - base
    out["footprint"] = cp.footprint
    out["remembered"] = len(cp) == cp.census.total_count
    print(json.dumps(out), flush=True)
    import os
    os._exit(0)
"""


def test_ten_million_objects():
    rc, lines, stderr = run_child(TEN_MILLION, timeout=180)
    assert rc == 0 and lines, "exit %r:\n%s" % (rc, stderr[-3000:])
    out = json.loads(lines[-1])
    n = out["total"]
    assert n >= 10_000_000 and out["floats"] >= 7_000_000 and out["records"] == 3_000_000, out
    assert out["remembered"] is True
    bound = BYTES_PER_OBJECT * n + FIXED_OVERHEAD
    assert out["footprint"] <= bound, out
    assert out["checkpoint_retained"] <= bound, out
    assert out["census_s"] < 20 and out["checkpoint_s"] < 20, out
    if not out["can_reset"]:
        pytest.skip("cannot reset VmHWM (/proc/self/clear_refs not writable): peak bound not checked")
    assert out["census_peak"] <= bound, out
    assert out["checkpoint_peak"] <= bound, out


DEEP = """
    import gc, json, sys
    import leaktrace

    sys.setrecursionlimit(1000)          # anything recursive in Python would fail at once
    N = 1_000_000

    class Link:
        __slots__ = ("next", "__weakref__")

    def chain(n):
        head = None
        for _ in range(n):
            link = Link()
            link.next = head
            head = link
        return head

    def nested(n):
        deep = []
        for _ in range(n):
            deep = [deep]
        return deep

    def nth(link, k):
        for _ in range(k):
            link = link.next
        return link

    def innermost(deep):
        while deep:
            deep = deep[0]
        return deep

    # Only the globals `head` and `deep` hold the structures: the objects asked
    # about below are referenced by nothing else but the argument list.
    gc.disable()
    cp = leaktrace.Checkpoint()
    head = chain(N)
    deep = nested(N)
    out = {"step": "walks"}
    c = leaktrace.census()
    out["links"] = c.get(Link)[0]
    out["lists"] = c.get(list)[0]
    out["new"] = len(leaktrace.new_objects(Link, since=cp, limit=10))
    out["remembered"] = len(leaktrace.Checkpoint()) >= 2 * N
    print(json.dumps(out), flush=True)
    try:
        from leaktrace import holder_paths
    except ImportError as exc:
        print(json.dumps({"step": "holder", "error": str(exc)}), flush=True)
    else:
        out = {"step": "holder"}
        out["near"] = holder_paths([nth(head, 2)], max_paths=1)
        out["tail"] = holder_paths([nth(head, N - 1)], max_paths=1)
        out["innermost"] = holder_paths([innermost(deep)], max_paths=1)
        out["tail_deep"] = len((holder_paths([nth(head, N - 1)], max_paths=1, max_depth=2 * N) or [[]])[0])
        print(json.dumps(out), flush=True)
    # Now make both garbage cycles: only the collector could free them.
    nth(head, N - 1).next = head
    innermost(deep).append(deep)
    del head, deep
    cyc = leaktrace.cyclic_garbage()
    print(json.dumps({"step": "cyclic", "links": cyc.get("__main__.Link", [0])[0],
                      "lists": cyc.get("list", [0])[0]}), flush=True)
    import os
    os._exit(0)
"""


@pytest.fixture(scope="module")
def deep_run():
    return run_child(DEEP, timeout=120)


def test_million_long_chain_and_million_deep_nesting(deep_run):
    rc, lines, stderr = deep_run
    steps = _steps(lines)
    assert "walks" in steps and "cyclic" in steps, "exit %r:\n%s" % (rc, stderr[-3000:])
    walks = steps["walks"]
    assert walks["links"] == 1_000_000
    assert walks["lists"] >= 1_000_001
    assert walks["new"] == 10 and walks["remembered"] is True
    assert steps["cyclic"]["links"] == 1_000_000
    assert steps["cyclic"]["lists"] >= 1_000_001
    assert rc == 0


def test_holder_paths_on_a_million_long_chain_and_deep_nesting(deep_run):
    rc, lines, stderr = deep_run
    steps = _steps(lines)
    assert "holder" in steps, "exit %r:\n%s" % (rc, stderr[-3000:])
    holder = steps["holder"]
    assert "error" not in holder, holder["error"]
    near = holder["near"]
    assert near and near[0][0] == "module __main__" and near[0][1] == ".head", near
    assert [e for e in near[0][2:]] == [".next", ".next"], near
    # Beyond max_depth (64) no path is reported, and nothing overflows.
    assert holder["tail"] == [] or all(len(p) <= 65 for p in holder["tail"]), holder["tail"][:1]
    assert holder["innermost"] == [] or all(len(p) <= 65 for p in holder["innermost"])
    # With a depth limit above the chain, the path is found: global + 999 999 links + 1.
    assert holder["tail_deep"] >= 1_000_000

"""census(), Census, Checkpoint, TypeDelta, new_objects() and sizeof().

Counts are checked exactly where the test controls every allocation between
two censuses, and against sys.getsizeof for sizes.
"""
import array
import collections
import datetime
import decimal
import fractions
import gc
import io
import re
import sys
import threading
import time
import types
import weakref

import pytest

import leaktrace
from leaktrace import _core


def type_name(tp):
    """The census's name for a type: module.QualName, builtins bare."""
    module = type.__getattribute__(tp, "__module__")
    qual = type.__getattribute__(tp, "__qualname__")
    return qual if module == "builtins" else "%s.%s" % (module, qual)


def make_module(name, source):
    mod = types.ModuleType(name)
    exec(compile(source, "<%s>" % name, "exec"), mod.__dict__)
    return mod


class Widget:
    def __init__(self, n):
        self.n = n


class Outer:
    class Inner:
        class Deepest:
            pass


# ---- the public surface ------------------------------------------------------

README_API = ["census", "Census", "Checkpoint", "TypeDelta", "new_objects", "holder_paths", "holder_graph",
              "gc_state", "cyclic_garbage", "process_facts", "open_fds"]


@pytest.mark.parametrize("name", README_API)
def test_readme_api_is_exported(name):
    assert name in leaktrace.__all__
    assert hasattr(leaktrace, name), "leaktrace.%s is in the README table but not exported" % name


def test_all_names_exist():
    missing = [name for name in leaktrace.__all__ if not hasattr(leaktrace, name)]
    assert not missing, "leaktrace.__all__ lists missing names (from leaktrace import * fails): %r" % missing


# ---- Census basics -------------------------------------------------------------

def test_census_totals_are_consistent():
    c = leaktrace.census()
    assert isinstance(c, leaktrace.Census)
    types_ = c.types()
    assert isinstance(types_, dict) and len(c) == len(types_) > 50
    assert c.total_count == sum(n for n, _ in types_.values())
    assert c.total_bytes == sum(b for _, b in types_.values())
    assert 0 < c.tracked_count < c.total_count
    assert all(isinstance(k, str) and n > 0 and b > 0 for k, (n, b) in types_.items())
    assert re.fullmatch(r"<Census %d objects, %d bytes, %d types>" % (c.total_count, c.total_bytes, len(c)),
                        repr(c))


def test_tracked_count_matches_gc_get_objects():
    gc.collect()
    gc.disable()
    # gc.get_objects() leaves out the permanent generation of gc.freeze(),
    # which the census counts (3.12 starts with a few hundred frozen objects).
    expected = len(gc.get_objects()) + gc.get_freeze_count()
    c = leaktrace.census()
    # The only tracked objects created in between: none that survive (the list
    # gc.get_objects returned is freed before the census).
    assert abs(c.tracked_count - expected) <= 5, (c.tracked_count, expected)


def test_census_time_is_the_monotonic_clock():
    before = time.monotonic()
    c = leaktrace.census()
    after = time.monotonic()
    assert before <= c.time <= after


def test_census_is_immutable():
    c = leaktrace.census()
    with pytest.raises(AttributeError):
        c.total_count = 1
    with pytest.raises(AttributeError):
        c.anything = 1


def test_census_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        leaktrace.census(True)
    with pytest.raises(TypeError):
        leaktrace.Checkpoint(True)


# ---- exact counts -------------------------------------------------------------

def test_counts_instances_of_a_class_exactly():
    Fresh = type("Fresh", (), {"__init__": lambda self, n: setattr(self, "n", n)})
    objs = [Fresh(i) for i in range(1234)]
    c = leaktrace.census()
    size = sys.getsizeof(objs[0])
    assert c.get(Fresh) == (1234, 1234 * size)
    assert c.get(type_name(Fresh)) == (1234, 1234 * size)
    assert Fresh in c and type_name(Fresh) in c
    del objs
    c2 = leaktrace.census()
    assert c2.get(Fresh) == (0, 0) and Fresh not in c2


def test_counts_untracked_objects():
    gc.collect()
    gc.disable()
    n = 1000
    before = leaktrace.census()
    floats = [i + 0.5 for i in range(n)]
    big_ints = [(1 << 40) + i for i in range(n)]
    blobs = [b"blob-%06d" % i for i in range(n)]
    dicts = [{"amount": f} for f in floats]           # atomic values: never tracked
    assert not any(gc.is_tracked(d) for d in dicts)
    after = leaktrace.census()
    delta = {d.type: d for d in after.diff(before)}
    assert delta["float"].count_delta == n
    assert delta["float"].bytes_delta == sum(sys.getsizeof(f) for f in floats)
    assert delta["int"].count_delta == n
    assert delta["int"].bytes_delta == sum(sys.getsizeof(i) for i in big_ints)
    assert delta["bytes"].count_delta == n
    assert delta["dict"].count_delta == n
    assert delta["list"].count_delta == 4
    assert after.tracked_count - before.tracked_count == 4     # the lists only


def test_counts_objects_behind_untracked_containers():
    """Tuples the collector has untracked, nested, still lead to what they hold."""
    holder = [((i + 0.25, ("deep-%d" % i, i + 0.75)),) for i in range(300)]
    for _ in range(3):      # each pass untracks one more level of tuples
        gc.collect()
    assert not gc.is_tracked(holder[0]) and not gc.is_tracked(holder[0][0][1])
    c = leaktrace.census()
    floats = c.get(float)[0]
    del holder
    c2 = leaktrace.census()
    assert floats - c2.get(float)[0] == 600
    assert c.get(tuple)[0] - c2.get(tuple)[0] == 900


def test_each_object_is_counted_once():
    shared = float("12345.678e9")           # made at run time: no code constant holds it
    anchor = [shared]                       # a tracked holder that outlives both censuses
    refs = [[shared] for _ in range(500)] + [(shared,) * 50]
    gc.collect()
    c = leaktrace.census()
    del refs
    c2 = leaktrace.census()
    assert c.get(float)[0] - c2.get(float)[0] == 0     # `shared` is still alive, counted once
    assert c.get(list)[0] - c2.get(list)[0] == 501
    del anchor


def test_counts_objects_held_only_by_a_running_frame():
    """README: every live object. An untracked object that only a local
    variable of a running function holds is live too (scenario 13: one giant
    object in a request handler)."""

    def handler():
        payload = b"\0" * (32 * 1024 * 1024)
        return leaktrace.census().get(bytes)[1], len(payload)

    with_blob, size = handler()
    without = leaktrace.census().get(bytes)[1]
    assert with_blob - without >= size, (
        "a 32 MiB bytes object held by a running frame's local is missing from the census "
        "(bytes total %d with it, %d without)" % (with_blob, without))


def test_counts_constants_held_by_code_objects():
    """Code objects are not gc containers: the constants, names and bytecode
    they hold are live objects all the same (every function's literals)."""
    before = leaktrace.census().get(bytes)[1]
    code = compile("payload = " + repr(b"z" * (8 * 1024 * 1024)), "<generated>", "exec")
    gc.collect()
    with_code = leaktrace.census().get(bytes)[1]
    assert with_code - before >= 8 * 1024 * 1024, (
        "an 8 MiB bytes constant held by a live code object is missing from the census")
    del code


def test_counts_frozen_objects():
    """gc.freeze() moves objects to the permanent generation; they are still live."""
    Frozen = type("Frozen", (), {})
    objs = [Frozen() for _ in range(500)]
    assert leaktrace.census().get(Frozen)[0] == 500
    gc.freeze()
    try:
        assert gc.get_freeze_count() > 0
        assert leaktrace.census().get(Frozen)[0] == 500, "objects frozen by gc.freeze() are not counted"
    finally:
        gc.unfreeze()
    del objs


# ---- names ---------------------------------------------------------------------

def test_builtin_types_have_bare_names():
    c = leaktrace.census()
    for name in ["dict", "list", "tuple", "str", "int", "function", "code", "type", "module"]:
        assert name in c, name
    assert "builtins.dict" not in c
    assert c.get(dict) == c.get("dict")


def test_extension_types_use_their_dotted_name():
    keep = collections.deque([1]), io.BytesIO(b"x"), threading.Lock()
    c = leaktrace.census()
    for obj in keep:
        name = type_name(type(obj))
        assert "." in name and name in c, name
        assert c.get(type(obj)) == c.get(name)


def test_nested_and_local_classes_use_qualname():
    class Local:
        pass

    keep = [Outer.Inner(), Outer.Inner.Deepest(), Local()]
    c = leaktrace.census()
    module = __name__
    assert c.get(module + ".Outer.Inner")[0] == 1
    assert c.get(module + ".Outer.Inner.Deepest")[0] == 1
    assert c.get(module + ".test_nested_and_local_classes_use_qualname.<locals>.Local")[0] == 1
    assert c.get(module + ".Inner") == (0, 0)
    del keep


def test_same_class_name_in_two_modules_stays_apart():
    billing = make_module("billing", "class Foo:\n    pass\n")
    shipping = make_module("shipping", "class Foo:\n    __slots__ = ('a', 'b', 'c')\n")
    keep = [billing.Foo() for _ in range(3)] + [shipping.Foo() for _ in range(5)]
    c = leaktrace.census()
    assert c.get("billing.Foo") == (3, 3 * sys.getsizeof(keep[0]))
    assert c.get("shipping.Foo") == (5, 5 * sys.getsizeof(keep[-1]))
    assert c.get(billing.Foo) != c.get(shipping.Foo)


def test_distinct_types_with_one_name_share_one_row():
    factory = make_module("factory", "def make():\n    class Row:\n        pass\n    return Row\n")
    row_types = [factory.make() for _ in range(3)]
    keep = [t() for t in row_types for _ in range(4)]
    c = leaktrace.census()
    name = "factory.make.<locals>.Row"
    assert c.get(name)[0] == 12
    assert all(c.get(t)[0] == 12 for t in row_types)
    assert sum(1 for k in c.types() if k == name) == 1
    del keep


def test_renamed_class_is_counted_under_its_current_name():
    Renamed = type("Before", (), {})
    Renamed.__qualname__ = "After"
    Renamed.__module__ = "payments"
    keep = [Renamed(), Renamed()]
    c = leaktrace.census()
    assert c.get("payments.After")[0] == 2
    assert c.get(Renamed)[0] == 2
    del keep


# ---- get / in / top --------------------------------------------------------------

def test_get_and_contains_for_missing_types():
    Never = type("NeverInstantiated", (), {})
    c = leaktrace.census()
    assert c.get(Never) == (0, 0)
    assert c.get("no.such.Type") == (0, 0)
    assert "no.such.Type" not in c and Never not in c


def test_top_orders_by_bytes_and_by_count():
    c = leaktrace.census()
    rows = c.types()
    top = c.top(5)
    assert len(top) == 5
    assert [t[2] for t in top] == sorted((t[2] for t in top), reverse=True)
    assert top[0][2] == max(b for _, b in rows.values())
    for name, count, nbytes in top:
        assert rows[name] == (count, nbytes)
    by_count = c.top(7, by="count")
    assert [t[1] for t in by_count] == sorted((t[1] for t in by_count), reverse=True)
    assert by_count[0][1] == max(n for n, _ in rows.values())
    assert len(c.top()) == 10
    assert len(c.top(10 ** 6)) == len(c)
    assert c.top(0) == []


# ---- diff and TypeDelta ----------------------------------------------------------

def test_diff_reports_growth_shrinkage_and_new_types():
    Appearing = type("Appearing", (), {})
    Vanishing = type("Vanishing", (), {})
    going = [Vanishing() for _ in range(7)]
    gc.collect()
    old = leaktrace.census()
    coming = [Appearing() for _ in range(11)]
    del going
    new = leaktrace.census()
    deltas = new.diff(old)
    assert all(isinstance(d, leaktrace.TypeDelta) for d in deltas)
    by_type = {d.type: d for d in deltas}
    app = by_type[type_name(Appearing)]
    assert (app.count_delta, app.count) == (11, 11)
    assert app.bytes_delta == app.bytes == 11 * sys.getsizeof(coming[0])
    van = by_type[type_name(Vanishing)]
    assert (van.count_delta, van.count, van.bytes) == (-7, 0, 0)
    assert van.bytes_delta < 0
    assert tuple(app) == (app.type, app.count_delta, app.bytes_delta, app.count, app.bytes)
    # Largest byte growth first; unchanged types left out.
    keys = [(d.bytes_delta, d.count_delta) for d in deltas]
    assert keys == sorted(keys, reverse=True)
    assert all(d.count_delta or d.bytes_delta for d in deltas)
    assert new.diff(new) == []


def test_diff_accepts_a_checkpoint_and_checkpoint_diff_matches():
    cp = leaktrace.Checkpoint()
    keep = [Widget(i) for i in range(50)]
    c = leaktrace.census()
    d1 = {d.type: d.count_delta for d in c.diff(cp)}
    d2 = {d.type: d.count_delta for d in c.diff(cp.census)}
    assert d1 == d2 and d1[type_name(Widget)] == 50
    cp2 = leaktrace.Checkpoint()
    assert {d.type: d.count_delta for d in cp2.diff(cp)}[type_name(Widget)] == 50
    del keep


# ---- Checkpoint --------------------------------------------------------------------

def test_checkpoint_remembers_every_object():
    cp = leaktrace.Checkpoint()
    assert isinstance(cp.census, leaktrace.Census)
    assert len(cp) == cp.census.total_count
    assert cp.time == cp.census.time
    assert 0 < cp.footprint <= 64 * len(cp) + (1 << 20), (cp.footprint, len(cp))
    assert re.fullmatch(r"<Checkpoint \d+ objects, \d+ bytes>", repr(cp))


def test_checkpoint_holds_no_references():
    victim = Widget(1)
    untracked = 98765.4321e10
    ref = weakref.ref(victim)
    holder = [untracked]
    refcount = sys.getrefcount(holder[0])
    cp = leaktrace.Checkpoint()
    refcount_after = sys.getrefcount(holder[0])
    del victim
    assert ref() is None
    assert refcount_after == refcount
    del cp


def test_checkpoint_collect_true_collects():
    gc.disable()
    node = Widget(0)
    node.me = node
    ref = weakref.ref(node)
    del node
    leaktrace.Checkpoint()
    assert ref() is not None
    gc.enable()
    leaktrace.Checkpoint(collect=True)
    assert ref() is None


# ---- new_objects ---------------------------------------------------------------------

class Ticket:
    # 20 slots: an allocation size few temporaries share, so a freed temporary's
    # address is unlikely to be reused for a new Ticket (new_objects' documented limit).
    __slots__ = tuple("f%d" % i for i in range(20))


class SubTicket(Ticket):
    __slots__ = ()


def test_new_objects_returns_exactly_the_new_ones():
    old = [Ticket() for _ in range(40)]
    cp = leaktrace.Checkpoint()
    new = [Ticket() for _ in range(25)]
    sub = [SubTicket() for _ in range(3)]
    got = leaktrace.new_objects(Ticket, since=cp, limit=1000)
    assert {id(o) for o in got} == {id(o) for o in new}
    assert all(type(o) is Ticket for o in got)              # matched exactly, no subclasses
    by_name = leaktrace.new_objects(type_name(Ticket), since=cp, limit=1000)
    assert {id(o) for o in by_name} == {id(o) for o in new}
    assert {id(o) for o in leaktrace.new_objects(SubTicket, since=cp)} == {id(o) for o in sub}
    del old


def test_new_objects_limit():
    cp = leaktrace.Checkpoint()
    new = [Ticket() for _ in range(30)]
    assert len(leaktrace.new_objects(Ticket, since=cp)) == 30          # default limit 100
    assert len(leaktrace.new_objects(Ticket, since=cp, limit=7)) == 7
    assert leaktrace.new_objects(Ticket, since=cp, limit=0) == []
    more = [Ticket() for _ in range(150)]
    assert len(leaktrace.new_objects(Ticket, since=cp)) == 100
    del new, more


def test_new_objects_finds_untracked_objects():
    cp = leaktrace.Checkpoint()
    keep = [float(i) + 0.125 for i in range(10)]
    got = leaktrace.new_objects(float, since=cp, limit=1000)
    assert {id(f) for f in keep} <= {id(f) for f in got}


def test_new_objects_of_a_type_with_no_new_instances():
    keep = [Ticket() for _ in range(5)]
    cp = leaktrace.Checkpoint()
    assert leaktrace.new_objects(Ticket, since=cp) == []
    assert leaktrace.new_objects("no.such.Type", since=cp) == []
    del keep


# ---- sizeof ------------------------------------------------------------------------------

class Plain:
    pass


class Slotted:
    __slots__ = ("a", "b")


class WithAttrs:
    def __init__(self):
        self.a, self.b, self.c = 1, [2], "three"


class MyList(list):
    pass


class MyDict(dict):
    pass


class MyInt(int):
    pass


class MyStr(str):
    pass


class MyTuple(tuple):
    pass


class MyBytes(bytes):
    pass


def _gen():
    yield 1


SIZEOF_SAMPLES = [
    0, 1, -1, 2 ** 30, 2 ** 100, -(2 ** 200), True, 1.5, 1j, "", "a", "é" * 10, "\U0001F600" * 5,
    b"", b"x" * 100, bytearray(b"abc" * 50), (), (1, 2, 3), [], [1] * 100, list(range(17)), {}, {"a": 1},
    {i: i for i in range(100)}, set(), set(range(50)), frozenset(range(9)), range(10), slice(1, 2), None,
    Ellipsis, collections.deque(range(100)), collections.OrderedDict(a=1), collections.defaultdict(list),
    array.array("d", range(30)), decimal.Decimal("1.1"), fractions.Fraction(1, 3), datetime.datetime(2024, 1, 1),
    re.compile("a+b"), _gen(), (lambda: 0), int, types.SimpleNamespace(a=1), memoryview(b"abc"),
    io.BytesIO(b"x" * 1000), threading.Lock(), sys, object(),
    Plain(), Slotted(), WithAttrs(), MyList([1, 2, 3]), MyDict(a=1), MyInt(5), MyInt(2 ** 100), MyStr("hello"),
    MyTuple((1, 2)), MyBytes(b"zz"), Plain,
]


@pytest.mark.parametrize("obj", SIZEOF_SAMPLES, ids=lambda o: type(o).__qualname__)
def test_sizeof_matches_sys_getsizeof(obj):
    assert _core.sizeof(obj) == sys.getsizeof(obj)


class Basket(list):
    pass


def test_census_bytes_are_sys_getsizeof():
    keep = [Basket(range(i % 7)) for i in range(100)]
    c = leaktrace.census()
    assert c.get(Basket) == (100, sum(sys.getsizeof(x) for x in keep))


class CountsSizeof:
    calls = 0

    def __sizeof__(self):
        CountsSizeof.calls += 1
        raise RuntimeError("user __sizeof__ must not run")


class SameLayoutAsCountsSizeof:
    pass


class IntWithSizeof(int):
    def __sizeof__(self):
        raise RuntimeError("user __sizeof__ must not run")


class IntSameLayout(int):
    pass


def test_user_sizeof_is_never_called():
    keep = [CountsSizeof() for _ in range(10)]
    c = leaktrace.census()
    assert _core.sizeof(keep[0]) == sys.getsizeof(SameLayoutAsCountsSizeof())
    assert c.get(CountsSizeof) == (10, 10 * sys.getsizeof(SameLayoutAsCountsSizeof()))
    leaktrace.Checkpoint()
    assert CountsSizeof.calls == 0


def test_user_sizeof_on_an_int_subclass_falls_back_to_the_int_layout():
    """With the user __sizeof__ skipped, the size is what sys.getsizeof gives for
    the same layout without it: int's own __sizeof__ plus the headers."""
    value = 2 ** 100
    assert _core.sizeof(IntWithSizeof(value)) == sys.getsizeof(IntSameLayout(value))


def test_counts_strings_held_only_as_dict_keys():
    # dict_traverse leaves out the keys of str-keyed dicts; the census must not.
    before = leaktrace.census().get("str")[0]
    table = {("only-a-key-%d-" % i) * 4: None for i in range(5000)}
    after = leaktrace.census().get("str")[0]
    assert after - before >= 5000
    del table

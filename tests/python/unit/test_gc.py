"""gc_state(), cyclic_garbage(), and how census() treats the collector.

Every test that builds garbage cycles does it with automatic collection off,
so that only the code under test could free them (conftest restores gc).
"""
import gc
import sys
import weakref

import pytest

import leaktrace


def type_name(tp):
    module = type.__getattribute__(tp, "__module__")
    qual = type.__getattribute__(tp, "__qualname__")
    return qual if module == "builtins" else "%s.%s" % (module, qual)


class Node:
    def __init__(self, label):
        self.label = label
        self.peer = None


class Finalized:
    finalized = 0

    def __init__(self):
        self.me = self

    def __del__(self):
        Finalized.finalized += 1


def make_pairs(n):
    """n garbage cycles of two Nodes, returns a weakref to one member. Only
    tracked objects (labels are cached small ints): what gc.collect() counts."""
    for i in range(n):
        a, b = Node(i % 200), Node(i % 200)
        a.peer, b.peer = b, a
    return weakref.ref(a)


def fresh_start():
    """Collect what is pending, then stop automatic collection."""
    gc.collect()
    gc.disable()


# ---- gc_state --------------------------------------------------------------------

def test_gc_state_mirrors_the_gc_module():
    gc.enable()
    gc.set_threshold(1234, 11, 12)
    state = leaktrace.gc_state()
    assert set(state) == {"enabled", "thresholds", "counts", "debug", "frozen", "garbage", "garbage_types"}
    assert state["enabled"] is True
    assert tuple(state["thresholds"]) == (1234, 11, 12)
    assert len(state["counts"]) == 3 and all(isinstance(n, int) and n >= 0 for n in state["counts"])
    assert state["debug"] == gc.get_debug()
    assert state["frozen"] == gc.get_freeze_count()
    assert state["garbage"] == len(gc.garbage)
    gc.disable()
    assert leaktrace.gc_state()["enabled"] is False


def test_gc_state_reports_frozen_objects():
    gc.freeze()
    assert leaktrace.gc_state()["frozen"] == gc.get_freeze_count() > 0


def test_gc_state_reports_saved_garbage_by_type():
    fresh_start()
    gc.set_debug(gc.DEBUG_SAVEALL)
    make_pairs(5)
    gc.collect()
    gc.set_debug(0)
    state = leaktrace.gc_state()
    assert state["debug"] == 0
    assert state["garbage"] == len(gc.garbage) > 0
    count, nbytes = state["garbage_types"][type_name(Node)]
    assert count == sum(1 for o in gc.garbage if type(o) is Node) == 10
    assert nbytes == 10 * sys.getsizeof(Node(0))
    assert sum(n for n, _ in state["garbage_types"].values()) == len(gc.garbage)


# ---- cyclic_garbage -----------------------------------------------------------------

def test_cyclic_garbage_is_empty_right_after_a_collection():
    fresh_start()
    assert leaktrace.cyclic_garbage() == {}


def test_cyclic_garbage_counts_what_gc_collect_then_finds():
    fresh_start()
    make_pairs(200)
    ring = [[] for _ in range(50)]                   # a ring of lists
    for i, lst in enumerate(ring):
        lst.append(ring[(i + 1) % len(ring)])
    selfref = {}
    selfref["me"] = selfref
    hanging = Node(0)
    hanging.peer = hanging
    hanging.payload = [Node(i) for i in range(30)]   # acyclic, only the cycle holds it
    for _ in range(10):
        Finalized()
    del ring, selfref, hanging, lst
    found = leaktrace.cyclic_garbage()
    total = sum(n for n, _ in found.values())
    assert found[type_name(Node)][0] == 400 + 1 + 30
    assert found[type_name(Finalized)][0] == 10
    assert found["list"][0] >= 51
    # gc.collect() counts the tracked objects it frees; cyclic_garbage also
    # counts the untracked ones only those held (the instances' atomic
    # dicts, say), which die with them.
    assert 0 < gc.collect() <= total, found


def test_cyclic_garbage_sizes_are_sys_getsizeof():
    fresh_start()
    make_pairs(10)
    found = leaktrace.cyclic_garbage()
    assert found[type_name(Node)] == (20, 20 * sys.getsizeof(Node(0)))


def test_cyclic_garbage_counts_untracked_objects_only_cycles_hold():
    """README: objects only reference cycles keep alive, what gc would free now.
    The 1 MiB buffers below are freed the moment their cycles are: a report
    that leaves them out understates the garbage 20000-fold."""
    fresh_start()
    for i in range(10):
        n = Node(i)
        n.peer = n
        n.buffer = b"q" * (1024 * 1024) + bytes([i])
    del n
    found = leaktrace.cyclic_garbage()
    assert found[type_name(Node)][0] == 10
    assert "bytes" in found, "bytes held only by garbage cycles are not reported: %r" % found
    assert found["bytes"][0] == 10 and found["bytes"][1] >= 10 * 1024 * 1024


def test_cyclic_garbage_frees_nothing_and_runs_no_finalizer():
    fresh_start()
    ref = make_pairs(100)
    for _ in range(5):
        Finalized()
    fin_ref = weakref.ref(Finalized())
    finalized = Finalized.finalized
    garbage = len(gc.garbage)
    for _ in range(3):
        leaktrace.cyclic_garbage()
    assert ref() is not None and fin_ref() is not None
    assert Finalized.finalized == finalized
    assert len(gc.garbage) == garbage
    assert gc.isenabled() is False
    # The control: these were garbage, a real collection frees them.
    gc.collect()
    assert ref() is None and fin_ref() is None
    assert Finalized.finalized == finalized + 6


def test_cyclic_garbage_keeps_the_collector_state():
    gc.enable()
    leaktrace.cyclic_garbage()
    assert gc.isenabled() is True
    gc.disable()
    leaktrace.cyclic_garbage()
    assert gc.isenabled() is False


def test_reachable_cycles_are_not_garbage():
    fresh_start()
    held = Node(1)
    held.peer = held
    module_level = sys.modules[__name__]
    module_level.HELD_BY_MODULE = Node(2)
    module_level.HELD_BY_MODULE.peer = module_level.HELD_BY_MODULE
    try:
        only_from_garbage = Node(3)
        only_from_garbage.peer = held                # garbage pointing at a live cycle
        only_from_garbage.me = only_from_garbage
        del only_from_garbage
        found = leaktrace.cyclic_garbage()
        assert found.get(type_name(Node), (0, 0))[0] == 1
    finally:
        del module_level.HELD_BY_MODULE
    assert held.peer is held


# ---- census and collection -------------------------------------------------------------

def test_census_collect_true_collects():
    fresh_start()
    ref = make_pairs(3)
    leaktrace.census()
    assert ref() is not None
    gc.enable()
    leaktrace.census(collect=True)
    assert ref() is None


def test_census_collect_true_collects_with_gc_disabled():
    """gc.collect() works with automatic collection off; so must collect=True
    (the gc-disabled services of scenario 1 are where it matters)."""
    fresh_start()
    ref = make_pairs(3)
    leaktrace.census(collect=True)
    assert ref() is None, "census(collect=True) did not collect while gc was disabled"
    assert gc.isenabled() is False


def test_census_keeps_the_collector_state():
    gc.enable()
    leaktrace.census()
    leaktrace.Checkpoint()
    assert gc.isenabled() is True
    gc.disable()
    leaktrace.census()
    leaktrace.Checkpoint()
    assert gc.isenabled() is False


def _many_types(n):
    kinds = [type("Kind%d" % i, (), {}) for i in range(n)]
    return [k() for k in kinds for _ in range(3)]


def _prime_free_lists():
    """Fill the dict and small-tuple free lists, so that passing arguments to a
    C function (a tuple and a kwargs dict) reuses memory instead of allocating
    tracked objects, and drain the list free list, so that a list the function
    under test creates is a real allocation. Returns what must stay alive."""
    for _ in range(3):
        dicts = [{} for _ in range(200)]
        tuples = [(i,) for i in range(200)] + [(i, i) for i in range(200)]
        del dicts, tuples
    return [[] for _ in range(400)]


@pytest.mark.parametrize("name", ["census", "census(collect=False)", "Checkpoint", "new_objects",
                                  "cyclic_garbage"])
def test_walks_never_trigger_a_collection(name):
    """With threshold 1 any tracked allocation while the collector is enabled
    starts a collection. Garbage cycles are pending (a collection would free
    them and fire gc.callbacks), the heap has hundreds of types (a name each
    to make) and thousands of new objects (new_objects appends them all).
    Between entering and leaving the call nothing may collect: a collection
    would run the program's finalizers inside leaktrace (STYLE.md: walking the
    heap runs no user code). census(collect=False) is called with keywords as
    new_objects is, which shows that passing the arguments allocates nothing."""
    fresh_start()
    keep = _many_types(300)
    checkpoint = leaktrace.Checkpoint()
    keep += [Node(i) for i in range(5000)]
    ref = make_pairs(2000)           # gen-0 count far above the threshold
    events = []
    gc.callbacks.append(lambda phase, info: events.append(phase))
    drained = _prime_free_lists()
    gc.set_threshold(1, 1, 1)
    gc.enable()
    # Direct calls only: a Python-level wrapper would allocate a frame on 3.9/3.10.
    if name == "census":
        leaktrace.census()
    elif name == "census(collect=False)":      # passes keywords the way new_objects gets since=
        leaktrace.census(collect=False)
    elif name == "Checkpoint":
        leaktrace.Checkpoint()
    elif name == "new_objects":
        leaktrace.new_objects(Node, since=checkpoint, limit=10 ** 6)
    elif name == "cyclic_garbage":
        leaktrace.cyclic_garbage()
    alive = ref() is not None
    seen = len(events)
    gc.disable()
    assert seen == 0 and alive, "a collection ran inside %s() (%d callback events)" % (name, seen)
    # The control: in this set-up one tracked allocation does start a collection.
    gc.enable()
    for _ in range(3):
        junk = [[]]
    gc.disable()
    assert events and ref() is None, "the set-up failed to trigger a collection: the test proves nothing"
    del junk, keep, drained

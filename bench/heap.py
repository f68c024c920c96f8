"""Deterministic benchmark heaps: N live objects of a realistic mix.

Each unit adds exactly UNIT_OBJECTS new objects: a class instance with
attributes and its __dict__, two str, three int, a list, a dict and a tuple.
Of these only the instance, its __dict__ and the list stay tracked by the
collector (the other dict holds only atomic values and is never tracked; the
tuple is untracked by the first collection that sees it), which is the usual
shape of a real heap: most objects are strings and numbers that objgraph
never sees.

The instance's __dict__ is made at once. From 3.11 an instance keeps its
attributes inline until something asks for __dict__ (vars(), pickle, copy,
guppy3's heap() on its first pass); made up front, the heap is the same for
every tool and every round, and the same on 3.9 and 3.10, where every
instance has one.

Everything is reachable from module globals of this module, so every tool
finds a short path from a root. The same size always gives the same heap.
"""

import gc

UNIT_OBJECTS = 10

# The heap: lists of Record, one list per add_units() call. Module globals,
# so holder paths start at "module heap".
RECORDS = []
# A deep object: DEEP -> ['chain'] -> [0] -> .child -> ... (see build_deep).
DEEP = {}
# Objects added by the growth benchmark between its two snapshots.
GROWTH = []


class Record:
    """A class instance with attributes."""

    def __init__(self, i):
        self.name = "item-%d" % i                  # str
        self.value = 1_000_000 + i                 # int (not a cached small int)
        self.tags = [self.name, 2_000_000 + i]     # list, int
        self.meta = {"k": 3_000_000 + i, "s": "m%d" % i}   # dict, int, str
        self.pair = (self.value, self.name)        # tuple
        self.__dict__                              # the instance dict (see above)


class Node:
    """A link of the deep chain."""

    def __init__(self, child=None):
        self.child = child


def add_units(units, start=0):
    """Adds `units` Records (units * UNIT_OBJECTS objects) numbered from
    `start`, as one new list in RECORDS. Returns that list."""
    chunk = [Record(i) for i in range(start, start + units)]
    RECORDS.append(chunk)
    return chunk


def grow_to(n_objects):
    """Grows the heap to hold (about) n_objects benchmark objects."""
    have = sum(len(c) for c in RECORDS)
    want = n_objects // UNIT_OBJECTS
    if want > have:
        add_units(want - have, start=have)
    # One full collection so that atomic tuples are untracked, as they would
    # be in a program that has been running for a while.
    gc.collect()


def unit_count():
    return sum(len(c) for c in RECORDS)


def build_deep(depth=24):
    """A target object `depth` edges below the module global DEEP, through
    attributes, list items and dict values in turn. Returns the target."""
    target = Record(-1)
    obj = target
    for level in range(depth - 1):
        kind = level % 3
        if kind == 0:
            obj = Node(obj)
        elif kind == 1:
            obj = [obj]
        else:
            obj = {"next%d" % level: obj}
    DEEP["chain"] = obj
    return target


def deep_target():
    """The object at the end of the DEEP chain (build_deep first)."""
    obj = DEEP["chain"]
    while not isinstance(obj, Record):
        if isinstance(obj, Node):
            obj = obj.child
        elif isinstance(obj, list):
            obj = obj[0]
        else:
            (obj,) = obj.values()
    return obj


def spread_target(j, k=10):
    """The j-th of k Records spread evenly over the heap. Looked up afresh
    each time so that no frame of the benchmark holds the targets (a
    tool that searches frames would otherwise find them there)."""
    idx = (unit_count() * (2 * j + 1)) // (2 * k)
    for chunk in RECORDS:
        if idx < len(chunk):
            return chunk[idx]
        idx -= len(chunk)
    raise IndexError(j)


def add_growth(units, start):
    """The growth benchmark's new objects: held by GROWTH."""
    GROWTH.append([Record(i) for i in range(start, start + units)])


def clear_growth():
    GROWTH.clear()
    gc.collect()

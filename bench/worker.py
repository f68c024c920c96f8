"""One benchmark process: builds a heap of --objects live objects, then runs
every tool on that same heap, interleaved round by round, and appends one
JSON line per measurement to --out. run.py starts one per heap size and
turns the lines into docs/benchmarks.md.

Each call runs under a SIGALRM time limit (the tools compared are Python
loops, which an alarm interrupts), and a tool stops being repeated once its
time budget is spent, so one slow tool cannot hang the run; run.py also
kills the whole process past its own deadline.
"""

import argparse
import contextlib
import gc
import json
import os
import signal
import sys
import time
import traceback

import heap

# Imported before the heap is built, so every tool sees the same heap,
# including the other tools' modules.
import leaktrace
import objgraph
from guppy import hpy
from pympler import muppy, summary

pc = time.perf_counter

# How many objects the growth benchmark adds between its two snapshots.
GROWTH_UNITS = 10_000


class CallTimeout(Exception):
    pass


def on_alarm(signum, frame):
    raise CallTimeout()


@contextlib.contextmanager
def time_limit(seconds):
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


# ---- the tools ------------------------------------------------------------
# Each returns (seconds, info): only the tool's own calls are timed, and info
# holds plain numbers and strings, never a reference to a heap object.

def census_leaktrace():
    t0 = pc()
    c = leaktrace.census()
    t = pc() - t0
    return t, {"objects": c.total_count, "bytes": c.total_bytes, "tracked": c.tracked_count}


def census_objgraph():
    t0 = pc()
    stats = objgraph.typestats()
    t = pc() - t0
    return t, {"objects": sum(stats.values())}


def census_pympler():
    t0 = pc()
    rows = summary.summarize(muppy.get_objects())
    t = pc() - t0
    return t, {"objects": sum(r[1] for r in rows), "bytes": sum(r[2] for r in rows)}


def census_guppy():
    t0 = pc()
    h = hpy().heap()
    t = pc() - t0
    return t, {"objects": h.count, "bytes": h.size}


CENSUS_TOOLS = [
    ("leaktrace", "leaktrace.census()", census_leaktrace),
    ("objgraph", "objgraph.typestats()", census_objgraph),
    ("pympler", "summary.summarize(muppy.get_objects())", census_pympler),
    ("guppy3", "hpy().heap()", census_guppy),
]


def grow():
    heap.add_growth(GROWTH_UNITS, start=10_000_000)


def growth_info(rows, record_name):
    """rows: (type name, count delta) of the types that grew."""
    rows = [(n, d) for n, d in rows if d > 0]
    return {
        "types_grown": len(rows),
        "objects_grown": sum(d for _, d in rows),
        "record_delta": sum(d for n, d in rows if n == record_name),
        "expected": GROWTH_UNITS * heap.UNIT_OBJECTS,
    }


def growth_leaktrace(collect):
    t0 = pc()
    before = leaktrace.Checkpoint(collect=collect)
    t1 = pc()
    grow()
    t2 = pc()
    deltas = leaktrace.census(collect=collect).diff(before)
    t3 = pc()
    del before
    heap.clear_growth()
    return (t1 - t0) + (t3 - t2), growth_info([(d.type, d.count_delta) for d in deltas], "heap.Record")


def growth_objgraph():
    peak = {}
    t0 = pc()
    objgraph.growth(limit=None, peak_stats=peak)
    t1 = pc()
    grow()
    t2 = pc()
    rows = objgraph.growth(limit=None, peak_stats=peak)
    t3 = pc()
    heap.clear_growth()
    return (t1 - t0) + (t3 - t2), growth_info([(n, d) for n, _, d in rows], "Record")


GROWTH_TOOLS = [
    ("leaktrace", "Checkpoint(); ...; census().diff(checkpoint)", lambda: growth_leaktrace(False)),
    ("leaktrace (collect=True)", "Checkpoint(collect=True); ...; census(collect=True).diff(checkpoint)",
     lambda: growth_leaktrace(True)),
    ("objgraph", "growth(limit=None); ...; growth(limit=None)", growth_objgraph),
]

# Holder paths. The targets are looked up inside the call's argument list
# (heap.deep_target(), heap.spread_target(j)), so no local variable of a
# benchmark frame holds them: a tool that searches frames would otherwise
# report the benchmark's own frame as the holder.

N_TARGETS = 10


def paths_leaktrace(deep):
    t0 = pc()
    if deep:
        paths = leaktrace.holder_paths([heap.deep_target()], max_paths=1, max_depth=64)
    else:
        paths = leaktrace.holder_paths([heap.spread_target(j, N_TARGETS) for j in range(N_TARGETS)],
                                       max_paths=N_TARGETS, max_depth=64)
    t = pc() - t0
    return t, {"paths": len(paths), "lengths": [len(p) for p in paths],
               "example": " -> ".join(paths[0]) if paths else None}


def chain_text(chain):
    out = []
    for o in chain:
        out.append("module %s" % o.__name__ if type(o).__name__ == "module" else type(o).__name__)
    return " -> ".join(out)


def paths_objgraph(deep):
    lengths = []
    example = None
    t = 0.0
    for j in range(1 if deep else N_TARGETS):
        t0 = pc()
        if deep:
            chain = objgraph.find_backref_chain(heap.deep_target(), objgraph.is_proper_module, max_depth=64)
        else:
            chain = objgraph.find_backref_chain(heap.spread_target(j, N_TARGETS), objgraph.is_proper_module,
                                                max_depth=64)
        t += pc() - t0
        # A chain of one object means none was found.
        lengths.append(len(chain) if len(chain) > 1 else 0)
        if example is None:
            example = chain_text(chain)
        del chain
    return t, {"paths": sum(1 for n in lengths if n), "lengths": lengths, "example": example}


def paths_guppy(deep):
    lengths = []
    example = None
    t0 = pc()
    hp = hpy()      # one per measurement: its reference graph is reused across targets
    for j in range(1 if deep else N_TARGETS):
        if deep:
            text = str(hp.iso(heap.deep_target()).sp)
        else:
            text = str(hp.iso(heap.spread_target(j, N_TARGETS)).sp)
        first = text.strip().splitlines()[0] if text.strip() else ""
        lengths.append(1 if "Root" in first else 0)
        if example is None:
            example = first.split(":", 1)[-1].strip()
    t = pc() - t0
    del hp
    return t, {"paths": sum(lengths), "example": example}


PATH_TOOLS = [
    ("leaktrace", "holder_paths(targets, max_depth=64)", paths_leaktrace),
    ("objgraph", "find_backref_chain(t, is_proper_module, max_depth=64) per target", paths_objgraph),
    ("guppy3", "hp.iso(t).sp per target, one hpy()", paths_guppy),
]

# ---- measuring ------------------------------------------------------------


class Recorder:
    def __init__(self, path, size):
        self.f = open(path, "a")
        self.size = size

    def emit(self, **rec):
        rec.setdefault("heap", self.size)
        self.f.write(json.dumps(rec) + "\n")
        self.f.flush()


def measure(rec, bench, tools, rounds, budget, call_limit):
    """Runs a warm-up round, then `rounds` rounds; each round runs every tool
    once, in an order rotated by one each round, so no tool always runs first
    or last. A tool that has used `budget` seconds (the warm-up included),
    failed or timed out is not run again."""
    spent = {name: 0.0 for name, _, _ in tools}
    stopped = set()
    # Round -1 is an untimed warm-up: a tool's first call may change the
    # heap or the interpreter's lazy state for whoever runs next.
    for r in range(-1, rounds):
        k = r % len(tools)
        for name, call, fn in tools[k:] + tools[:k]:
            if name in stopped:
                continue
            if r > 0 and spent[name] >= budget:
                stopped.add(name)
                rec.emit(bench=bench, tool=name, call=call, status="budget",
                         note="stopped repeating: %.0f s used of a %.0f s budget" % (spent[name], budget))
                continue
            gc.collect()
            status, secs, info = "ok", None, {}
            try:
                with time_limit(call_limit):
                    secs, info = fn()
            except CallTimeout:
                status, secs = "timeout", call_limit
                stopped.add(name)
            except Exception as e:  # a tool's failure is a result, not a crash
                status = "error: %s: %s" % (type(e).__name__, e)
                traceback.print_exc()
                stopped.add(name)
            spent[name] += secs or 0.0
            if r < 0 and status == "ok":
                continue
            rec.emit(bench=bench, tool=name, call=call, round=r, status=status, seconds=secs, info=info)
            print("  %-9s %-26s round %d: %s %s" % (bench, name, r, status,
                                                    "%.4f s" % secs if secs is not None else ""), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--objects", type=int, required=True, help="live objects to build")
    ap.add_argument("--out", required=True, help="JSON lines file to append to")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per tool and benchmark before it stops repeating")
    ap.add_argument("--call-limit", type=float, default=150.0, help="seconds one call may take")
    ap.add_argument("--only", default="census,growth,paths")
    args = ap.parse_args()
    only = set(args.only.split(","))
    rec = Recorder(args.out, args.objects)

    base = leaktrace.census()
    t0 = pc()
    heap.grow_to(args.objects)
    built = pc() - t0
    after = leaktrace.census()
    rec.emit(bench="heap", objects=args.objects, units=heap.unit_count(), build_seconds=built,
             census_before=base.total_count, census_after=after.total_count,
             tracked_after=after.tracked_count, gc_objects=len(gc.get_objects()),
             python=sys.version, pid=os.getpid())
    del base, after
    print("heap of %d objects built in %.1f s" % (args.objects, built), flush=True)

    if "census" in only:
        measure(rec, "census", CENSUS_TOOLS, args.rounds, args.budget, args.call_limit)
    if "growth" in only:
        measure(rec, "growth", GROWTH_TOOLS, args.rounds, args.budget, args.call_limit)
    if "paths" in only:
        heap.build_deep()
        tools = PATH_TOOLS
        if not hasattr(leaktrace, "holder_paths"):
            rec.emit(bench="paths-deep", tool="leaktrace", call=PATH_TOOLS[0][1], status="unavailable")
            rec.emit(bench="paths-10", tool="leaktrace", call=PATH_TOOLS[0][1], status="unavailable")
            print("  paths     leaktrace.holder_paths not available in this build", flush=True)
            tools = PATH_TOOLS[1:]
        rounds = max(3, args.rounds // 2)
        measure(rec, "paths-deep", [(n, c, (lambda f: lambda: f(True))(f)) for n, c, f in tools],
                rounds, args.budget, args.call_limit)
        measure(rec, "paths-10", [(n, c, (lambda f: lambda: f(False))(f)) for n, c, f in tools],
                rounds, args.budget, args.call_limit)
    rec.emit(bench="done")


if __name__ == "__main__":
    main()

"""Report and diff time on a large trace: --allocations live allocations
made at a few hundred sites (each reached through three call paths, stacks
8 to 14 frames deep), a snapshot, some frees and some more allocations, a
second snapshot, then the calls a user makes to see what grew. The same
program under leaktrace (Tracker(mode="trace", max_depth=16)) or tracemalloc
(started with 1 or 16 frames), one process each; prints one JSON line per
tool with the median time of each call over --repeat repetitions.

    python diffbench.py --tool leaktrace|tracemalloc|tracemalloc16 [--allocations 2000000]
"""

import argparse
import gc
import json
import statistics
import time
import tracemalloc

pc = time.perf_counter

N_SITES = 300       # functions, each allocating at its own line
N_PATHS = 3         # call paths to each site: 900 distinct stacks


class Obj:
    """One allocation per instance (no __dict__, no weakref slot)."""
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v


def _make_sites():
    # 300 small functions in a module of their own text, each allocating
    # `n` objects at one line of its own.
    src = []
    for k in range(N_SITES):
        # Obj(small int): the int is cached, so one allocation per item.
        src.append("def site_%d(n, out):\n    for i in range(n):\n        out.append(Obj(%d))\n" % (k, k % 200))
    ns = {"Obj": Obj}
    exec(compile("\n".join(src), "<bench sites>", "exec"), ns)
    return [ns["site_%d" % k] for k in range(N_SITES)]


SITES = _make_sites()


# Three call paths of different depths lead to each site.
def path_a(site, n, out, depth=6):
    return path_a(site, n, out, depth - 1) if depth else site(n, out)


def path_b(site, n, out, depth=8):
    return path_b(site, n, out, depth - 1) if depth else site(n, out)


def path_c(site, n, out):
    return helper_c1(site, n, out)


def helper_c1(site, n, out):
    return helper_c2(site, n, out)


def helper_c2(site, n, out):
    return site(n, out)


PATHS = [path_a, path_b, path_c][:N_PATHS]
HELD = []           # the live objects: one list per (site, path)


def allocate(total):
    per = total // (N_SITES * N_PATHS)
    for k, site in enumerate(SITES):
        for path in PATHS:
            out = []
            path(site, per, out)
            HELD.append(out)


def churn():
    """Between the snapshots: a third of the sites free half their objects,
    a tenth of the sites allocate 20 % more."""
    freed = made = 0
    for i, out in enumerate(HELD):
        if i % 3 == 0:
            half = len(out) // 2
            freed += half
            del out[:half]
        if i % 10 == 1:
            more = len(out) // 5
            PATHS[i % N_PATHS](SITES[i // N_PATHS], more, out)
            made += more
    return freed, made


def timed(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        t0 = pc()
        result = fn()
        times.append(pc() - t0)
    return statistics.median(times), min(times), result


def bench_leaktrace(args):
    import leaktrace
    t = leaktrace.Tracker(mode="trace", max_depth=16)
    gc.disable()   # no collection pauses in the timed calls (both tools alike)
    t0 = pc()
    t.start()
    allocate(args.allocations)
    alloc_s = pc() - t0
    live0 = t.stats()["live_samples"]
    snap1_s, _, s1 = timed(t.snapshot, 1)
    freed, made = churn()
    snap2_s, _, s2 = timed(t.snapshot, 1)
    t.stop()  # the calls below read the tables as the run left them
    st = t.stats()
    res = {"bench": "diff", "tool": "leaktrace", "status": "ok",
           "setup": "Tracker(mode='trace', max_depth=16)",
           "live_allocations": live0, "live_after": st["live_samples"], "freed": freed, "made": made,
           "alloc_seconds": alloc_s, "footprint": st["footprint"],
           "snapshot_seconds": max(snap1_s, snap2_s)}
    calls = [
        ("diff", "s2.diff(s1)", lambda: s2.diff(s1)),
        ("diff_stack", "s2.diff(s1, group_by='stack')", lambda: s2.diff(s1, group_by="stack")),
        ("report", "live_by_site()", lambda: t.live_by_site()),
        ("report_stack", "live_by_site(group_by='stack')", lambda: t.live_by_site(group_by="stack")),
    ]
    for key, call, fn in calls:
        med, lo, rows = timed(fn, args.repeat)
        res[key] = {"call": call, "seconds": med, "min": lo, "rows": len(rows)}
        if key == "diff":
            res[key]["top"] = [list(rows[0].site), rows[0].live_bytes_delta, rows[0].live_count_delta]
    # What a user does to see the growth: take the newer snapshot and diff.
    res["snapshot_and_diff_seconds"] = res["snapshot_seconds"] + res["diff"]["seconds"]
    return res


def bench_tracemalloc(args, frames):
    gc.disable()
    t0 = pc()
    tracemalloc.start(frames)
    allocate(args.allocations)
    alloc_s = pc() - t0
    snap1_s, _, s1 = timed(tracemalloc.take_snapshot, 1)
    freed, made = churn()
    snap2_s, _, s2 = timed(tracemalloc.take_snapshot, 1)
    mem = tracemalloc.get_tracemalloc_memory()
    tracemalloc.stop()
    res = {"bench": "diff", "tool": "tracemalloc" if frames == 1 else "tracemalloc%d" % frames, "status": "ok",
           "setup": "tracemalloc.start(%d)" % frames,
           "live_allocations": len(s1.traces), "live_after": len(s2.traces), "freed": freed, "made": made,
           "alloc_seconds": alloc_s, "footprint": mem, "snapshot_seconds": max(snap1_s, snap2_s)}
    calls = [
        ("diff", "s2.compare_to(s1, 'lineno')", lambda: s2.compare_to(s1, "lineno")),
        ("diff_stack", "s2.compare_to(s1, 'traceback')", lambda: s2.compare_to(s1, "traceback")),
        ("report", "s2.statistics('lineno')", lambda: s2.statistics("lineno")),
        ("report_stack", "s2.statistics('traceback')", lambda: s2.statistics("traceback")),
    ]
    for key, call, fn in calls:
        # compare_to and statistics cache nothing between calls: each
        # repetition does the full work.
        med, lo, rows = timed(fn, args.repeat)
        res[key] = {"call": call, "seconds": med, "min": lo, "rows": len(rows)}
        if key == "diff":
            top = rows[0]
            fr = top.traceback[0]
            res[key]["top"] = [[fr.filename, fr.lineno], top.size_diff, top.count_diff]
    res["snapshot_and_diff_seconds"] = res["snapshot_seconds"] + res["diff"]["seconds"]
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tool", choices=("leaktrace", "tracemalloc", "tracemalloc16"), required=True)
    ap.add_argument("--allocations", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if args.tool == "leaktrace":
        res = bench_leaktrace(args)
    else:
        res = bench_tracemalloc(args, 1 if args.tool == "tracemalloc" else 16)
    res["allocations_asked"] = args.allocations
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()

"""Runs the side-by-side benchmarks and writes docs/benchmarks.md.

One worker process (worker.py) per heap size builds the heap once and runs
every tool on it, interleaved; this script gives each worker a deadline,
collects their JSON lines and writes the tables: medians, the median of the
per-round ratios against leaktrace (the headline: the machine is shared and
noisy, so an absolute time alone says little), and what each tool counted.

    python run.py [--sizes 1000000,5000000] [--out ../docs/benchmarks.md]
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ---- running ----------------------------------------------------------------

def worker_deadline(n_objects):
    """Seconds a worker of this heap size may take before it is killed."""
    return 120 + 90 * n_objects / 1_000_000


def run_worker(n_objects, out, rounds, budget, call_limit):
    cmd = [sys.executable, os.path.join(HERE, "worker.py"), "--objects", str(n_objects), "--out", out,
           "--rounds", str(rounds), "--budget", str(budget), "--call-limit", str(call_limit)]
    deadline = worker_deadline(n_objects)
    print("== heap of %d objects (deadline %.0f s)" % (n_objects, deadline), flush=True)
    t0 = time.monotonic()
    try:
        rc = subprocess.run(cmd, cwd=HERE, timeout=deadline).returncode
    except subprocess.TimeoutExpired:
        rc = "killed after %.0f s" % deadline
    return {"bench": "worker", "heap": n_objects, "rc": rc, "seconds": time.monotonic() - t0}


# ---- machine and versions -----------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return "%.0f GiB" % (int(line.split()[1]) / 1024 / 1024)
    except OSError:
        pass
    return "unknown"


def git(*args):
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


# ---- numbers ------------------------------------------------------------------

def fmt_s(x):
    if x is None:
        return "—"
    if x < 0.001:
        return "%.0f µs" % (x * 1e6)
    if x < 1:
        return "%.1f ms" % (x * 1e3)
    return "%.2f s" % x


def fmt_n(x):
    return "—" if x is None else "{:,}".format(int(x))


def shorten(path, keep=(4, 3), sep=" -> "):
    """A long path as its first and last few steps."""
    if path is None:
        return None
    parts = path.split(sep)
    head, tail = keep
    if len(parts) <= head + tail + 1:
        return path
    return sep.join(parts[:head] + ["… %d more …" % (len(parts) - head - tail)] + parts[-tail:])


def fmt_ratio(x):
    if x is None:
        return "—"
    return "%.2f×" % x if x < 10 else "%.0f×" % x


class Series:
    """The measurements of one tool in one benchmark on one heap."""

    def __init__(self, tool, call):
        self.tool, self.call = tool, call
        self.by_round = {}          # round -> seconds (ok runs only)
        self.infos = []
        self.notes = []

    @property
    def times(self):
        return list(self.by_round.values())

    @property
    def median(self):
        return statistics.median(self.times) if self.times else None

    def info_median(self, key):
        vals = [i[key] for i in self.infos if i.get(key) is not None]
        return statistics.median(vals) if vals else None

    def info_first(self, key):
        for i in self.infos:
            if i.get(key) is not None:
                return i[key]
        return None

    def ratio_to(self, ref):
        """Median of this tool's time over ref's in the same round (the two
        ran back to back on the same heap); the ratio of medians when no
        round has both."""
        if ref is None or not ref.times or not self.times:
            return None
        pairs = [self.by_round[r] / ref.by_round[r] for r in self.by_round if r in ref.by_round and ref.by_round[r] > 0]
        if pairs:
            return statistics.median(pairs)
        return self.median / ref.median if ref.median else None

    def spread(self):
        t = self.times
        if not t:
            return "—"
        return "%s – %s" % (fmt_s(min(t)), fmt_s(max(t)))


def load(path):
    heaps, series, workers, meta = {}, {}, {}, {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            b = r["bench"]
            if b == "heap":
                heaps[r["heap"]] = r
            elif b == "worker":
                workers[r["heap"]] = r
            elif b in ("run", "end"):
                meta.update(r)
            elif b != "done":
                s = series.setdefault((b, r["heap"]), {}).setdefault(r["tool"], Series(r["tool"], r["call"]))
                st = r["status"]
                if st == "ok":
                    s.by_round[r["round"]] = r["seconds"]
                    s.infos.append(r.get("info") or {})
                elif st == "timeout":
                    s.notes.append("timed out at %.0f s" % r["seconds"])
                elif st == "budget":
                    s.notes.append(r["note"])
                elif st == "unavailable":
                    s.notes.append("not available: `leaktrace.holder_paths` is not in this build")
                else:
                    s.notes.append(st)
    return heaps, series, workers, meta


# ---- the report -----------------------------------------------------------------

def size_label(n):
    return "%g M" % (n / 1e6) if n >= 1_000_000 else "{:,}".format(n)


def table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
    return "\n".join(out)


def tools_of(series, bench, size, order):
    got = series.get((bench, size), {})
    return [got[t] for t in order if t in got] + [s for t, s in got.items() if t not in order]


def runs_cell(s):
    n = len(s.times)
    if n == 0 and s.notes:
        return "; ".join(s.notes)
    return "%d%s" % (n, ": " + "; ".join(s.notes) if s.notes else "")


def census_section(series, heaps, sizes):
    out = ["## 1. Census: count every live object by type", "",
           "Each tool's whole-heap census call on the same heap, in the same process, "
           "tools interleaved round by round (the order rotates each round). "
           "`× leaktrace` is the median over rounds of (tool time / leaktrace time in the same round): "
           "above 1 means leaktrace is faster. `objects counted` is what the tool reports; "
           "`ns / object` is the median time divided by it.", ""]
    for n in sizes:
        tools = tools_of(series, "census", n, ["leaktrace", "objgraph", "pympler", "guppy3"])
        if not tools:
            out += ["### %s objects: no results (see the run log)" % size_label(n), ""]
            continue
        ref = next((s for s in tools if s.tool == "leaktrace"), None)
        h = heaps.get(n, {})
        out.append("### Heap of %s objects (%s built; %s live in all, %s of them gc-tracked)" % (
            size_label(n), fmt_n(h.get("objects")), fmt_n(h.get("census_after")), fmt_n(h.get("gc_objects"))))
        out.append("")
        rows = []
        for s in tools:
            objs = s.info_median("objects")
            rows.append([
                "**%s**" % s.tool if s is ref else s.tool, "`%s`" % s.call,
                fmt_s(s.median), s.spread(), runs_cell(s),
                "1×" if s is ref and s.times else fmt_ratio(s.ratio_to(ref)),
                fmt_n(objs), fmt_n(s.info_median("bytes")),
                "%.0f" % (s.median / objs * 1e9) if s.median and objs else "—",
            ])
        out.append(table(["tool", "call", "median", "min – max", "runs", "× leaktrace", "objects counted",
                          "bytes counted", "ns / object"], rows))
        out.append("")
        og = next((s for s in tools if s.tool == "objgraph"), None)
        if ref and og and ref.median and og.median and ref.info_median("objects") and og.info_median("objects"):
            lo, oo = ref.info_median("objects"), og.info_median("objects")
            out.append("leaktrace counts %.1f× as many objects as objgraph here and spends %.1f× less time "
                       "on each (%.0f against %.0f ns), hence the %s overall." % (
                           lo / oo, (og.median / oo) / (ref.median / lo), ref.median / lo * 1e9,
                           og.median / oo * 1e9, fmt_ratio(og.ratio_to(ref))))
            out.append("")
    out += [
        "What the counts mean: leaktrace counts every live object, the gc-tracked ones and the "
        "untracked str, int, atomic tuples and dicts they reference, each once. "
        "`objgraph.typestats()` counts only what `gc.get_objects()` returns (gc-tracked objects), "
        "so on this heap it never sees most strings, numbers, tuples and dicts. pympler's "
        "`muppy.get_objects()` adds the referents of tracked objects, one level deep "
        "(it misses what only an untracked container holds); guppy3 walks from its roots and "
        "counts some objects the others do not (for example its own and the interpreter's "
        "internal ones).", ""]
    return out


def growth_section(series, heaps, sizes):
    out = ["## 2. Growth between two snapshots", "",
           "A snapshot, then %s new objects (%s `Record`s with their `__dict__`, str, int, list, "
           "dict and tuple), then the second snapshot and the per-type difference. Only the snapshot and "
           "difference calls are timed. `objgraph.growth()` runs `gc.collect()` before each "
           "snapshot; leaktrace does not unless asked (`collect=True`, shown as its own row)." % (
               "{:,}".format(100_000), "{:,}".format(10_000)), ""]
    for n in sizes:
        tools = tools_of(series, "growth", n, ["leaktrace", "leaktrace (collect=True)", "objgraph"])
        if not tools:
            out += ["### %s objects: no results" % size_label(n), ""]
            continue
        ref = next((s for s in tools if s.tool == "leaktrace"), None)
        rows = []
        for s in tools:
            exp = s.info_first("expected")
            rows.append([
                "**%s**" % s.tool if s is ref else s.tool, "`%s`" % s.call,
                fmt_s(s.median), s.spread(), runs_cell(s),
                "1×" if s is ref and s.times else fmt_ratio(s.ratio_to(ref)),
                "%s of %s" % (fmt_n(s.info_median("objects_grown")), fmt_n(exp)) if exp else "—",
                fmt_n(s.info_median("types_grown")), fmt_n(s.info_median("record_delta")),
            ])
        out.append("### Heap of %s objects" % size_label(n))
        out.append("")
        out.append(table(["tool", "calls", "median", "min – max", "runs", "× leaktrace",
                          "new objects seen", "types seen growing", "`Record` growth seen"], rows))
        out.append("")
    out += ["objgraph sees the growth of gc-tracked types only (`Record`, its `__dict__`, `list`); "
            "the strings, ints, atomic dicts and tuples that make up most of the new objects are "
            "invisible to it.", ""]
    return out


def example_cell(text):
    """A path as a table cell: objgraph's chain of types, guppy3's access
    expression, leaktrace's labels; long ones shortened."""
    if not text:
        return "—"
    if " -> " in text:
        text = shorten(text)
    elif len(text) > 110:
        text = text[:60] + " … " + text[-40:]
    return "`%s`" % text


def paths_section(series, heaps, sizes):
    out = ["## 3. Holder paths: who keeps an object alive", "",
           "`deep`: one object 24 references below a module global (through attributes, list items and "
           "dict values). `10 targets`: ten `Record`s spread over the heap, each held by a list in a "
           "module global, 4 references below it. Targets are passed straight into the call, so no "
           "benchmark frame holds them. leaktrace searches forward from the roots and stops once every "
           "target is reached, so the deep object, which it reaches last, is its worst case. "
           "objgraph runs one breadth-first search per target; guppy3 one `hpy()` for all ten "
           "(its reference graph is built once and reused).", ""]
    for n in sizes:
        for bench, title in (("paths-deep", "deep object"), ("paths-10", "10 targets")):
            tools = tools_of(series, bench, n, ["leaktrace", "objgraph", "guppy3"])
            if not tools:
                continue
            ref = next((s for s in tools if s.tool == "leaktrace" and s.times), None)
            rows = []
            for s in tools:
                npaths = s.info_median("paths")
                rows.append([
                    "**%s**" % s.tool if s.tool == "leaktrace" else s.tool, "`%s`" % s.call,
                    fmt_s(s.median), s.spread(), runs_cell(s),
                    ("1×" if s is ref else fmt_ratio(s.ratio_to(ref))) if ref else "—",
                    "—" if npaths is None else "%d of %d" % (npaths, 1 if bench == "paths-deep" else 10),
                    example_cell(s.info_first("example")),
                ])
            out.append("### %s, heap of %s objects" % (title.capitalize(), size_label(n)))
            out.append("")
            out.append(table(["tool", "call", "median", "min – max", "runs", "× leaktrace",
                              "paths found", "first path"], rows))
            out.append("")
    return out


def targets_section(series, sizes, trk=None):
    out = ["## Targets (DESIGN.md)", ""]
    rows = census_target_rows(series, sizes) if sizes else []
    if trk is not None and trk.runs:
        rows += tracking_target_rows(trk)
    else:
        for what in ("sampling mode overhead ≤ 1.05× wall", "full-trace mode ≤ 1.5× wall",
                     "diff of two checkpoints with 2 M live allocations ≤ 1 s (vs tracemalloc)"):
            rows.append([what, "not measured", "no tracking results: run `make -C bench tracking`"])
    rows.append(["capture size in sampling mode ≤ 1 MB per hour", "not measured",
                 "the tracker does not write capture files yet"])
    out.append(table(["target", "measured", "verdict"], rows))
    out.append("")
    return out


def census_target_rows(series, sizes):
    def get(bench, n, tool):
        return series.get((bench, n), {}).get(tool)

    rows = []
    n1 = 1_000_000 if 1_000_000 in sizes else min(sizes)
    for tool, goal in (("objgraph", 3.0), ("pympler", 50.0)):
        for n in [n1] + [m for m in sizes if m != n1]:
            lt, s = get("census", n, "leaktrace"), get("census", n, tool)
            r = s.ratio_to(lt) if s and lt else None
            verdict = "—" if r is None else ("met" if r >= goal else "**missed**")
            if n != n1:
                verdict = "(for information: %s)" % verdict.strip("*")
            rows.append(["census of a %s-object heap ≥ %g× faster than %s" % (size_label(n), goal, tool),
                         fmt_ratio(r), verdict])
    n5 = 5_000_000 if 5_000_000 in sizes else max(sizes)
    for bench, what, info in (("paths-10", "holder paths for 10 targets", False),
                              ("paths-deep", "holder path of the deep object (the worst case)", True)):
        s = get(bench, n5, "leaktrace")
        label = "%s, %s-object heap ≤ 2 s" % (what, size_label(n5))
        if s and s.times:
            verdict = "met" if s.median <= 2.0 else "**missed**"
            rows.append([label, fmt_s(s.median), "(for information: %s)" % verdict.strip("*") if info else verdict])
        else:
            rows.append([label, "not measured", "`leaktrace.holder_paths` not available in this build"])
    return rows


def headline(series, sizes):
    out = []
    for n in sizes:
        lt = series.get(("census", n), {}).get("leaktrace")
        parts = []
        for tool in ("objgraph", "pympler", "guppy3"):
            s = series.get(("census", n), {}).get(tool)
            r = s.ratio_to(lt) if s and lt else None
            if r is not None:
                parts.append("%s faster than %s" % (fmt_ratio(r), tool))
        if parts:
            out.append("- census, %s objects: leaktrace is %s." % (size_label(n), ", ".join(parts)))
    for n in sizes:
        lt = series.get(("growth", n), {}).get("leaktrace")
        og = series.get(("growth", n), {}).get("objgraph")
        r = og.ratio_to(lt) if og and lt else None
        if r is not None:
            ltc = series.get(("growth", n), {}).get("leaktrace (collect=True)")
            rc = og.ratio_to(ltc) if ltc else None
            out.append("- growth diff, %s objects: leaktrace is %s faster than objgraph.growth()%s and sees "
                       "%s new objects to objgraph's %s." % (
                           size_label(n), fmt_ratio(r),
                           " (%s with a full collection first, as objgraph does)" % fmt_ratio(rc) if rc else "",
                           fmt_n(lt.info_median("objects_grown")), fmt_n(og.info_median("objects_grown"))))
    has_paths = any(s.times for (b, _), d in series.items() if b.startswith("paths")
                    for t, s in d.items() if t == "leaktrace")
    if not has_paths:
        out.append("- holder paths: `leaktrace.holder_paths` is not in this build; objgraph and guppy3 "
                   "alone are measured below.")
    return out


# ---- the tracking suite (tracking.py, diffbench.py) -------------------------

TRACK_ORDER = ["plain", "leaktrace sampled", "leaktrace trace", "tracemalloc 1", "tracemalloc 16", "memray",
               "memray python-allocators", "memray native", "scalene"]
WORKLOAD_ORDER = ["alloc_loop", "json_roundtrip", "compute_loop", "request_loop"]
WORKLOAD_WHAT = {
    "alloc_loop": "small objects of every common kind made and dropped in loops, a sliding window kept "
                  "alive, buffers grown by reallocation",
    "json_roundtrip": "`json.dumps` / `json.loads` of a nested document of a few thousand values "
                      "(allocations made in C under few Python frames)",
    "compute_loop": "float and small-int arithmetic (Mandelbrot, n-body, an LCS table); allocates the least",
    "request_loop": "raw HTTP requests parsed, routed by regex, served from a dict store through an LRU "
                    "cache, JSON bodies, a `logging` line per request",
}


class Tracking:
    """The lines of results/tracking.jsonl."""

    def __init__(self, path):
        self.meta, self.calls, self.runs, self.diffs = {}, {}, [], {}
        if not path or not os.path.exists(path):
            return
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                b = r["bench"]
                if b in ("run", "end"):
                    self.meta.update(r)
                elif b == "tool":
                    self.calls[r["tool"]] = r["call"]
                elif b == "track":
                    self.runs.append(r)
                elif b == "diff":
                    self.diffs[r["tool"]] = r

    def workloads(self):
        got = {r["workload"] for r in self.runs}
        return [w for w in WORKLOAD_ORDER if w in got] + sorted(got - set(WORKLOAD_ORDER))

    def tools(self):
        got = {r["tool"] for r in self.runs}
        return [t for t in TRACK_ORDER if t in got] + sorted(got - set(TRACK_ORDER))

    def ok(self, workload, tool):
        """round -> run, for the runs that went well."""
        return {r["round"]: r for r in self.runs
                if r["workload"] == workload and r["tool"] == tool and r["status"] == "ok"}

    def failures(self, workload, tool):
        return [r for r in self.runs if r["workload"] == workload and r["tool"] == tool and r["status"] != "ok"]

    def median(self, workload, tool, key):
        vals = [r[key] for r in self.ok(workload, tool).values() if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    def ratio(self, workload, tool, ref, key="wall"):
        """Median over rounds of tool / ref in the same round; the ratio of
        medians when no round has both."""
        a, b = self.ok(workload, tool), self.ok(workload, ref)
        pairs = [a[r][key] / b[r][key] for r in a if r in b and a[r].get(key) and b[r].get(key)]
        if pairs:
            return statistics.median(pairs)
        ma, mb = self.median(workload, tool, key), self.median(workload, ref, key)
        return ma / mb if ma is not None and mb else None

    def stopped(self, workload, tool):
        """round -> run, for the runs stopped at the time cap."""
        return {r["round"]: r for r in self.runs
                if r["workload"] == workload and r["tool"] == tool and r["status"] == "timeout"}

    def bound(self, workload, tool, ref):
        """The wall ratio tool / ref as (value, sign): sign is "" when both
        ran to the end, ">" when only tool was stopped at the cap (value is
        then a lower bound), "<" when only ref was."""
        if self.ok(workload, tool) and self.ok(workload, ref):
            return self.ratio(workload, tool, ref), ""
        for runs, sign in ((self.stopped(workload, tool), ">"), (self.stopped(workload, ref), "<")):
            other = self.ok(workload, ref if sign == ">" else tool)
            if runs and other:
                cut = statistics.median(r["wall"] for r in runs.values())
                m = statistics.median(r["wall"] for r in other.values())
                return (cut / m if sign == ">" else m / cut), sign
        return None, ""

    def bound_text(self, workload, tool, ref):
        v, sign = self.bound(workload, tool, ref)
        return "—" if v is None else (sign + " " if sign else "") + fmt_ratio(v)

    def fastest_ratio(self, workload, tool, ref, key="wall"):
        """The fastest run's wall time over ref's fastest: less sensitive to
        the load other work puts on the machine, which only adds time."""
        a = [r[key] for r in self.ok(workload, tool).values() if r.get(key)]
        b = [r[key] for r in self.ok(workload, ref).values() if r.get(key)]
        return min(a) / min(b) if a and b else None

    def info(self, workload, tool, key):
        vals = [r["info"][key] for r in self.ok(workload, tool).values() if r.get("info", {}).get(key) is not None]
        return statistics.median(vals) if vals else None


def fmt_mb(kb):
    return "—" if kb is None else "%.0f MB" % (kb / 1024) if kb >= 10 * 1024 else "%.1f MB" % (kb / 1024)


def fmt_bytes(n):
    if n is None:
        return "—"
    if n < 1e3:
        return "%d B" % n
    if n < 1e6:
        return "%.0f kB" % (n / 1e3)
    if n < 1e9:
        return "%.1f MB" % (n / 1e6)
    return "%.2f GB" % (n / 1e9)


def tracking_run_table(trk):
    m = trk.meta
    v = m.get("versions", {})
    return table(["", ""], [
        ["command", "`make -C bench tracking` (part of `make bench`): bench/tracking.py"],
        ["date", m.get("date", "?")],
        ["commit", m.get("commit", "?")],
        ["machine", "%s CPUs usable (nproc), %s, %s RAM, Linux %s" % (
            m.get("nproc", "?"), m.get("cpu", "?"), m.get("mem", "?"), platform.release())],
        ["load average", "%s at start, %s at end (other work was running: read the ratios, which pair "
                         "runs made back to back)" % (m.get("load0", "?"), m.get("load1", "?"))],
        ["Python", "CPython %s (bench/.venv)" % m.get("python", "?")],
        ["versions", "leaktrace %s (built from this tree), memray %s, Scalene %s" % (
            v.get("leaktrace", "?"), v.get("memray", "?"), v.get("scalene", "?"))],
        ["repeats", "%s rounds; plain and leaktrace run every round, tracemalloc (1 frame) at least twice, "
                    "the other tools once and then again only while under %s s per workload; a run of a "
                    "comparison tool is stopped after %s s (its ratio is then shown as a lower bound, `>`)"
                    % (m.get("rounds", "?"), m.get("budget", "?"), m.get("cap", "?"))],
        ["workload scale", "LT_BENCH_SCALE=%s" % m.get("scale", "1")],
        ["wall time", "%.0f s" % m["wall"] if "wall" in m else "did not finish"],
    ])


def runs_text(trk, w, tool):
    n = len(trk.ok(w, tool))
    bad = trk.failures(w, tool)
    if bad and bad[0]["status"] == "timeout":
        return "%d; stopped at %.0f s" % (n, bad[0]["wall"])
    if bad:
        return "%d; %s" % (n, bad[0]["status"])
    return str(n)


def overhead_section(trk):
    workloads, tools = trk.workloads(), trk.tools()
    out = ["## 4. Allocation tracking: what it costs a running program", "",
           "Each workload (bench/workloads/, about 2 s plain) runs as a process of its own, plain and under "
           "each tool. Rounds interleave the tools (the order rotates each round) and each run is paired with "
           "the plain run of the same round: `× plain` is the median over rounds of (wall time under the tool "
           "/ plain wall time), `× tracemalloc 1` the same against `python -X tracemalloc=1`. Wall time is "
           "the whole process, start-up and exit included; CPU is its user + system time; peak RSS is its "
           "high-water mark (GNU time's `%M`). leaktrace runs the workload under bench/run_tracked.py, which "
           "starts a `Tracker` before the script runs and at the end writes the live allocations per stack "
           "as JSON: that report is its output file (`Tracker(mode='sampled')` uses its default 512 KiB sampling "
           "mean; trace mode records every allocation with up to 16 frames). memray writes its capture "
           "(lz4-compressed on exit, its default), Scalene its JSON profile; tracemalloc writes nothing.", "",
           tracking_run_table(trk), ""]
    rows = []
    for w in workloads:
        plain = trk.median(w, "plain", "wall")
        n = trk.info(w, "leaktrace trace", "samples")
        rows.append(["`%s`" % w, WORKLOAD_WHAT.get(w, ""), fmt_s(plain), fmt_mb(trk.median(w, "plain", "maxrss_kb")),
                     "%.1f M" % (n / 1e6) if n else "—",
                     "%.1f M/s" % (n / 1e6 / plain) if n and plain else "—"])
    out += ["### Workloads", "",
            table(["workload", "what it does", "plain wall (median)", "plain peak RSS",
                   "allocations (counted by trace mode)", "allocations per second (plain)"], rows), ""]

    out += ["### Wall time × plain", "",
            "Median of the per-round ratios; in brackets, the fastest run's time over plain's fastest, which "
            "the machine's load (it only ever adds time) disturbs less.", ""]
    rows = []
    for t in tools:
        cells = []
        for w in workloads:
            if t == "plain":
                cells.append(fmt_s(trk.median(w, t, "wall")))
            elif trk.ok(w, t):
                cells.append("%s (%s)" % (trk.bound_text(w, t, "plain"), fmt_ratio(trk.fastest_ratio(w, t, "plain"))))
            elif trk.stopped(w, t):
                cells.append(trk.bound_text(w, t, "plain"))
            elif trk.failures(w, t):
                cells.append(trk.failures(w, t)[0]["status"])
            else:
                cells.append("—")
        name = "**%s**" % t if t.startswith("leaktrace") else t
        rows.append([name] + cells)
    out += [table(["tool"] + ["`%s`" % w for w in workloads], rows), ""]

    for w in workloads:
        out += ["### `%s`" % w, ""]
        rows = []
        for t in tools:
            ok = trk.ok(w, t)
            walls = [r["wall"] for r in ok.values()]
            rows.append([
                "**%s**" % t if t.startswith("leaktrace") else t,
                "`%s`" % trk.calls.get(t, t).replace("W.py", w + ".py"),
                runs_text(trk, w, t),
                fmt_s(trk.median(w, t, "wall")),
                "%s – %s" % (fmt_s(min(walls)), fmt_s(max(walls))) if walls else "—",
                "1×" if t == "plain" and ok else trk.bound_text(w, t, "plain"),
                trk.bound_text(w, t, "tracemalloc 1") if t not in ("plain", "tracemalloc 1") else "—",
                fmt_ratio(trk.ratio(w, t, "plain", "cpu")) if t != "plain" and ok else "—",
                fmt_mb(trk.median(w, t, "maxrss_kb")),
                fmt_ratio(trk.ratio(w, t, "plain", "maxrss_kb")) if t != "plain" and ok else "—",
                fmt_bytes(trk.median(w, t, "out_bytes")),
            ])
        out += [table(["tool", "command", "runs", "wall (median)", "min – max", "× plain", "× tracemalloc 1",
                       "CPU × plain", "peak RSS", "RSS × plain", "output file"], rows), ""]
        lt = [(t, trk.info(w, t, "samples"), trk.info(w, t, "footprint"), trk.info(w, t, "report_seconds"),
               trk.info(w, t, "dropped")) for t in ("leaktrace sampled", "leaktrace trace") if trk.ok(w, t)]
        if lt:
            out.append("leaktrace recorded " + "; ".join(
                "%s: %s allocations (%s dropped), tables %s at the end, report written in %s" % (
                    t.split()[1], fmt_n(n), fmt_n(d), fmt_bytes(fp), fmt_s(rs)) for t, n, fp, rs, d in lt) + ".")
            out.append("")
    if str(trk.meta.get("python", "")).startswith("3.11"):
        out += ["Why tracemalloc costs more here than the ≈3× often quoted: on CPython 3.11 it computes the "
                "line number of every frame it records at each allocation (`PyCode_Addr2Line`, a scan of the "
                "code object's line table; `_PyCode_CheckLineNumber` is 41 % of a `perf` profile of "
                "`request_loop` under `-X tracemalloc=1`), so the cost grows with the size of the functions "
                "that allocate. leaktrace records the instruction offset and computes lines only for a report.",
                ""]
    return out


def diff_section(trk):
    out = ["## 5. Report and diff on 2 M live allocations", "",
           "bench/diffbench.py, one process per tool: 2 M live objects (one allocation each) made at 300 "
           "sites, each reached through 3 call paths (stacks 8 to 14 frames deep), snapshot `s1`; then a "
           "third of the sites free half their objects and a tenth allocate 20 % more, snapshot `s2`; then "
           "the calls a user makes to see what grew, each timed as the median of several calls, tracing "
           "stopped (the snapshots hold what they need). leaktrace keeps per-stack totals as it goes, so a "
           "snapshot copies those rows and a diff compares them; tracemalloc's snapshot copies every trace and "
           "`compare_to` groups them all.", ""]
    rows = []
    for tool, shown in (("leaktrace", "**leaktrace**"), ("tracemalloc", "tracemalloc (1 frame)"),
                        ("tracemalloc16", "tracemalloc (16 frames)")):
        d = trk.diffs.get(tool)
        if d is None:
            continue
        if d.get("status") != "ok":
            rows.append([shown, "failed: %s" % d.get("status")] + ["—"] * 8)
            continue

        def call(key):
            c = d.get(key)
            return "%s (`%s`, %s rows)" % (fmt_s(c["seconds"]), c["call"], fmt_n(c["rows"])) if c else "—"

        rows.append([shown, "`%s`" % d["setup"],
                     fmt_n(d["live_allocations"]), fmt_bytes(d["footprint"]), fmt_s(d["snapshot_seconds"]),
                     call("diff"), call("diff_stack"), call("report"), call("report_stack"),
                     "**%s**" % fmt_s(d["snapshot_and_diff_seconds"])])
    out += [table(["tool", "tracking", "live allocations at `s1`", "tracking memory", "snapshot",
                   "diff by line", "diff by stack", "report by line", "report by stack",
                   "snapshot + diff by line"], rows), ""]
    lt, tm = trk.diffs.get("leaktrace"), trk.diffs.get("tracemalloc")
    if lt and tm and lt.get("status") == tm.get("status") == "ok":
        out.append("Both name the same top growing line (`%s:%s`): %s." % (
            os.path.basename(str(lt["diff"]["top"][0][0])), lt["diff"]["top"][0][1],
            "yes" if lt["diff"]["top"][0][:2] == tm["diff"]["top"][0][:2] else "**no**"))
        out.append("")
    return out


def tracking_target_rows(trk):
    rows = []
    ws = trk.workloads()

    def worst(tool, ref):
        rs = [(trk.ratio(w, tool, ref), w) for w in ws if trk.ok(w, tool)]
        rs = [x for x in rs if x[0] is not None]
        return max(rs) if rs else None, rs

    for tool, goal, label in (("leaktrace sampled", 1.05, "sampling mode overhead ≤ 1.05× wall"),
                              ("leaktrace trace", 1.5, "full-trace mode, 16-frame stacks ≤ 1.5× wall")):
        top, rs = worst(tool, "plain")
        if top is None:
            rows.append([label, "not measured", "—"])
            continue
        # Judged at the precision shown (two decimals): the runs' spread is wider than that.
        missed = [w for r, w in rs if round(r, 2) > goal]
        rows.append(["%s, on every workload" % label,
                     "%s (worst, `%s`); %s" % (fmt_ratio(top[0]), top[1],
                                              ", ".join("%s %s" % (w, fmt_ratio(r)) for r, w in rs)),
                     "met" if not missed else "**missed** on %s" % ", ".join(missed)])
    for tool in ("leaktrace sampled", "leaktrace trace"):
        # Upper bounds ("<") count as their value: the true ratio is lower.
        rs = [(trk.bound(w, tool, "tracemalloc 1"), w) for w in ws]
        rs = [((v, sign), w) for (v, sign), w in rs if v is not None]
        if not rs:
            continue
        (v, sign), w = max(rs, key=lambda x: x[0][0])
        rows.append(["%s mode below tracemalloc (1 frame) wall, on every workload" % tool.replace("leaktrace ", ""),
                     "%s%s of tracemalloc's wall at worst (`%s`)" % (sign + " " if sign else "", fmt_ratio(v), w),
                     "met" if v < 1 and sign != ">" else "**missed**"])
    lt, tm = trk.diffs.get("leaktrace"), trk.diffs.get("tracemalloc")
    label = "diff of two checkpoints with 2 M live allocations ≤ 1 s"
    if lt and lt.get("status") == "ok":
        vs = ""
        if tm and tm.get("status") == "ok":
            vs = "; tracemalloc `take_snapshot` + `compare_to`: %s (%s)" % (
                fmt_s(tm["snapshot_and_diff_seconds"]),
                fmt_ratio(tm["snapshot_and_diff_seconds"] / lt["snapshot_and_diff_seconds"]))
        rows.append([label, "snapshot + diff %s%s" % (fmt_s(lt["snapshot_and_diff_seconds"]), vs),
                     "met" if lt["snapshot_and_diff_seconds"] <= 1.0 else "**missed**"])
    else:
        rows.append([label, "not measured", "—"])
    return rows


def tracking_headline(trk):
    out = []
    ws = trk.workloads()
    for tool in ("leaktrace sampled", "leaktrace trace"):
        parts = ["%s %s" % (w, fmt_ratio(trk.ratio(w, tool, "plain"))) for w in ws if trk.ok(w, tool)]
        tm = [trk.bound_text(w, tool, "tracemalloc 1") for w in ws if trk.ok(w, tool)]
        if parts:
            out.append("- leaktrace %s mode, wall × plain: %s (× tracemalloc 1 frame: %s)." % (
                tool.split()[1], ", ".join(parts), ", ".join(tm)))
    lt, tm = trk.diffs.get("leaktrace"), trk.diffs.get("tracemalloc")
    if lt and lt.get("status") == "ok":
        s = "- diff with %s M live allocations: leaktrace snapshot + diff %s" % (
            "%.1f" % (lt["live_allocations"] / 1e6), fmt_s(lt["snapshot_and_diff_seconds"]))
        if tm and tm.get("status") == "ok":
            s += ", tracemalloc `take_snapshot` + `compare_to` %s" % fmt_s(tm["snapshot_and_diff_seconds"])
        out.append(s + ".")
    return out

def write_report(path, results, tracking_results=None):
    """Writes the report from the census results and, when there are any,
    the tracking results; either file may be missing."""
    if os.path.exists(results):
        heaps, series, workers, meta = load(results)
    else:
        heaps, series, workers, meta = {}, {}, {}, {}
    trk = Tracking(tracking_results)
    sizes = sorted({n for (_, n) in series} | set(heaps))
    py = next((h.get("python") for h in heaps.values()), sys.version).split()[0]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run.py, bench/tracking.py); do not edit by hand, run it again. "
        "Two suites: the heap suite (sections 1 to 3) runs every tool on the same heap in the same process; "
        "the tracking suite (sections 4 and 5) runs programs under each allocation tracker, one process "
        "per run. Both interleave the tools and repeat them; "
        "the figures to read are the ratios, as the machine is shared and noisy. "
        "Absolute medians are given too.",
        "",
        "## Headline (median of per-round ratios)",
        "",
    ] + headline(series, sizes) + tracking_headline(trk) + [
        "",
        "## Run of the heap suite (sections 1 to 3)",
        "",
    ]
    if not sizes:
        lines += ["No heap-suite results (bench/results/latest.jsonl): run `make -C bench census`.", ""]
    else:
        lines += [
            table(["", ""], [
                ["command", "`make bench`"],
                ["date", meta.get("date", "?")],
                ["commit", meta.get("commit", "?")],
                ["machine", "%s CPUs usable (nproc), %s, %s RAM, Linux %s" % (
                    meta.get("nproc", "?"), meta.get("cpu", "?"), meta.get("mem", "?"), platform.release())],
                ["load average", "%s at start, %s at end" % (meta.get("load0", "?"), meta.get("load1", "?"))],
                ["Python", "CPython %s (bench/.venv)" % py],
                ["versions", "leaktrace %s (built from this tree with `pip install ..`), objgraph %s, "
                             "Pympler %s, guppy3 %s" % (version("leaktrace"), version("objgraph"),
                                                        version("Pympler"), version("guppy3"))],
                ["wall time", "%.0f s" % meta["wall"] if "wall" in meta else "did not finish"],
            ]),
            "",
            "Heaps (bench/heap.py): deterministic units of 10 objects each: an instance of a plain "
            "class with five attributes and its `__dict__`, two `str`, three `int`, a `list`, a `dict` of "
            "atomic values and a `tuple`; only the instance, its `__dict__` and the list stay gc-tracked. "
            "All are reachable from module globals. Each benchmark starts with an untimed warm-up round "
            "of every tool. Repeats: up to %s rounds (holder paths: half as many, at "
            "least 3); a tool stops repeating once it has used its time budget (%s s per benchmark and "
            "heap), and no single call may take more than %s s." % (
                meta.get("rounds", "?"), meta.get("budget", "?"), meta.get("call_limit", "?")),
            "",
        ]
    for n in sizes:
        h = heaps.get(n)
        w = workers.get(n, {})
        if h:
            lines.append("- %s heap: built in %.1f s; leaktrace counted %s objects before building and %s "
                         "after, %s of them gc-tracked." % (
                             size_label(n), h["build_seconds"], fmt_n(h["census_before"]),
                             fmt_n(h["census_after"]), fmt_n(h["tracked_after"])))
        if w and w.get("rc") != 0:
            lines.append("  - its worker did not finish cleanly (%s): the tables show what it measured." % w["rc"])
    lines.append("")
    if sizes:
        lines += census_section(series, heaps, sizes)
        lines += growth_section(series, heaps, sizes)
        lines += paths_section(series, heaps, sizes)
    if trk.runs:
        lines += overhead_section(trk)
    if trk.diffs:
        lines += diff_section(trk)
    lines += targets_section(series, sizes, trk)
    with open(path, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000000,5000000", help="heap sizes, comma-separated")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--results", default=os.path.join(HERE, "results", "latest.jsonl"),
                    help="raw measurements (JSON lines), kept for inspection")
    ap.add_argument("--tracking-results", default=os.path.join(HERE, "results", "tracking.jsonl"),
                    help="the tracking suite's measurements (tracking.py), included when present")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--call-limit", type=float, default=150.0)
    ap.add_argument("--report-only", action="store_true", help="rewrite the report from --results")
    args = ap.parse_args()

    if not args.report_only:
        t0 = time.monotonic()
        os.makedirs(os.path.dirname(args.results), exist_ok=True)
        with open(args.results, "w") as f:
            f.write(json.dumps({
                "bench": "run",
                "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "commit": "%s%s" % (git("rev-parse", "--short", "HEAD") or "unknown",
                                    " + uncommitted changes"
                                    if git("status", "--porcelain", "--untracked-files=no") else ""),
                "nproc": len(os.sched_getaffinity(0)),
                "cpu": cpu_model(),
                "mem": mem_total(),
                "load0": "%.2f" % os.getloadavg()[0],
                "rounds": args.rounds,
                "budget": "%g" % args.budget,
                "call_limit": "%g" % args.call_limit,
            }) + "\n")
        for n in [int(x) for x in args.sizes.split(",") if x]:
            w = run_worker(n, args.results, args.rounds, args.budget, args.call_limit)
            with open(args.results, "a") as f:
                f.write(json.dumps(w) + "\n")
        with open(args.results, "a") as f:
            f.write(json.dumps({"bench": "end", "load1": "%.2f" % os.getloadavg()[0],
                                "wall": time.monotonic() - t0}) + "\n")
    write_report(args.out, args.results, args.tracking_results)
    print("wrote %s (raw: %s)" % (os.path.relpath(args.out), os.path.relpath(args.results)))


if __name__ == "__main__":
    main()

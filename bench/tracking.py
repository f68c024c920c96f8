"""The allocation-tracking benchmarks: what leaktrace's Tracker costs a
running program, side by side with the tools users would pick instead, and
how long its report and diff take on a large trace.

Suite 1 (overhead): each workload of bench/workloads/ runs as its own
process, plain and under each tool; tools are interleaved round by round
(the order rotates each round) and each run is paired with the plain run of
the same round. Per run: wall time, CPU time (user + system, from wait4),
peak RSS (GNU time's, see run_measured) and the size of the file the tool
writes, if it writes one.

Suite 2 (report/diff): diffbench.py under leaktrace, tracemalloc with 1
frame and tracemalloc with 16, each in a process of its own.

Results are JSON lines in results/tracking.jsonl; run.py turns them into
docs/benchmarks.md with the census results.

    python tracking.py [--rounds 5] [--workloads alloc_loop,...] [--tools plain,...]
"""

import argparse
import datetime
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import run  # machine facts and git, shared with the census suite

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
WORKLOADS = ["alloc_loop", "json_roundtrip", "compute_loop", "request_loop"]


# ---- the tools --------------------------------------------------------------
# name, the command shown in the report, how to make the argv (workload path,
# output path), the output file's suffix (None: the tool writes no file) and
# the module it needs.

def _tracked(mode, *extra):
    return lambda w, out: [PY, os.path.join(HERE, "run_tracked.py"), "--mode", mode, *extra, "--out", out, w]


def _memray(*flags):
    return lambda w, out: [PY, "-m", "memray", "run", "-q", "-f", *flags, "-o", out, w]


TOOLS = [
    ("plain", "python W.py", lambda w, out: [PY, w], None, None),
    ("leaktrace sampled", "python run_tracked.py --mode sampled W.py",
     _tracked("sampled"), ".json", "leaktrace"),
    ("leaktrace trace", "python run_tracked.py --mode trace --max-depth 16 W.py",
     _tracked("trace", "--max-depth", "16"), ".json", "leaktrace"),
    ("tracemalloc 1", "python -X tracemalloc=1 W.py", lambda w, out: [PY, "-X", "tracemalloc=1", w], None, None),
    ("tracemalloc 16", "python -X tracemalloc=16 W.py", lambda w, out: [PY, "-X", "tracemalloc=16", w], None, None),
    ("memray", "memray run -o out.bin W.py", _memray(), ".bin", "memray"),
    ("memray python-allocators", "memray run --trace-python-allocators -o out.bin W.py",
     _memray("--trace-python-allocators"), ".bin", "memray"),
    ("memray native", "memray run --native -o out.bin W.py", _memray("--native"), ".bin", "memray"),
    ("scalene", "scalene run --memory -o out.json W.py", lambda w, out: [PY, "-m", "scalene", "run", "--memory",
                                                                        "-o", out, w], ".json", "scalene"),
]
# Runs per workload: plain and leaktrace every round; the other tools at
# least MIN_RUNS (default 1), then again only while they have used less than
# --budget seconds on that workload (tracemalloc with 16 frames takes 10 to
# 30 times as long as plain: five runs of each would take most of an hour).
# A comparison tool's run is also stopped after --cap seconds: tracemalloc
# takes over a minute on some workloads, and its ratio is then reported as
# at least cap / plain.
ALWAYS = {"plain", "leaktrace sampled", "leaktrace trace"}
MIN_RUNS = {"tracemalloc 1": 2}


# Peak RSS must be the workload's own. A child made by fork or vfork starts
# with its parent's high-water mark, and exec keeps it, so wait4's ru_maxrss
# would include this driver's memory: GNU time, a process of a few MB,
# starts each run and reports the peak RSS of its own child.
GNU_TIME = "/usr/bin/time"


def run_measured(argv, out, timeout, env):
    """Runs argv to completion (killed after `timeout` s). Returns a dict:
    status, wall, cpu (user + system of the run), maxrss_kb, out_bytes,
    stdout, stderr (its end)."""
    with tempfile.TemporaryDirectory() as d:
        rss_file = os.path.join(d, "rss")
        launch = [GNU_TIME, "-f", "%M", "-o", rss_file] + argv if os.access(GNU_TIME, os.X_OK) else argv
        with open(os.path.join(d, "out"), "w+b") as so, open(os.path.join(d, "err"), "w+b") as se:
            t0 = time.perf_counter()
            # A session of its own, so that a timeout ends GNU time and the
            # run under it together.
            p = subprocess.Popen(launch, stdin=subprocess.DEVNULL, stdout=so, stderr=se, env=env, cwd=HERE,
                                 start_new_session=True)
            killed = []
            timer = threading.Timer(timeout, lambda: (killed.append(1), os.killpg(p.pid, signal.SIGKILL)))
            timer.start()
            try:
                _, wstatus, ru = os.wait4(p.pid, 0)   # blocks: no polling beside the run
            finally:
                timer.cancel()
            wall = time.perf_counter() - t0
            p.returncode = os.waitstatus_to_exitcode(wstatus)  # reaped here, not by Popen
            so.seek(0)
            se.seek(0)
            stdout = so.read().decode(errors="replace")
            stderr = se.read().decode(errors="replace")
        maxrss = None
        if launch is not argv:
            try:
                with open(rss_file) as f:
                    # GNU time writes "Command exited with non-zero status N"
                    # first when the command fails; the figure is last.
                    maxrss = int(f.read().split()[-1])
            except (OSError, ValueError, IndexError):
                pass
        else:
            maxrss = ru.ru_maxrss   # an upper bound: see GNU_TIME
    if killed:
        status = "timeout"
    else:
        status = "ok" if p.returncode == 0 else "exit %d" % p.returncode
    return {
        "status": status,
        "wall": wall,
        "cpu": ru.ru_utime + ru.ru_stime,
        "maxrss_kb": maxrss,
        "out_bytes": os.path.getsize(out) if out and os.path.exists(out) else None,
        "stdout": stdout,
        "stderr": stderr[-800:],
    }


def result_line(stdout, workload):
    """The workload's own line of output (its name and checksums)."""
    for line in stdout.splitlines():
        if line.startswith(workload + " "):
            return line.strip()
    return None


def overhead_suite(args, emit):
    workloads = [w for w in args.workloads.split(",") if w]
    chosen = [t for t in TOOLS if t[0] in args.tools.split(",")] if args.tools else TOOLS
    for t in chosen:
        emit({"bench": "tool", "tool": t[0], "call": t[1], "writes": t[3] is not None})
    avail = []
    for t in chosen:
        if t[4] and importlib.util.find_spec(t[4]) is None:
            for w in workloads:
                emit({"bench": "track", "workload": w, "tool": t[0], "round": 0, "status": "not installed"})
            continue
        avail.append(t)
    env = dict(os.environ)
    env.pop("PYTHONTRACEMALLOC", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if args.scale:
        env["LT_BENCH_SCALE"] = args.scale
    spent = {}          # (tool, workload) -> seconds
    runs = {}           # (tool, workload) -> runs made
    expected = {}       # workload -> its plain output line
    broken = set()      # (tool, workload) that failed: not repeated
    tmp = tempfile.mkdtemp(prefix="lt-tracking-")
    try:
        for r in range(args.rounds):
            for wi, w in enumerate(workloads):
                path = os.path.join(HERE, "workloads", w + ".py")
                k = (r + wi) % len(avail)
                order = avail[k:] + avail[:k]
                for name, call, make, suffix, _mod in order:
                    key = (name, w)
                    if key in broken:
                        continue
                    if (name not in ALWAYS and runs.get(key, 0) >= MIN_RUNS.get(name, 1)
                            and spent.get(key, 0) >= args.budget):
                        continue
                    out = os.path.join(tmp, "out" + suffix) if suffix else None
                    limit = args.timeout if name in ALWAYS else min(args.timeout, args.cap)
                    m = run_measured(make(path, out), out, limit, env)
                    spent[key] = spent.get(key, 0) + m["wall"]
                    runs[key] = runs.get(key, 0) + 1
                    line = result_line(m["stdout"], w)
                    if m["status"] == "ok":
                        if name == "plain" and w not in expected:
                            expected[w] = line
                        if line is None or (w in expected and line != expected[w]):
                            m["status"] = "wrong output: %r" % line
                    rec = {"bench": "track", "workload": w, "tool": name, "round": r, "status": m["status"],
                           "wall": m["wall"], "cpu": m["cpu"], "maxrss_kb": m["maxrss_kb"],
                           "out_bytes": m["out_bytes"]}
                    if m["status"] != "ok":
                        rec["stderr"] = m["stderr"]
                        broken.add(key)
                    if name.startswith("leaktrace") and out and os.path.exists(out):
                        try:
                            with open(out) as f:
                                rep = json.load(f)
                            rec["info"] = {"samples": rep["stats"]["samples"],
                                           "live_samples": rep["stats"]["live_samples"],
                                           "dropped": rep["stats"]["dropped"],
                                           "footprint": rep["stats"]["footprint"],
                                           "sites": len(rep["sites"]),
                                           "report_seconds": rep["report_seconds"]}
                        except (OSError, ValueError, KeyError):
                            pass
                    emit(rec)
                    print("  round %d  %-15s %-26s %-6s %6.2f s wall %6.2f s cpu %7.1f MB%s" % (
                        r, w, name, m["status"][:6], m["wall"], m["cpu"] or 0, (m["maxrss_kb"] or 0) / 1024,
                        "  out %.1f MB" % (m["out_bytes"] / 1e6) if m["out_bytes"] else ""), flush=True)
                    if out and os.path.exists(out):
                        os.unlink(out)
                    for extra in os.listdir(tmp):   # anything else a tool left
                        p = os.path.join(tmp, extra)
                        if os.path.isfile(p):
                            os.unlink(p)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def diff_suite(args, emit):
    for tool in args.diff_tools.split(","):
        if not tool:
            continue
        argv = [PY, os.path.join(HERE, "diffbench.py"), "--tool", tool, "--allocations", str(args.diff_allocations),
                "--repeat", str(args.diff_repeat)]
        print("== diff benchmark: %s" % tool, flush=True)
        m = run_measured(argv, None, args.timeout * 3, dict(os.environ))
        got = False
        for line in m["stdout"].splitlines():
            if line.startswith("{"):
                rec = json.loads(line)
                rec["maxrss_kb"] = m["maxrss_kb"]
                emit(rec)
                got = True
                print("  %s" % line[:300], flush=True)
        if m["status"] != "ok" or not got:
            emit({"bench": "diff", "tool": tool, "status": m["status"] if m["status"] != "ok" else "no result",
                  "stderr": m["stderr"]})
            print("  failed: %s\n%s" % (m["status"], m["stderr"]), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--tools", default="", help="comma-separated tool names (default: all)")
    ap.add_argument("--budget", type=float, default=10.0,
                    help="seconds per tool and workload after which a comparison tool stops repeating "
                         "(plain and leaktrace run every round, tracemalloc 1 at least twice)")
    ap.add_argument("--timeout", type=float, default=150.0, help="seconds one run may take")
    ap.add_argument("--cap", type=float, default=30.0,
                    help="seconds one run of a comparison tool may take (reported as a lower bound)")
    ap.add_argument("--scale", default="", help="LT_BENCH_SCALE for the workloads (not for the docs)")
    ap.add_argument("--diff-tools", default="leaktrace,tracemalloc,tracemalloc16")
    ap.add_argument("--diff-allocations", type=int, default=2_000_000)
    ap.add_argument("--diff-repeat", type=int, default=3)
    ap.add_argument("--skip-overhead", action="store_true")
    ap.add_argument("--results", default=os.path.join(HERE, "results", "tracking.jsonl"))
    ap.add_argument("--out", default=os.path.join(run.ROOT, "docs", "benchmarks.md"))
    args = ap.parse_args()

    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    t0 = time.monotonic()
    f = open(args.results, "w")

    def emit(rec):
        f.write(json.dumps(rec) + "\n")
        f.flush()

    emit({
        "bench": "run",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": "%s%s" % (run.git("rev-parse", "--short", "HEAD") or "unknown",
                            " + uncommitted changes" if run.git("status", "--porcelain", "--untracked-files=no")
                            else ""),
        "nproc": len(os.sched_getaffinity(0)), "cpu": run.cpu_model(), "mem": run.mem_total(),
        "load0": "%.2f" % os.getloadavg()[0], "rounds": args.rounds, "budget": "%g" % args.budget,
        "cap": "%g" % args.cap,
        "scale": args.scale or "1", "python": sys.version.split()[0],
        "versions": {d: run.version(d) for d in ("leaktrace", "memray", "scalene")},
    })
    if not args.skip_overhead:
        overhead_suite(args, emit)
    diff_suite(args, emit)
    emit({"bench": "end", "load1": "%.2f" % os.getloadavg()[0], "wall": time.monotonic() - t0})
    f.close()
    run.write_report(args.out, os.path.join(HERE, "results", "latest.jsonl"), args.results)
    print("wrote %s (raw: %s)" % (os.path.relpath(args.out), os.path.relpath(args.results)))


if __name__ == "__main__":
    main()

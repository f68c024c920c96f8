"""What `leaktrace run` (default options) costs a program, end to end, side
by side with what a user would type instead: the plain program, and
`memray run` followed by `memray flamegraph --leaks` (memray's leak report).
Also the time from the program's exit to leaktrace's report on a heap of
1 M live objects.

Suite 1 (overhead): each workload of bench/workloads/ runs plain, under
`python -m leaktrace run -q --text FILE` and under `memray run` + `memray
flamegraph --leaks`; the three are interleaved round by round (the order
rotates each round) and each run is paired with the plain run of its round.
Reported: per workload and tool, the median wall time and the median of the
per-round ratios to plain.

Suite 2 (exit to report): a program that builds 1 M live objects (a global
list of small instances, dicts and str) and exits; it writes
time.monotonic() (CLOCK_MONOTONIC: the same clock in every process) as its
last act, and the time until `leaktrace run` has written its report and
exited is measured.

Results are JSON lines in results/run_overhead.jsonl (one per run) and a
summary on stdout.

    python run_overhead.py [--rounds 5] [--scale 1.0] [--workloads alloc_loop,...]
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
WORKLOADS = ["alloc_loop", "json_roundtrip", "compute_loop", "request_loop"]
TOOLS = ["plain", "leaktrace", "memray"]

HEAP_PROGRAM = """
import time

class Row:
    __slots__ = ("id", "name")

    def __init__(self, i):
        self.id = i
        self.name = "row-%%d" %% i

N = %(n)d
ROWS = [Row(i) for i in range(N // 4)]
META = [{"i": i} for i in range(N // 4)]
NAMES = ["n-%%d" %% i for i in range(N // 4)]
with open(%(stamp)r, "w") as f:
    f.write(repr(time.monotonic()))
"""


def memray_cmd():
    exe = shutil.which("memray", path=os.path.dirname(PY)) or shutil.which("memray")
    return [exe] if exe else None


def run_tool(tool, workload, tmp, env):
    """Runs one workload under one tool; returns (wall seconds, ok)."""
    script = os.path.join(HERE, "workloads", workload + ".py")
    if tool == "plain":
        cmds = [[PY, script]]
    elif tool == "leaktrace":
        cmds = [[PY, "-m", "leaktrace", "run", "-q", "--force", "--text", os.path.join(tmp, "lt.txt"), script]]
    else:
        memray = memray_cmd()
        out = os.path.join(tmp, "memray.bin")
        html = os.path.join(tmp, "memray.html")
        for p in (out, html):
            if os.path.exists(p):
                os.unlink(p)
        cmds = [memray + ["run", "-q", "-o", out, script], memray + ["flamegraph", "-f", "--leaks", "-o", html, out]]
    t0 = time.monotonic()
    ok = True
    for cmd in cmds:
        proc = subprocess.run(cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            sys.stderr.write("%s %s failed (%d): %s\n" % (tool, workload, proc.returncode,
                                                         proc.stderr.decode(errors="replace")[-500:]))
            ok = False
            break
    return time.monotonic() - t0, ok


def exit_to_report(tmp, n, env):
    """Seconds from the program's last statement to leaktrace's exit."""
    stamp = os.path.join(tmp, "stamp")
    prog = os.path.join(tmp, "heap_1m.py")
    with open(prog, "w") as f:
        f.write(HEAP_PROGRAM % {"n": n, "stamp": stamp})
    proc = subprocess.run([PY, "-m", "leaktrace", "run", "-q", "--force", "--json", os.path.join(tmp, "heap.json"),
                           prog], cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    end = time.monotonic()
    if proc.returncode != 0:
        sys.stderr.write("heap program failed: %s\n" % proc.stderr.decode(errors="replace")[-500:])
        return None
    with open(stamp) as f:
        return end - float(f.read())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0, help="LT_BENCH_SCALE for the workloads")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--heap-objects", type=int, default=1_000_000)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "run_overhead.jsonl"))
    args = ap.parse_args()
    tools = [t for t in TOOLS if t != "memray" or memray_cmd()]
    if "memray" not in tools:
        sys.stderr.write("memray is not installed: pip install memray (compared against when present)\n")
    env = dict(os.environ, LT_BENCH_SCALE=str(args.scale), PYTHONDONTWRITEBYTECODE="1")
    workloads = args.workloads.split(",")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    walls = {}      # (workload, tool) -> [seconds]
    ratios = {}     # (workload, tool) -> [ratio to the plain run of the round]
    with tempfile.TemporaryDirectory(prefix="lt-overhead-") as tmp, open(args.out, "a") as out:
        for r in range(args.rounds):
            for w in workloads:
                order = tools[r % len(tools):] + tools[:r % len(tools)]
                got = {}
                for tool in order:
                    wall, ok = run_tool(tool, w, tmp, env)
                    if ok:
                        got[tool] = wall
                        walls.setdefault((w, tool), []).append(wall)
                    out.write(json.dumps({"suite": "run_overhead", "at": stamp, "round": r, "workload": w,
                                          "tool": tool, "wall_s": wall, "ok": ok, "scale": args.scale,
                                          "python": sys.version.split()[0]}) + "\n")
                for tool, wall in got.items():
                    if tool != "plain" and "plain" in got:
                        ratios.setdefault((w, tool), []).append(wall / got["plain"])
        heap = [exit_to_report(tmp, args.heap_objects, env) for _ in range(max(1, min(3, args.rounds)))]
        heap = [h for h in heap if h is not None]
        out.write(json.dumps({"suite": "exit_to_report", "at": stamp, "objects": args.heap_objects,
                              "seconds": heap}) + "\n")
    print("%-16s %-10s %10s %12s" % ("workload", "tool", "median s", "x plain"))
    for w in workloads:
        for tool in tools:
            ws = walls.get((w, tool))
            rs = ratios.get((w, tool))
            print("%-16s %-10s %10s %12s" % (w, tool, "%.2f" % statistics.median(ws) if ws else "-",
                                             "%.2fx" % statistics.median(rs) if rs else ("1.00x" if ws else "-")))
    if heap:
        print("exit to report, %d live objects: median %.2f s (%s)" % (
            args.heap_objects, statistics.median(heap), ", ".join("%.2f" % h for h in heap)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

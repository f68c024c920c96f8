"""Runs a Python script under a leaktrace.Tracker, as `python script.py` would
run it, for the tracking benchmarks (tracking.py):

    python run_tracked.py --mode sampled|trace [--max-depth 16]
                          [--sample-mean BYTES] [--out report.json] script.py [args...]

The tracker starts before the script runs and stops after it returns (or
raises). With --out, what a user keeps of the run is written there: the live
allocations per stack at the end (group_by="stack") and the tracker's stats,
as JSON; the time to make it is included in the run and also recorded in the
file (report_seconds).
"""
import argparse
import json
import os
import runpy
import sys
import time

import leaktrace


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("sampled", "trace"), default="sampled")
    ap.add_argument("--max-depth", type=int, default=16)
    ap.add_argument("--sample-mean", type=int, default=None, help="bytes (sampled mode; default leaktrace's)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", help="write the end-of-run report (JSON) here")
    ap.add_argument("script")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()

    kw = {"mode": a.mode, "max_depth": a.max_depth, "seed": a.seed}
    if a.sample_mean is not None:
        kw["sample_mean"] = a.sample_mean
    script = os.path.abspath(a.script)
    # As `python script.py` sets them up.
    sys.argv = [script] + a.args
    sys.path[0] = os.path.dirname(script)

    tracker = leaktrace.Tracker(**kw)
    tracker.start()
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        tracker.stop()
        if a.out:
            t0 = time.perf_counter()
            rows = tracker.live_by_site(group_by="stack")
            report = {
                "stats": tracker.stats(),
                "sites": [{"stack": [list(f) for f in r.site], "live_bytes": r.live_bytes,
                           "live_count": r.live_count, "total_bytes": r.total_bytes,
                           "total_count": r.total_count} for r in rows],
            }
            report["report_seconds"] = time.perf_counter() - t0
            with open(a.out, "w") as f:
                json.dump(report, f)


if __name__ == "__main__":
    main()

"""leaktrace's pytest plugin vs pytest-memray's limit_leaks on the same suites.

The suites are tests/targets/pytest_suites: leaky_suite.py (every test leaks
on every run, one SCENARIOS.md scenario each) and clean_suite.py (caches,
lru_cache, logging, re, large temporaries, generators, ...: nothing leaks).
Each tool runs each suite N times (default 20) in a fresh pytest process:

  plain           pytest, no leak check (the wall-time baseline)
  leaktrace       pytest --leaktrace (defaults: 2 warm-up and 5 measured runs)
  memray-<limit>  pytest --memray, every test marked limit_leaks("<limit>")
                  (memray traces the Python allocators for limit_leaks)

and the script reports, per tool: true findings (leaky tests failed, of all
leaky tests in all runs), false alarms (clean tests failed), flaky tests
(a test whose outcome differs between runs) and the median wall time of a
suite run. Needs pytest-memray, pytest-asyncio and leaktrace installed in
the interpreter that runs it:

    python bench/pytest_compare.py [--runs 20] [--limits "1 B,1 KB"] [--json out.json]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

SUITES = Path(__file__).resolve().parents[1] / "tests" / "targets" / "pytest_suites"

# Applied only when LEAKTRACE_BENCH_MEMRAY_LIMIT is set: marks every test
# with pytest-memray's limit_leaks, as a user would to check a whole suite.
CONFTEST = '''
import os
import pytest

def pytest_collection_modifyitems(items):
    limit = os.environ.get("LEAKTRACE_BENCH_MEMRAY_LIMIT")
    if limit:
        for item in items:
            item.add_marker(pytest.mark.limit_leaks(limit))
'''


def run_suite(workdir, suite, tool_args, env):
    xml = workdir / "junit.xml"
    if xml.exists():
        xml.unlink()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--junitxml", str(xml),
                           suite] + tool_args, cwd=workdir, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t0
    outcomes = {}
    if not xml.exists():
        raise SystemExit("pytest wrote no report (exit %d):\n%s" % (proc.returncode, proc.stdout[-3000:]))
    for case in ET.parse(xml).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        outcomes[case.get("name")] = "failed" if failed else "passed"
    return outcomes, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--limits", default="1 B,1 KB", help="limit_leaks limits to try, comma separated")
    ap.add_argument("--json", help="write the numbers here too")
    ap.add_argument("--tools", default="plain,leaktrace,memray")
    args = ap.parse_args()
    if args.runs < 1:
        sys.stderr.write("pytest_compare: --runs must be 1 or more\n")
        return 2
    wanted = args.tools.split(",")
    tools = []
    if "plain" in wanted:
        tools.append(("plain", [], {}))
    if "leaktrace" in wanted:
        tools.append(("leaktrace", ["--leaktrace"], {}))
    if "memray" in wanted:
        for limit in args.limits.split(","):
            limit = limit.strip()
            tools.append(("memray-" + limit.replace(" ", ""), ["--memray"], {"LEAKTRACE_BENCH_MEMRAY_LIMIT": limit}))
    workdir = Path(tempfile.mkdtemp(prefix="leaktrace-pytest-compare-"))
    try:
        for name in ("leaky_suite.py", "clean_suite.py", "pytest.ini"):
            shutil.copy(SUITES / name, workdir / name)
        (workdir / "conftest.py").write_text(CONFTEST)
        results = {}
        for tool, targs, extra in tools:
            env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **extra)
            per_suite = {}
            for suite in ("leaky_suite.py", "clean_suite.py"):
                runs, walls = [], []
                for _ in range(args.runs):
                    outcomes, wall = run_suite(workdir, suite, targs, env)
                    runs.append(outcomes)
                    walls.append(wall)
                tests = sorted(runs[0])
                failed = sum(o[t] == "failed" for o in runs for t in tests)
                flaky = [t for t in tests if len({o.get(t) for o in runs}) > 1]
                per_suite[suite] = {"tests": len(tests), "runs": args.runs, "failed": failed,
                                    "flaky": flaky, "wall_median_s": statistics.median(walls),
                                    "wall_s": walls,
                                    "never_failed": [t for t in tests if all(o[t] == "passed" for o in runs)],
                                    "always_failed": [t for t in tests if all(o[t] == "failed" for o in runs)]}
                print("%-14s %-16s failed %4d of %4d  flaky %d  median %.2f s" % (
                    tool, suite, failed, len(tests) * args.runs, len(flaky), statistics.median(walls)), flush=True)
            results[tool] = per_suite
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    print("| tool | true findings (leaky tests failed) | false alarms (clean tests failed) | flaky tests "
          "| wall, leaky suite | wall, clean suite |")
    print("|---|---|---|---|---|---|")
    for tool, s in results.items():
        lk, cl = s["leaky_suite.py"], s["clean_suite.py"]
        print("| %s | %d / %d | %d / %d | %d | %.2f s | %.2f s |" % (
            tool, lk["failed"], lk["tests"] * lk["runs"], cl["failed"], cl["tests"] * cl["runs"],
            len(lk["flaky"]) + len(cl["flaky"]), lk["wall_median_s"], cl["wall_median_s"]))
    for tool, s in results.items():
        if s["leaky_suite.py"]["never_failed"]:
            print("%s missed: %s" % (tool, ", ".join(s["leaky_suite.py"]["never_failed"])))
        if s["clean_suite.py"]["always_failed"]:
            print("%s false alarms: %s" % (tool, ", ".join(s["clean_suite.py"]["always_failed"])))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

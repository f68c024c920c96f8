"""Shared fixtures of the Python tests.

- ``restore_gc`` (autouse): every test gets the collector back as it found it
  (enabled, thresholds, debug flags, frozen objects, gc.garbage, callbacks),
  since many tests switch it off or tune it to make a behaviour observable.
- ``run_python``: runs a snippet in a fresh interpreter of the venv under test
  (for what would disturb the pytest process: a 10 M-object heap, RSS figures).
- ``harness``: runs a target of tests/targets through integration/harness.py in
  a subprocess, once per (target, options) per session, and returns its JSON
  records.
"""
import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# A shell starts background jobs (`make test &`, CI runners) with SIGINT
# ignored, and children inherit that: their Python would then never raise
# KeyboardInterrupt, which the tests of SIGINT at the end of --duration and of
# production mode's exit rely on. With a handler here, children start with
# the default disposition (a handler is reset at exec, SIG_IGN is not). The
# test of a program started with SIGINT ignored sets SIG_IGN itself.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

TESTS_DIR = Path(__file__).resolve().parents[1]
TARGETS_DIR = TESTS_DIR / "targets"
HARNESS = Path(__file__).resolve().parent / "integration" / "harness.py"


def _subprocess_env(tmpdir):
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"    # several Pythons share tests/targets
    env["TMPDIR"] = str(tmpdir)              # targets write their files under pytest's tmp
    env.pop("PYTHONHASHSEED", None)
    return env


@pytest.fixture(autouse=True)
def restore_gc():
    enabled = gc.isenabled()
    thresholds = gc.get_threshold()
    debug = gc.get_debug()
    callbacks = list(gc.callbacks)
    garbage = len(gc.garbage)
    yield
    gc.set_debug(debug)
    gc.set_threshold(*thresholds)
    gc.callbacks[:] = callbacks
    if gc.get_freeze_count():
        gc.unfreeze()
    del gc.garbage[garbage:]
    if enabled:
        gc.enable()
    else:
        gc.disable()


class PythonResult:
    def __init__(self, proc):
        self.proc = proc
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.returncode = proc.returncode

    def json(self):
        """The last stdout line, parsed."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        assert lines, "no output; stderr:\n" + self.stderr[-4000:]
        return json.loads(lines[-1])


@pytest.fixture
def run_python(tmp_path):
    """run_python(code, timeout=...) -> PythonResult; fails the test on a non-zero exit."""

    def run(code, timeout=120, check=True):
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            cwd=str(tmp_path), env=_subprocess_env(tmp_path),
            capture_output=True, text=True, timeout=timeout,
        )
        if check and proc.returncode != 0:
            pytest.fail("subprocess exited with %d\nstdout:\n%s\nstderr:\n%s"
                        % (proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:]))
        return PythonResult(proc)

    return run


class HarnessRun:
    """The JSON records of one harness run (see integration/harness.py)."""

    def __init__(self, module, records, stderr):
        self.module = module
        self.stderr = stderr
        self.start = records[0]
        self.rounds = [r for r in records if r["kind"] == "round"]
        self.final = records[-1]
        assert self.start["kind"] == "start" and self.final["kind"] == "final", records

    def count_deltas(self, name):
        """Per-round change of the live count of `name` (from the census diffs)."""
        out = []
        for r in self.rounds:
            out.append(sum(d[1] for d in r["diff"] if d[0] == name))
        return out

    def byte_deltas(self, name):
        return [sum(d[2] for d in r["diff"] if d[0] == name) for r in self.rounds]

    def cyclic_counts(self, name):
        """cyclic_garbage()'s count of `name` at the checkpoint and after each round."""
        return [rec["cyclic"].get(name, [0, 0])[0] for rec in [self.start] + self.rounds]

    def reachable_deltas(self, name):
        """Per-round change of the count of `name` minus the change of its cyclic
        garbage: growth of the objects something still holds."""
        cyc = self.cyclic_counts(name)
        return [d - (cyc[k + 1] - cyc[k]) for k, d in enumerate(self.count_deltas(name))]

    def changed_types(self):
        return sorted({d[0] for r in self.rounds for d in r["diff"]})

    def facts(self, key, kind=None):
        recs = [self.start] + self.rounds
        if kind is None:
            return [rec["facts"][key] for rec in recs]
        return [rec["facts"][key][kind] for rec in recs]


@pytest.fixture(scope="session")
def harness(tmp_path_factory):
    """harness(module, sample=None, watch=(), graph=False, rounds=5, ticks=30, warmup=30)."""
    cache = {}

    def run(module, sample=None, watch=(), graph=False, rounds=5, ticks=30, warmup=30):
        key = (module, sample, tuple(watch), graph, rounds, ticks, warmup)
        if key in cache:
            return cache[key]
        tmp = tmp_path_factory.mktemp(module)
        cmd = [sys.executable, str(HARNESS), str(TARGETS_DIR), module,
               "--rounds", str(rounds), "--ticks", str(ticks), "--warmup", str(warmup)]
        if sample:
            cmd += ["--sample", sample]
        for name in watch:
            cmd += ["--watch", name]
        if graph:
            cmd.append("--graph")
        proc = subprocess.run(cmd, cwd=str(tmp), env=_subprocess_env(tmp),
                              capture_output=True, text=True, timeout=180)
        if proc.returncode != 0:
            pytest.fail("harness for %s exited with %d\nstdout:\n%s\nstderr:\n%s"
                        % (module, proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:]))
        records = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        cache[key] = HarnessRun(module, records, proc.stderr)
        return cache[key]

    return run

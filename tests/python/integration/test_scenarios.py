"""The leak scenarios of SCENARIOS.md, each as a real program in a subprocess.

Every target of tests/targets runs through harness.py: warm-up, a Checkpoint,
5 rounds of 30 requests each ended by a census. A leak must show *sustained*
growth (the type's count goes up in every round, not only last-minus-first),
a new_objects sample of the leaking type, and holder paths that name the
holder. A control must show no sustained growth of anything it (or anything
else) holds. Resource leaks must also show in the process facts, cycles in
cyclic_garbage() and gc_state().
"""
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest


class Leak:
    def __init__(self, module, scenario, grows, sample, holder=None, cyclic=False, drains=0):
        self.module = module
        self.scenario = scenario
        self.grows = grows          # types whose count must rise in every round
        self.sample = sample        # type asked of new_objects / holder_paths
        self.holder = holder        # regexes matched, in order, by elements of one path
        self.cyclic = cyclic        # cyclic garbage, not held by anything
        self.drains = drains        # how many may be consumed by a thread between two measures

    def __repr__(self):
        return self.module


MODULE = r"^module %s$"

LEAKS = [
    Leak("leak_cycles_gc_disabled", 1, ["leak_cycles_gc_disabled.CatalogNode"],
         "leak_cycles_gc_disabled.CatalogNode", cyclic=True),
    Leak("leak_cycles_del", 1, ["leak_cycles_del.Session", "leak_cycles_del.Transaction"],
         "leak_cycles_del.Session", cyclic=True),
    Leak("leak_global_cache", 2, ["leak_global_cache.Invoice", "leak_global_cache.LineItem"],
         "leak_global_cache.Invoice",
         [MODULE % "leak_global_cache", r"^\.INVOICE_CACHE$", r"^\['inv-\d+'\]$"]),
    Leak("leak_cache_whole_inputs", 3, ["leak_cache_whole_inputs.RenderRequest"],
         "leak_cache_whole_inputs.RenderRequest",
         [MODULE % "leak_cache_whole_inputs", r"^\.RESPONSE_CACHE$", r"^\['/reports/u\d+\?ts=\d+'\]$"]),
    Leak("leak_unclosed_files", 4, ["_io.TextIOWrapper", "_io.FileIO", "leak_unclosed_files.AuditLog"],
         "_io.TextIOWrapper",
         [MODULE % "leak_unclosed_files", r"^\.OPEN_AUDIT_LOGS$", r"^\[\d+\]$", r"^\.fh$"]),
    Leak("leak_sqlite_connections", 5, ["sqlite3.Connection"], "sqlite3.Connection",
         [MODULE % "leak_sqlite_connections", r"^\._REQUEST_CONNECTIONS$", r"^\['req-\d+'\]$"]),
    Leak("leak_big_structure", 7, ["leak_big_structure.Reading", "float"], "leak_big_structure.Reading",
         [r"^(\.DataProcessor|class \S*DataProcessor)$", r"^\.cache$", r"^\[\d+\]$"]),
    Leak("leak_event_handlers", 8, ["leak_event_handlers.CartView", "method", "function"],
         "leak_event_handlers.CartView",
         [MODULE % "leak_event_handlers", r"^\.bus$", r"^\._subscribers$", r"^\[\d+\]$"]),
    Leak("leak_logging_handlers", 8, ["leak_logging_handlers.RequestContextHandler"],
         "leak_logging_handlers.RequestContextHandler",
         [r"^module (leak_logging_handlers|logging)$", r"^\.handlers$", r"^\[\d+\]$"]),
    Leak("leak_atexit_callbacks", 8, ["leak_atexit_callbacks.SpoolFile", "method"],
         "leak_atexit_callbacks.SpoolFile", [r"\batexit\b"]),     # not the word inside 'leak_atexit_...'
    Leak("leak_generators", 9, ["generator", "leak_generators.ExportCursor"], "leak_generators.ExportCursor",
         [MODULE % "leak_generators", r"^\.PENDING_EXPORTS$", r"^\['exp-\d+'\]$",
          r"^frame export_rows\(\) local 'cursor'$"]),
    Leak("leak_threads", 10, ["threading.Thread", "leak_threads.UploadJob"], "leak_threads.UploadJob",
         [r"^(thread |module threading$)", r"^(thread .*frame _watch_upload\(\) local 'job'|\._args)$"]),
    Leak("leak_kept_exceptions", 11,
         ["leak_kept_exceptions.PaymentDeclined", "traceback", "frame", "leak_kept_exceptions.ChargeRequest"],
         "leak_kept_exceptions.ChargeRequest",
         [MODULE % "leak_kept_exceptions", r"^\.FAILED_CHARGES$", r"^\[\d+\]$", r"^\.__traceback__$",
          r"^frame (process_payment|charge)\(\) local 'request'$"]),
    Leak("leak_queue_backlog", 12, ["leak_queue_backlog.ClickEvent"], "leak_queue_backlog.ClickEvent",
         [MODULE % "leak_queue_backlog", r"^\.EVENTS$", r"^\.queue$"], drains=25),
    Leak("leak_global_state", 15, ["leak_global_state.DiscountLine"], "leak_global_state.DiscountLine",
         [MODULE % "leak_global_state", r"^\.apply_discounts$", r"^\.__defaults__$", r"^\[\d+\]$"]),
]
HELD = [leak for leak in LEAKS if not leak.cyclic]
CYCLIC = [leak for leak in LEAKS if leak.cyclic]
BY_MODULE = {leak.module: leak for leak in LEAKS}

CONTROLS = [
    "control_warm_cache",
    "control_lru_cache",
    "control_freed_objects",
    "control_sawtooth",
    "control_collected_cycles",
    "control_streaming_generator",
]
ROUNDS, TICKS = 5, 30
TARGETS_DIR = Path(__file__).resolve().parents[2] / "targets"


def run_leak(harness, leak, graph=False):
    return harness(leak.module, sample=leak.sample, watch=tuple(leak.grows), graph=graph,
                   rounds=ROUNDS, ticks=TICKS)


def sustained(deltas):
    """Growth in every round: the test of a leak, not last-minus-first."""
    return len(deltas) >= 3 and all(d > 0 for d in deltas)


def path_matches(path, needles):
    """True if elements of `path` match the regexes `needles`, in order (one
    element may match several consecutive needles: 'thread ... local 'job'')."""
    pos = 0
    for needle in needles:
        for k in range(pos, len(path)):
            if re.search(needle, path[k]):
                pos = k
                break
        else:
            return False
    return True


def check_paths(paths, needles, what):
    assert not (isinstance(paths, dict) and "error" in paths), "%s failed:\n%s" % (what, paths["error"])
    assert isinstance(paths, list) and paths, "%s returned no path: %r" % (what, paths)
    for path in paths:
        assert isinstance(path, list) and path and all(isinstance(e, str) and e for e in path), path
    assert any(path_matches(p, needles) for p in paths), (
        "no path of %s names the holder %r; got:\n%s" % (what, needles, "\n".join(" -> ".join(p) for p in paths)))


# ---- every leak ------------------------------------------------------------

@pytest.mark.parametrize("leak", LEAKS, ids=repr)
def test_leak_grows_in_every_round(harness, leak):
    run = run_leak(harness, leak)
    assert len(run.rounds) == ROUNDS
    for name in leak.grows:
        counts = run.count_deltas(name)
        assert sustained(counts), "scenario %d: %s should grow in every round, got %r" % (
            leak.scenario, name, counts)
        assert sustained(run.byte_deltas(name)), (name, run.byte_deltas(name))
        # The diff's absolute columns agree with census().get() of the same round.
        watched = [r["watch"][name][0] for r in run.rounds]
        assert watched == sorted(watched) and len(set(watched)) == ROUNDS, watched
        assert [b - a for a, b in zip([run.start["watch"][name][0]] + watched, watched)] == counts


@pytest.mark.parametrize("leak", LEAKS, ids=repr)
def test_leak_new_objects_sample(harness, leak):
    run = run_leak(harness, leak)
    sample = run.final["new_objects"]
    assert isinstance(sample, list), sample
    assert 1 <= len(sample) <= 8, sample
    assert set(sample) == {leak.sample}, sample


# ---- leaks held by something -------------------------------------------------

@pytest.mark.parametrize("leak", HELD, ids=repr)
def test_held_leak_survives_collection_and_is_not_cyclic_garbage(harness, leak):
    run = run_leak(harness, leak)
    last = run.rounds[-1]["watch"][leak.sample][0]
    after = run.final["watch_after_collect"][leak.sample][0]
    assert after >= last - leak.drains, "census(collect=True) freed held %s: %d -> %d" % (leak.sample, last, after)
    assert run.cyclic_counts(leak.sample)[-1] == 0, "held objects reported as cyclic garbage"
    assert sustained(run.reachable_deltas(leak.sample)), run.reachable_deltas(leak.sample)


@pytest.mark.parametrize("leak", HELD, ids=repr)
def test_holder_path_of_new_objects_names_the_holder(harness, leak):
    run = run_leak(harness, leak)
    check_paths(run.final["holder_paths"], leak.holder, "holder_paths(new_objects(%r))" % leak.sample)


@pytest.mark.parametrize("leak", HELD, ids=repr)
def test_holder_path_by_type_name_names_the_holder(harness, leak):
    run = run_leak(harness, leak)
    check_paths(run.final["holder_paths_by_name"], leak.holder, "holder_paths(%r)" % leak.sample)


def test_holder_graph_is_dot_naming_the_cache(harness):
    leak = BY_MODULE["leak_global_cache"]
    run = run_leak(harness, leak, graph=True)
    dot = run.final["holder_graph"]
    assert isinstance(dot, str), dot
    assert re.match(r"\s*(strict\s+)?digraph\b", dot), dot[:200]
    assert dot.rstrip().endswith("}"), dot[-200:]
    assert "INVOICE_CACHE" in dot and "leak_global_cache" in dot, dot
    # Labels are escaped: every double quote inside a label is preceded by a backslash,
    # so quotes pair up and the text parses as dot.
    unescaped = re.sub(r'\\.', "", dot)
    assert unescaped.count('"') % 2 == 0, dot


# ---- resources: descriptors and threads --------------------------------------

@pytest.mark.parametrize("module", ["leak_unclosed_files", "leak_sqlite_connections"])
def test_unclosed_resources_grow_file_descriptors(harness, module):
    run = run_leak(harness, BY_MODULE[module])
    files = run.facts("fds_by_kind", "file")
    total = run.facts("fds")
    steps = [b - a for a, b in zip(files, files[1:])]
    assert all(s >= TICKS for s in steps), "file fds per round: %r (one per request expected)" % files
    assert all(b - a >= s for a, b, s in zip(total, total[1:], steps)), (total, files)


def test_threads_never_joined_grow_os_threads(harness):
    run = run_leak(harness, BY_MODULE["leak_threads"])
    threads = run.facts("threads")
    assert [b - a for a, b in zip(threads, threads[1:])] == [TICKS] * ROUNDS, threads


# ---- reference cycles ---------------------------------------------------------

@pytest.mark.parametrize("leak", CYCLIC, ids=repr)
def test_cycles_are_counted_as_cyclic_garbage(harness, leak):
    run = run_leak(harness, leak)
    for name in leak.grows:
        cyc = run.cyclic_counts(name)[1:]
        live = [r["watch"][name][0] for r in run.rounds]
        assert sustained([b - a for a, b in zip(run.cyclic_counts(name), cyc)]), cyc
        # Every instance is garbage once its request returns: all of them are cyclic garbage.
        assert cyc == live, "cyclic_garbage %r vs census %r of %s" % (cyc, live, name)
        assert run.reachable_deltas(name) == [0] * ROUNDS


def test_gc_state_reports_the_collector_disabled(harness):
    run = run_leak(harness, BY_MODULE["leak_cycles_gc_disabled"])
    assert [r["gc_state"]["enabled"] for r in [run.start] + run.rounds] == [False] * (ROUNDS + 1)


def test_gc_state_reports_the_raised_threshold(harness):
    run = run_leak(harness, BY_MODULE["leak_cycles_del"])
    for rec in [run.start] + run.rounds:
        assert rec["gc_state"]["enabled"] is True
        assert rec["gc_state"]["thresholds"][0] == 200000
        assert rec["gc_state"]["garbage"] == 0


@pytest.mark.parametrize("leak", CYCLIC, ids=repr)
def test_census_collect_true_frees_the_cycles(harness, leak):
    """census(collect=True) runs a full collection, also when the program turned
    automatic collection off (gc.collect() works with gc disabled)."""
    run = run_leak(harness, leak)
    for name in leak.grows:
        assert run.final["watch_after_collect"][name][0] == 0, (
            "%s still alive after census(collect=True): %r; gc_state %r"
            % (name, run.final["watch_after_collect"][name], run.final["gc_state"]))


# ---- controls -----------------------------------------------------------------

@pytest.mark.parametrize("module", CONTROLS)
def test_control_has_no_sustained_growth(harness, module):
    run = harness(module, rounds=ROUNDS, ticks=TICKS)
    assert len(run.rounds) == ROUNDS
    growing = {}
    for name in run.changed_types():
        if name.startswith("leaktrace."):
            continue                # the harness's own Census objects
        deltas = run.reachable_deltas(name)
        if sustained(deltas):
            growing[name] = deltas
    assert not growing, "control %s flagged as leaking: %r" % (module, growing)
    for key in ("fds", "threads"):
        series = run.facts(key)
        assert not sustained([b - a for a, b in zip(series, series[1:])]), (key, series)


@pytest.mark.parametrize("module", [m for m in CONTROLS if m != "control_collected_cycles"])
def test_control_census_is_flat_without_cycle_correction(harness, module):
    """Controls without cycles look flat in the raw census as well."""
    run = harness(module, rounds=ROUNDS, ticks=TICKS)
    growing = {name: run.count_deltas(name) for name in run.changed_types()
               if not name.startswith("leaktrace.") and sustained(run.count_deltas(name))}
    assert not growing, growing


def test_collected_cycles_are_garbage_not_leaks(harness):
    run = harness("control_collected_cycles", sample="control_collected_cycles.TreeNode",
                  rounds=ROUNDS, ticks=TICKS)
    name = "control_collected_cycles.TreeNode"
    live = [r["watch"][name][0] for r in run.rounds]
    assert run.cyclic_counts(name)[1:] == live, "every TreeNode left after a request is cyclic garbage"
    assert run.final["watch_after_collect"][name][0] == 0
    # Automatic collections ran during the rounds: not every tree is still there.
    assert max(live) < ROUNDS * TICKS * 13, live


# ---- the targets are real programs ---------------------------------------------

ALL_TARGETS = sorted(p.stem for p in TARGETS_DIR.glob("*.py"))


def test_catalogue_is_complete():
    # leak_slow_amid_churn is the run suite's own (test_run_scenarios.py): a
    # slow leak in heavy churn, which a census diff over a few rounds cannot
    # tell from the churn.
    assert {leak.module for leak in LEAKS} | set(CONTROLS) == set(ALL_TARGETS) - {"leak_slow_amid_churn"}
    assert {leak.scenario for leak in LEAKS} == {1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 15}


def test_targets_run_as_standalone_programs(tmp_path):
    """Each target runs forever as __main__ (later `leaktrace run` will run them)."""
    procs = {}
    try:
        for name in ALL_TARGETS:
            procs[name] = subprocess.Popen(
                [sys.executable, str(TARGETS_DIR / (name + ".py"))], cwd=str(tmp_path),
                env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"},
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1.5)
        dead = {name: (p.returncode, p.stderr.read().decode()[-2000:])
                for name, p in procs.items() if p.poll() is not None}
        assert not dead, dead
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
            p.wait()
            p.stdout.close()
            p.stderr.close()

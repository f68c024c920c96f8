"""The pytest plugin on real suites (tests/targets/pytest_suites), run with
pytester in subprocesses: every test of the leaky suite (one per
SCENARIOS.md scenario that a test can express) must fail with its finding,
every test of the clean suite must pass; and the plugin's options, markers,
messages, JSON file, xdist and asyncio support."""
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SUITES = Path(__file__).resolve().parents[2] / "targets" / "pytest_suites"

pytest.importorskip("pytest_asyncio")


def _copy_suite(pytester, *names):
    for name in names + ("pytest.ini",):
        shutil.copy(SUITES / name, pytester.path / name)


def _leaky_expectations():
    """EXPECT of the leaky suite (importing it runs none of its tests)."""
    spec = importlib.util.spec_from_file_location("leaktrace_leaky_suite_expect", SUITES / "leaky_suite.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EXPECT


def _load(path):
    doc = json.loads(Path(path).read_text())
    assert doc["schema"] == "leaktrace/pytest-1"
    return {t["nodeid"].split("::")[-1]: t for t in doc["tests"]}, doc


def test_leaky_suite_every_scenario_fails_with_its_finding(pytester):
    _copy_suite(pytester, "leaky_suite.py")
    out = pytester.path / "leaks.json"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--leaktrace", "--leaktrace-json", str(out),
                                           "leaky_suite.py")
    tests, doc = _load(out)
    expect = {"EXPECT": _leaky_expectations()}
    assert set(tests) == set(expect["EXPECT"]), "every leaky test is checked"
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == len(expect["EXPECT"]) and not outcomes.get("passed"), outcomes
    problems = []
    for name, (typ, category) in expect["EXPECT"].items():
        t = tests[name]
        if t["verdict"] != "leak" or not t["findings"]:
            problems.append("%s: %s" % (name, t["verdict"]))
            continue
        types = [f["type"] for f in t["findings"]]
        cats = [f["category"] for f in t["findings"]]
        acceptable = typ if isinstance(typ, tuple) else (typ,)
        if typ is not None and not set(acceptable) & set(types):
            problems.append("%s: %s not in %s" % (name, typ, types))
        if category is not None and category not in cats:
            problems.append("%s: %s not in %s" % (name, category, cats))
        first = t["findings"][0]
        # Where and who: the allocation site is in the suite, the holder path
        # starts at a root (or the thread, for the thread scenario).
        if first["site"] is None or not first["site"]["file"].endswith("leaky_suite.py"):
            problems.append("%s: site %s" % (name, first["site"]))
        if not first["holder_path"]:
            problems.append("%s: no holder path" % name)
        if first["count_per_run"] is None or min(first["count_per_run"]) < 1:
            problems.append("%s: per run %s" % (name, first["count_per_run"]))
    assert not problems, "\n".join(problems)
    assert doc["checked"] == len(expect["EXPECT"]) == doc["leaking"]
    # Resource series travel with the findings.
    kinds = {g["kind"] for g in tests["test_unclosed_files"]["growth"] if g["leaking"]}
    assert "fds" in kinds
    kinds = {g["kind"] for g in tests["test_threads_not_joined"]["growth"] if g["leaking"]}
    assert "threads" in kinds
    kinds = {g["kind"] for g in tests["test_asyncio_tasks_kept"]["growth"] if g["leaking"]}
    assert "tasks" in kinds


def test_clean_suite_passes(pytester):
    _copy_suite(pytester, "clean_suite.py")
    out = pytester.path / "clean.json"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--leaktrace", "--leaktrace-json", str(out),
                                           "clean_suite.py")
    tests, doc = _load(out)
    leaking = {n: [f["type"] for f in t["findings"]] for n, t in tests.items() if t["verdict"] != "no-leak"}
    assert not leaking
    result.assert_outcomes(passed=doc["checked"])
    # Parametrised and asyncio tests were checked, each case on its own.
    assert {"test_parametrized[10]", "test_parametrized[1000]", "test_asyncio_awaited"} <= set(tests)


MARKERS = '''
import pytest

HELD = []

class Thing:
    pass

@pytest.mark.leaktrace(warmup=1, repeat=4)
def test_marked_leak():
    HELD.append(Thing())

def test_unmarked_leak():
    HELD.append(Thing())

@pytest.mark.leaktrace(max_objects=1)
def test_within_allowance():
    HELD.append(Thing())

@pytest.mark.leaktrace(ignore=["test_markers.Thing"])
def test_ignored_type():
    HELD.append(Thing())

@pytest.mark.leaktrace
@pytest.mark.parametrize("n", [1, 3])
def test_param_leak(n):
    HELD.extend(Thing() for _ in range(n))

@pytest.mark.no_leaktrace
def test_opted_out():
    HELD.append(Thing())

RUNS = []

@pytest.mark.leaktrace
def test_fails_when_repeated():
    RUNS.append(1)
    assert len(RUNS) == 1
'''


def test_markers_ini_and_options(pytester):
    pytester.makepyfile(test_markers=MARKERS)
    pytester.makeini("[pytest]\nleaktrace_repeat = 3\n")
    out = pytester.path / "r.json"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--leaktrace-json", str(out))
    tests, doc = _load(out)
    # Without --leaktrace only marked tests are checked.
    assert set(tests) == {"test_marked_leak", "test_within_allowance", "test_ignored_type", "test_param_leak[1]",
                          "test_param_leak[3]"}
    assert tests["test_marked_leak"]["runs"] == 4 and tests["test_marked_leak"]["warmup"] == 1
    assert tests["test_param_leak[1]"]["runs"] == 3       # the ini default
    assert tests["test_marked_leak"]["verdict"] == "leak"
    assert tests["test_param_leak[3]"]["findings"][0]["count_per_run"] == [3, 3, 3]
    assert tests["test_within_allowance"]["verdict"] == "no-leak"
    assert tests["test_ignored_type"]["verdict"] == "no-leak"
    # A test that fails when repeated is reported as it fails, unchecked.
    result.assert_outcomes(passed=4, failed=4)
    result.stdout.fnmatch_lines(["*test_fails_when_repeated*assert 3 == 1*"])
    # --leaktrace checks all but the opted-out.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--leaktrace", "--leaktrace-json", str(out))
    tests, _ = _load(out)
    assert "test_unmarked_leak" in tests and "test_opted_out" not in tests
    assert tests["test_unmarked_leak"]["verdict"] == "leak"


def test_failure_message_is_short_and_actionable(pytester):
    pytester.makepyfile(test_short='''
CACHE = {}

class Session:
    pass

def test_leak():
    for i in range(5):
        CACHE[len(CACHE)] = Session()
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--leaktrace")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    block = text.split("_ test_leak _")[1].split("---------- leaktrace")[0].strip().splitlines()
    block = [b for b in block if b.strip("_ ")]
    assert len(block) <= 20, block
    msg = "\n".join(block)
    assert "test_short.Session" in msg and "unbounded-container" in msg
    assert "objects +5 +5 +5 +5 +5" in msg                      # per run
    assert "test_short.py:8 in test_leak" in msg                # site
    assert "module test_short \u2192 .CACHE" in msg             # holder
    assert "hint" in msg and "CACHE" in msg


def test_json_refuses_to_overwrite_a_foreign_file(pytester):
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    target = pytester.path / "notes.json"
    target.write_text('{"mine": true}\n')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--leaktrace", "--leaktrace-json", str(target))
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--leaktrace-json*notes.json exists and is not a leaktrace JSON file*"])
    assert target.read_text() == '{"mine": true}\n'


def test_xdist_workers_check_their_tests_and_the_summary_merges(pytester):
    pytest.importorskip("xdist")
    _copy_suite(pytester, "leaky_suite.py", "clean_suite.py")
    out = pytester.path / "x.json"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--leaktrace", "--leaktrace-json",
                                           str(out), "-k", "unbounded or unclosed_files or warmup or lru or logging",
                                           "leaky_suite.py", "clean_suite.py")
    tests, doc = _load(out)
    assert set(tests) == {"test_unbounded_container", "test_unclosed_files", "test_warmup_cache",
                          "test_lru_cache_bounded", "test_lru_cache_fixed_keys", "test_logging",
                          "test_logging_caplog", "test_logging_handler_added"}
    assert doc["leaking"] == 3
    result.assert_outcomes(passed=5, failed=3)
    result.stdout.fnmatch_lines(["*8 tests checked for leaks, 3 leaking*"])

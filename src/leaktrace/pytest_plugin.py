"""pytest plugin: leak checks per test (registered as the ``pytest11`` entry point).

    pytest --leaktrace                      # check every test
    pytest --leaktrace-json leaks.json      # and write every verdict as JSON

    @pytest.mark.leaktrace(warmup=2, repeat=5, max_bytes=0, max_objects=0,
                           fds=True, threads=True, tasks=True, ignore=["mymod.Cache*"])
    def test_handler(): ...

    @pytest.mark.no_leaktrace               # never checked, even with --leaktrace
    def test_fills_a_global_cache_on_purpose(): ...

Defaults come from the ini options ``leaktrace_warmup`` (2), ``leaktrace_repeat``
(5), ``leaktrace_max_bytes`` (0), ``leaktrace_max_objects`` (0),
``leaktrace_fds``, ``leaktrace_threads``, ``leaktrace_tasks``,
``leaktrace_sites`` (true) and ``leaktrace_ignore`` (type names, one a line).

Method: the test's call phase (``item.runtest()``, so pytest-asyncio and
parametrised tests run as they normally do) is run ``warmup`` times, then
``repeat`` times with a checkpoint before the first measured run and after
each; then once more as the real call, whose outcome and captured output
are the test's. Fixtures are set up before and torn down after all of it,
outside the measured region. Between runs, what pytest itself keeps of a
run is dropped (the captured output of the repeated runs, the records of
its log-capturing handlers), so pytest's own allocations are not blamed on
the test; objects held only through a fixture's value (``item.funcargs``)
are not findings. A test that fails when repeated is reported as it fails,
unchecked. Under pytest-xdist each worker checks its own tests; the
verdicts travel with the test reports, so the terminal summary and the JSON
file of the controller cover every test.

The leak checking machinery (leaktrace.check and the C core's RepeatCheck)
is used only for tests that are checked.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List, Optional

import pytest

_KEY = "leaktrace"
_SCHEMA = "leaktrace/pytest-1"
_BOOL_INI = ("fds", "threads", "tasks", "sites")


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("leaktrace", "leak checks (leaktrace)")
    group.addoption("--leaktrace", action="store_true", default=False,
                    help="check every test for leaks (objects, memory, descriptors, threads, asyncio tasks)")
    group.addoption("--leaktrace-json", metavar="FILE", default=None,
                    help="write every checked test's verdict and findings to FILE (JSON)")
    parser.addini("leaktrace_warmup", "leaktrace: unmeasured runs of a test first (2)", default="2")
    parser.addini("leaktrace_repeat", "leaktrace: measured runs of a test (5)", default="5")
    parser.addini("leaktrace_max_bytes", "leaktrace: growth in bytes per run allowed (0)", default="0")
    parser.addini("leaktrace_max_objects", "leaktrace: growth in objects per run allowed (0)", default="0")
    for name in _BOOL_INI:
        parser.addini("leaktrace_" + name, "leaktrace: judge %s too (true)" % name, type="bool", default=True)
    parser.addini("leaktrace_ignore", "leaktrace: type names (or prefix*) never judged", type="linelist",
                  default=[])


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "leaktrace(warmup=2, repeat=5, max_bytes=0, max_objects=0, fds=True, "
                                       "threads=True, tasks=True, ignore=[]): check this test for leaks")
    config.addinivalue_line("markers", "no_leaktrace: never check this test for leaks")
    path = config.getoption("leaktrace_json")
    if path and not hasattr(config, "workerinput") and os.path.exists(path) and not _is_ours(path):
        raise pytest.UsageError("--leaktrace-json: %s exists and is not a leaktrace JSON file; "
                                "refusing to overwrite it" % path)
    config.pluginmanager.register(LeaktracePlugin(config), "leaktrace-checks")


def _is_ours(path: str) -> bool:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f).get("schema") == _SCHEMA
    except (OSError, ValueError, AttributeError):
        return False


def _drain(item: Any) -> None:
    """Drops what pytest keeps of a repeated run: captured output (global
    and capsys-style fixtures) and the records of its log-capturing
    handlers (the real call starts with them empty, as it would have)."""
    capman = item.config.pluginmanager.getplugin("capturemanager")
    if capman is not None and capman.is_globally_capturing():
        capman.read_global_capture()
    funcargs = getattr(item, "funcargs", {}) or {}
    for name in ("capsys", "capfd", "capsysbinary", "capfdbinary"):
        fixture = funcargs.get(name)
        if fixture is not None:
            fixture.readouterr()
    try:
        from _pytest.logging import LogCaptureHandler
    except ImportError:
        return
    for handler in logging.getLogger().handlers:
        if isinstance(handler, LogCaptureHandler):
            # In place: new lists would be new objects of the measured runs.
            del handler.records[:]
            handler.stream.seek(0)
            handler.stream.truncate()


class LeaktracePlugin:
    def __init__(self, config: Any) -> None:
        self.config = config
        self.all = config.getoption("leaktrace")
        self.json_path = config.getoption("leaktrace_json")
        self.results: List[Dict[str, Any]] = []
        self.is_worker = hasattr(config, "workerinput")

    # -- which tests, with which options --
    def options(self, item: Any) -> Optional[Dict[str, Any]]:
        if not isinstance(item, pytest.Function) or item.get_closest_marker("no_leaktrace") is not None:
            return None
        marker = item.get_closest_marker("leaktrace")
        if marker is None and not self.all:
            return None
        ini = self.config.getini
        opts: Dict[str, Any] = {
            "warmup": int(ini("leaktrace_warmup")),
            "repeat": int(ini("leaktrace_repeat")),
            "max_bytes": float(ini("leaktrace_max_bytes")),
            "max_objects": float(ini("leaktrace_max_objects")),
            "ignore": list(ini("leaktrace_ignore")),
        }
        for name in _BOOL_INI:
            opts[name] = bool(ini("leaktrace_" + name))
        if marker is not None:
            unknown = set(marker.kwargs) - set(opts) - {"min_runs"}
            if unknown or marker.args:
                raise pytest.UsageError("@pytest.mark.leaktrace takes keyword arguments %s, not %s"
                                        % (", ".join(sorted(opts)), ", ".join(sorted(unknown)) or marker.args))
            opts.update(marker.kwargs)
        if opts["warmup"] < 0 or opts["repeat"] < 2:
            raise pytest.UsageError("leaktrace: warmup must be 0 or more and repeat 2 or more (%s)" % item.nodeid)
        return opts

    # -- the measurement: before the real call, innermost of the wrappers
    # (inside pytest's capture and logging), so the runs see what the test
    # sees and pytest's per-phase state can be drained between them --
    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: Any) -> Any:
        opts = self.options(item)
        if opts is None:
            return (yield)
        verdict = self.measure(item, opts)
        result = yield
        if verdict is not None:
            entry = {"nodeid": item.nodeid, **verdict.as_dict()}
            item.user_properties.append((_KEY, json.dumps(entry)))
            if verdict.leaking:
                pytest.fail(verdict.summary(), pytrace=False)
        return result

    def measure(self, item: Any, opts: Dict[str, Any]) -> Any:
        from leaktrace.check import _Measure

        warmup, repeat = opts.pop("warmup"), opts.pop("repeat")

        def run() -> None:
            item.runtest()
            _drain(item)

        m = None
        try:
            for _ in range(warmup):
                run()
            m = _Measure(repeat, **opts)
            m.checkpoint()
            for _ in range(repeat):
                run()
                m.checkpoint()
        except Exception:
            # Fails when repeated: the real call reports it as it fails.
            if m is not None:
                m.stop()
            _drain(item)
            return None
        verdict = m.verdict(warmup=warmup, name=item.nodeid)
        return verdict

    # -- results: from the reports, so that xdist workers' verdicts arrive too --
    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when != "call":
            return
        for key, value in getattr(report, "user_properties", ()):
            if key == _KEY:
                self.results.append(json.loads(value))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or not self.results:
            return
        leaking = [r for r in self.results if r["verdict"] == "leak"]
        terminalreporter.write_sep("-", "leaktrace")
        terminalreporter.write_line("%d tests checked for leaks, %d leaking" % (len(self.results), len(leaking)))
        for r in leaking:
            kinds = ", ".join("%s (%s)" % (f["type"], f["category"]) for f in r["findings"][:3])
            terminalreporter.write_line("  LEAK %s: %s" % (r["nodeid"], kinds))
        if self.json_path:
            terminalreporter.write_line("details: %s" % self.json_path)

    def pytest_sessionfinish(self, session: Any) -> None:
        if self.is_worker or not self.json_path:
            return
        doc = {"schema": _SCHEMA, "checked": len(self.results),
               "leaking": sum(r["verdict"] == "leak" for r in self.results), "tests": self.results}
        tmp = self.json_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        os.replace(tmp, self.json_path)

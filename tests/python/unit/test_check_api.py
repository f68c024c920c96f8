"""leaktrace.check, watch, assert_no_leaks, LeakCheckMixin and the C
RepeatCheck under them, on real leaking and real clean code."""
import asyncio
import functools
import json
import unittest

import pytest

import leaktrace
from leaktrace import _core


class Record:
    pass


HELD = []


def leak_three():
    HELD.extend(Record() for _ in range(3))


def clean_work():
    data = [Record() for _ in range(1000)]
    return len(data)


@functools.lru_cache(maxsize=16)
def _cached(n):
    return [n] * 10


def clean_cache_warm():
    for n in range(10):
        _cached(n)


def test_check_leak_finding_per_run():
    v = leaktrace.check(leak_three, warmup=1, repeat=5)
    assert v.verdict == "leak" and v.leaking and not v
    f = v.findings[0]
    assert f.type == "test_check_api.Record"
    assert f.count_per_run == [3, 3, 3, 3, 3]
    assert f.holder_path[:2] == ["module test_check_api", ".HELD"]
    assert f.site is not None and f.site["file"].endswith("test_check_api.py")
    assert "leak_three" in f.site["function"] or f.site["function"] == "<genexpr>"     # 3.9/3.10: no qualname
    assert f.category == "unbounded-container" and "HELD" in f.hint
    s = v.summary()
    assert len(s.splitlines()) <= 20 and "objects +3 +3 +3 +3 +3" in s
    assert v.report["schema"] == "leaktrace/report-1" and v.report["leaks"][0]["type"] == f.type
    json.dumps(v.as_dict())


def test_check_clean_code_passes():
    for fn in (clean_work, clean_cache_warm, lambda: bytes(4 << 20)):
        v = leaktrace.check(fn)
        assert v and v.verdict == "no-leak" and v.findings == [], v.summary()


def test_check_coroutine_tasks():
    tasks = []

    async def spawn():
        tasks.append(asyncio.ensure_future(asyncio.sleep(3600)))
        await asyncio.sleep(0)

    v = leaktrace.check(spawn, warmup=1, repeat=4)
    assert v.leaking
    assert any(g["kind"] == "tasks" and g["leaking"] and g["count"] == [1, 1, 1, 1] for g in v.growth)
    tasks.clear()       # their loop is closed: nothing left to cancel them with


def test_allowance_and_ignore():
    assert leaktrace.check(leak_three, max_objects=3)
    assert leaktrace.check(leak_three, ignore=["test_check_api.*"], max_bytes=1 << 20)


def test_watch_context_manager():
    local = []
    with leaktrace.watch() as w:
        for _ in range(5):
            local.append(Record())
            w.checkpoint()
    rep = w.report()
    assert rep["schema"] == "leaktrace/report-1" and rep["verdict"] == "leak"
    assert rep["leaks"][0]["type"] == "test_check_api.Record"
    assert w.verdict.runs == 6
    # One run (no checkpoint inside): growth, not a verdict.
    with leaktrace.watch() as w1:
        local.append(Record())
    assert w1.verdict.verdict == "inconclusive"


def test_watch_decorator_raises_after_the_measured_calls():
    store = []

    @leaktrace.watch(warmup=1, repeat=3, on_leak="raise")
    def handle():
        store.append(Record())

    handle()
    handle()
    handle()
    with pytest.raises(leaktrace.LeakError) as e:
        handle()
    assert "test_check_api.Record" in str(e.value)
    assert handle.leaktrace.verdict.leaking
    handle()        # after the verdict, calls run unmeasured

    @leaktrace.watch(warmup=0, repeat=3)
    def fine():
        return clean_work()

    for _ in range(4):
        fine()
    assert fine.leaktrace.verdict.verdict == "no-leak"


def test_assert_no_leaks_and_mixin():
    with pytest.raises(leaktrace.LeakError):
        leaktrace.assert_no_leaks(leak_three, repeat=3)
    leaktrace.assert_no_leaks(clean_work)

    class Case(leaktrace.LeakCheckMixin, unittest.TestCase):
        def test_leaky(self):
            self.assertNoLeaks(leak_three, repeat=3)

        def test_clean(self):
            self.assertNoLeaks(clean_work)

    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(Case).run(result)
    assert result.testsRun == 2 and len(result.failures) == 1 and not result.errors
    assert "test_leaky" in str(result.failures[0][0]) and "LEAK" in result.failures[0][1]


def test_repeatcheck_bad_input():
    with pytest.raises(ValueError):
        _core.RepeatCheck(repeat=0)
    with pytest.raises(ValueError):
        _core.RepeatCheck(max_bytes=-1)
    with pytest.raises(ValueError):
        _core.RepeatCheck(repeat=3, min_runs=4)
    with pytest.raises(TypeError):
        _core.RepeatCheck(ignore=[1])
    rc = _core.RepeatCheck(repeat=2)
    with pytest.raises(ValueError):
        rc.decide()
    rc.checkpoint()
    rc.checkpoint()
    rc.checkpoint()
    with pytest.raises(ValueError):
        rc.checkpoint()         # 2 runs at most
    assert rc.runs == 2
    with pytest.raises(ValueError):
        rc.report(formats=("pdf",))
    out = rc.report(formats=("json", "text", "html"))
    assert json.loads(out["json"])["schema"] == "leaktrace/report-1"
    assert out["html"].lower().startswith("<!doctype html>") and out["verdict"] in ("leak", "no-leak")
    with pytest.raises(ValueError):
        leaktrace.check(clean_work, repeat=1)

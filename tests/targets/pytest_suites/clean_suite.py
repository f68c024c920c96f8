"""A clean test suite: warm-up caches, bounded caches, logging, regular
expressions, large temporaries, generators, joined threads, closed files,
awaited tasks, fixtures. Run with `pytest --leaktrace`: every test must pass.
Used by tests/python/plugin/test_plugin_suites.py and bench/pytest_compare.py."""
import asyncio
import functools
import json
import logging
import re
import threading

import pytest

_TABLE = {}


def _lookup(key):
    # A cache with a fixed key set: filled during the warm-up.
    if key not in _TABLE:
        _TABLE[key] = [key] * 100
    return _TABLE[key]


def test_warmup_cache():
    for k in range(50):
        _lookup(k)


@functools.lru_cache(maxsize=64)
def _square(n):
    return {"n": n, "sq": n * n}


_calls = [0]


def test_lru_cache_bounded():
    # New arguments on every run; the cache stays at 64 entries.
    for _ in range(40):
        _calls[0] += 1
        _square(_calls[0])


@functools.lru_cache(maxsize=None)
def _parse_config(name):
    return json.loads('{"name": "%s", "debug": false}' % name)


def test_lru_cache_fixed_keys():
    for name in ("a", "b", "c"):
        assert _parse_config(name)["name"] == name


log = logging.getLogger("clean_suite")


def test_logging():
    for i in range(20):
        log.warning("request %d handled", i)


def test_logging_caplog(caplog):
    with caplog.at_level(logging.INFO):
        log.info("hello")
    assert "hello" in caplog.text


_n = [0]


def test_re_compile():
    # A new pattern every run: re's cache is bounded (and purged by the check).
    _n[0] += 1
    assert re.compile(r"item-%d-(\d+)" % _n[0]).match("item-%d-7" % _n[0])


def test_large_temporaries():
    data = bytearray(8 * 1024 * 1024)
    rows = [[i] * 10 for i in range(20000)]
    assert len(data) + len(rows) > 0


def test_generators():
    assert sum(i for i in range(100000)) > 0


def test_thread_joined():
    out = []
    t = threading.Thread(target=out.append, args=(1,))
    t.start()
    t.join()
    assert out == [1]


def test_file_closed(tmp_path):
    p = tmp_path / "x.txt"
    with open(p, "w") as f:
        f.write("x" * 1000)
    with open(p) as f:
        assert f.read(1) == "x"


def test_print(capsys):
    print("hello " * 100)
    assert "hello" in capsys.readouterr().out


@pytest.mark.asyncio
async def test_asyncio_awaited():
    tasks = [asyncio.ensure_future(asyncio.sleep(0)) for _ in range(10)]
    await asyncio.gather(*tasks)


@pytest.fixture
def bucket():
    return []


class Item:
    pass


def test_fixture_state(bucket):
    # The fixture's list gets new objects on every run (the check repeats
    # the test with the same fixture value), but is freed at teardown.
    bucket.extend(Item() for _ in range(10))


@pytest.mark.parametrize("n", [10, 1000])
def test_parametrized(n):
    assert len({i: str(i) for i in range(n)}) == n


class _Registry:
    def __init__(self):
        self.handlers = []

    def add(self, h):
        self.handlers.append(h)

    def remove(self, h):
        self.handlers.remove(h)


REG = _Registry()


def test_callback_unregistered():
    def handler():
        return None
    REG.add(handler)
    REG.remove(handler)


@pytest.fixture(scope="module")
def config():
    return {"retries": 3, "names": [str(i) for i in range(100)]}


@pytest.fixture(scope="session")
def pool():
    conns = [object() for _ in range(4)]
    yield conns
    conns.clear()


@pytest.fixture(scope="class")
def table():
    return {i: i * i for i in range(100)}


class TestScopes:
    def test_wider_scopes(self, config, pool, table):
        # Fixtures of module, session and class scope are set up once;
        # the repeated calls only read them.
        assert config["retries"] == 3 and len(pool) == 4 and table[9] == 81

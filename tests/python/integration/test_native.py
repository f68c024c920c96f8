"""Native allocations: libleaktrace_preload.so in LD_PRELOAD.

Each test runs a small program in a fresh interpreter with the preload
library (from the installed package) in LD_PRELOAD and reads the sites back
through leaktrace._core.native_sites() (or the capture file) in that
program, printed as JSON. The leaky C extension of tests/fixtures/leakyext
is built once per session with the compiler and headers of the Python under
test. Trace mode (LEAKTRACE_NATIVE_MEAN=0) gives exact bytes; sampled mode
is checked against its statistical tolerance.
"""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

import leaktrace

FIXTURE_SRC = Path(__file__).resolve().parents[2] / "fixtures" / "leakyext" / "leakyext.c"
PRELOAD = Path(leaktrace.__file__).resolve().parent / "libleaktrace_preload.so"

pytestmark = [
    pytest.mark.skipif(not PRELOAD.exists(), reason="libleaktrace_preload.so is not installed"),
    # Under `make sanitize` ASan is preloaded first: its malloc would take
    # every call before ours, and the sanitized extension needs it loaded.
    pytest.mark.skipif(bool(os.environ.get("LD_PRELOAD")), reason="another library is preloaded (sanitizers)"),
]


@pytest.fixture(scope="session")
def leakyext_dir(tmp_path_factory):
    """A directory holding the built leakyext module."""
    cc = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
    include = sysconfig.get_paths()["include"]
    if cc is None or not (Path(include) / "Python.h").exists():
        pytest.skip("no C compiler or Python headers to build the fixture extension")
    out = tmp_path_factory.mktemp("leakyext")
    target = out / ("leakyext" + sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-g", "-I" + include, str(FIXTURE_SRC), "-o", str(target)],
                   check=True)
    return out


PRELUDE = """
import json, sys
import leaktrace._core as core

def frames_of(site):
    return [list(f) for f in site.frames]

def report(**extra):
    sites = [{"frames": frames_of(s), "live_bytes": s.live_bytes, "live_count": s.live_count,
              "kind": s.kind, "total_count": s.total_count} for s in core.native_sites()]
    print(json.dumps(dict(sites=sites, stats=core.native_stats(), **extra)))
"""


def run(code, tmp_path, mean=0, preload=True, extra_env=None, ext_dir=None, timeout=120):
    """Runs `code` (after PRELUDE) under the preload library; returns the
    CompletedProcess. The program file is tmp_path/prog.py, so Python frames
    name it."""
    prog = tmp_path / "prog.py"
    prog.write_text(PRELUDE + textwrap.dedent(code))
    env = dict(os.environ)
    env.pop("LEAKTRACE_CAPTURE", None)
    if preload:
        env["LD_PRELOAD"] = str(PRELOAD)
        env["LEAKTRACE_NATIVE_MEAN"] = str(mean)
    else:
        env.pop("LD_PRELOAD", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if ext_dir is not None:
        env["PYTHONPATH"] = str(ext_dir) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra_env or {})
    return subprocess.run([sys.executable, str(prog)], env=env, capture_output=True, text=True, timeout=timeout)


def run_json(code, tmp_path, **kw):
    p = run(code, tmp_path, **kw)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def line_of(tmp_path, marker):
    """The line of prog.py that ends with `marker`."""
    for i, text in enumerate((tmp_path / "prog.py").read_text().splitlines(), 1):
        if text.endswith(marker):
            return i
    raise AssertionError(marker)


def native_functions(site):
    return [f[1] for f in site["frames"] if f[0] == "native"]


def python_frames(site):
    return [(f[1], os.path.basename(f[2]), f[3]) for f in site["frames"] if f[0] == "python"]


def sites_with(result, function):
    return [s for s in result["sites"] if function in native_functions(s)]


def test_extension_leak_is_found_at_its_c_and_python_sites_exactly(tmp_path, leakyext_dir):
    r = run_json("""
        import leakyext

        def handle_request():
            leakyext.leak(200, 1000)  # LEAK

        for _ in range(3):
            handle_request()
        report()
        """, tmp_path, ext_dir=leakyext_dir)
    line = line_of(tmp_path, "# LEAK")
    sites = sites_with(r, "leaky_alloc_buffers")
    assert len(sites) == 1, sites
    site = sites[0]
    assert site["kind"] == "heap"
    assert site["live_bytes"] == 600 * 1000 and site["live_count"] == 600
    natives = native_functions(site)
    assert natives[0] == "leaky_alloc_buffers" and "leaky_leak" in natives
    assert any(f[0] == "native" and "leakyext" in os.path.basename(f[2] or "") for f in site["frames"])
    assert python_frames(site)[0] == ("handle_request", "prog.py", line)
    assert r["stats"]["mode"] == "trace" and r["stats"]["python_joined"] is True


def test_extension_leak_in_sampled_mode_is_within_twenty_percent(tmp_path, leakyext_dir):
    # 16 MiB in 4 KiB blocks at a 16 KiB mean: about 900 samples, so the
    # estimate's standard error is near 3.5 %; 20 % is over 5 of them.
    r = run_json("""
        import leakyext

        def fill():
            for _ in range(16):
                leakyext.leak(256, 4096)  # LEAK

        fill()
        report()
        """, tmp_path, ext_dir=leakyext_dir, mean=16384)
    leaked = 16 * 256 * 4096
    sites = sites_with(r, "leaky_alloc_buffers")
    estimate = sum(s["live_bytes"] for s in sites)
    assert abs(estimate - leaked) <= 0.2 * leaked, (estimate, leaked)
    assert r["stats"]["mode"] == "sampled" and r["stats"]["sample_mean"] == 16384
    line = line_of(tmp_path, "# LEAK")
    assert all(python_frames(s)[0] == ("fill", "prog.py", line) for s in sites)


def test_freed_buffers_leave_nothing_live(tmp_path, leakyext_dir):
    r = run_json("""
        import leakyext
        leakyext.churn(5000, 1000)
        report()
        """, tmp_path, ext_dir=leakyext_dir)
    assert sites_with(r, "leaky_churn_buffers") == []
    assert r["stats"]["samples"] > 5000


def test_ctypes_malloc_without_free_is_found_with_its_python_line(tmp_path):
    # ctypes releases the GIL around the call: the Python stack is read
    # from the calling thread's own (frozen) frames.
    r = run_json("""
        import ctypes
        libc = ctypes.CDLL(None)
        libc.malloc.restype = ctypes.c_void_p
        libc.free.argtypes = [ctypes.c_void_p]

        def leak():
            for _ in range(100):
                libc.malloc(3000)  # LEAK

        def control():
            for _ in range(100):
                libc.free(libc.malloc(5000))  # CONTROL

        leak()
        control()
        report()
        """, tmp_path)
    leak_line, control_line = line_of(tmp_path, "# LEAK"), line_of(tmp_path, "# CONTROL")
    at_leak = [s for s in r["sites"] if ("leak", "prog.py", leak_line) in python_frames(s)]
    assert len(at_leak) == 1 and at_leak[0]["live_bytes"] == 300000 and at_leak[0]["live_count"] == 100
    assert python_frames(at_leak[0])[0] == ("leak", "prog.py", leak_line)
    assert [s for s in r["sites"] if ("control", "prog.py", control_line) in python_frames(s)] == []


def test_threads_allocating_concurrently(tmp_path, leakyext_dir):
    # One thread exists before the extension is imported, three come after;
    # all leak and churn at once, with and without the GIL.
    r = run_json("""
        import threading
        import leakyext
        go = threading.Event()

        def worker():
            go.wait()
            for _ in range(10):
                leakyext.leak(50, 1000)  # LEAK
                leakyext.churn(200, 64)
                leakyext.leak_nogil(10, 500)  # NOGIL

        early = threading.Thread(target=worker)
        early.start()
        import leaktrace._core
        threads = [early] + [threading.Thread(target=worker) for _ in range(3)]
        for t in threads[1:]:
            t.start()
        go.set()
        for t in threads:
            t.join()
        report()
        """, tmp_path, ext_dir=leakyext_dir)
    leak_line, nogil_line = line_of(tmp_path, "# LEAK"), line_of(tmp_path, "# NOGIL")
    sites = sites_with(r, "leaky_alloc_buffers")
    gil = [s for s in sites if python_frames(s)[:1] == [("worker", "prog.py", leak_line)]]
    nogil = [s for s in sites if python_frames(s)[:1] == [("worker", "prog.py", nogil_line)]]
    assert sum(s["live_bytes"] for s in gil) == 4 * 10 * 50 * 1000
    assert sum(s["live_bytes"] for s in nogil) == 4 * 10 * 10 * 500
    assert sites_with(r, "leaky_churn_buffers") == []
    assert r["stats"]["dropped"] == 0


def test_fork_in_a_preloaded_process(tmp_path, leakyext_dir):
    # A thread keeps allocating while the main thread forks; each child goes
    # on tracking with a consistent copy of the tables.
    r = run_json("""
        import os, threading
        import leakyext
        stop = threading.Event()
        source = open(__file__).read().splitlines()
        BEFORE = 1 + next(i for i, s in enumerate(source) if s.endswith("# BEFORE"))
        CHILD = 1 + next(i for i, s in enumerate(source) if s.endswith("# CHILD"))

        def at(sites, line):
            return sum(s.live_bytes for s in sites if ("python", "<module>", __file__, line) in s.frames)

        def busy():
            while not stop.is_set():
                leakyext.churn(100, 256)

        t = threading.Thread(target=busy)
        t.start()
        leakyext.leak(10, 1000)  # BEFORE
        children = []
        for _ in range(5):
            pid = os.fork()
            if pid == 0:
                leakyext.leak(20, 1000)  # CHILD
                leakyext.churn(1000, 100)
                sites = core.native_sites()
                os._exit(0 if (at(sites, BEFORE), at(sites, CHILD)) == (10000, 20000) else 3)
            children.append(pid)
        statuses = [os.waitpid(pid, 0)[1] for pid in children]
        stop.set()
        t.join()
        report(statuses=statuses)
        """, tmp_path, ext_dir=leakyext_dir)
    assert r["statuses"] == [0] * 5
    before, child = line_of(tmp_path, "# BEFORE"), line_of(tmp_path, "# CHILD")
    at_before = [s for s in r["sites"] if ("<module>", "prog.py", before) in python_frames(s)]
    assert sum(s["live_bytes"] for s in at_before) == 10000
    assert not [s for s in r["sites"] if ("<module>", "prog.py", child) in python_frames(s)]


def test_aligned_realloc_and_mmap_kinds(tmp_path, leakyext_dir):
    r = run_json("""
        import leakyext
        leakyext.kinds(5)  # KINDS
        leakyext.leak(4, 1 << 20)  # BIG
        report()
        """, tmp_path, ext_dir=leakyext_dir)
    kinds_line = line_of(tmp_path, "# KINDS")
    rounds = [s for s in r["sites"] if ("<module>", "prog.py", kinds_line) in python_frames(s)]
    heap = sorted((s["live_bytes"], s["live_count"]) for s in rounds if s["kind"] == "heap")
    # posix_memalign 1000, aligned_alloc 2048, calloc 3000, a realloc chain
    # ending at 4000; one of each per round is kept, the other freed.
    assert heap == [(5000, 5), (10240, 5), (15000, 5), (20000, 5)], heap
    chain = [s for s in rounds if s["live_bytes"] == 20000][0]
    assert chain["total_count"] == 5 * 4    # malloc, then three reallocs that moved or grew
    mmaps = [(s["live_bytes"], s["live_count"]) for s in rounds if s["kind"] == "mmap"]
    assert mmaps == [(5 * 65536, 5)]
    # glibc maps big blocks through its internal mmap: heap only, counted once.
    big = sites_with(r, "leaky_alloc_buffers")
    assert [(s["kind"], s["live_bytes"]) for s in big] == [("heap", 4 << 20)]


def test_python_starts_and_exits_cleanly_under_the_preload(tmp_path):
    env = dict(os.environ, LD_PRELOAD=str(PRELOAD))
    env.pop("LEAKTRACE_CAPTURE", None)
    for i in range(20):
        if i % 2:
            env["LEAKTRACE_NATIVE_MEAN"] = "0"
        else:
            env.pop("LEAKTRACE_NATIVE_MEAN", None)
        p = subprocess.run([sys.executable, "-c", "pass"], env=env, capture_output=True, timeout=60)
        assert (p.returncode, p.stdout, p.stderr) == (0, b"", b"")


def test_capture_file_has_native_and_python_frames(tmp_path, leakyext_dir):
    capture = tmp_path / "native.lt"
    p = run("""
        import leakyext

        def handle():
            leakyext.leak(100, 1000)  # LEAK

        handle()
        """, tmp_path, ext_dir=leakyext_dir, extra_env={"LEAKTRACE_CAPTURE": str(capture)})
    assert p.returncode == 0, p.stderr
    line = line_of(tmp_path, "# LEAK")
    d = leaktrace._core.read_capture(str(capture))
    assert d["complete"] and d["header"]["mode"] == "trace"
    assert "prog.py" in " ".join(d["header"]["argv"])
    last = d["checkpoints"][-1]
    found = []
    for stack_id, (nbytes, count) in last["sites"].items():
        frames = [d["frames"][i] for i in d["stacks"][stack_id]]
        functions = [f["function"] for f in frames]
        if "leaky_alloc_buffers" in functions:
            found.append((nbytes, count, frames))
    assert len(found) == 1 and found[0][:2] == (100000, 100)
    frames = found[0][2]
    assert frames[0]["function"] == "leaky_alloc_buffers" and frames[0]["address"]
    assert "leakyext" in frames[0]["file"]
    assert any(f["function"] == "handle" and f["file"].endswith("prog.py") and f["line"] == line for f in frames)
    assert last["native_heap"] >= 100000 and last["rss"] > 0


def test_capture_per_process_with_pid_in_the_path(tmp_path):
    # Without "%p" only the first process writes (the variable is taken out
    # of the environment); with it, each exec'd child writes its own.
    p = run("""
        import subprocess, sys
        subprocess.run([sys.executable, "-c", "import ctypes; ctypes.CDLL(None).malloc(100)"], check=True)
        """, tmp_path, extra_env={"LEAKTRACE_CAPTURE": str(tmp_path / "cap-%p.lt")})
    assert p.returncode == 0, p.stderr
    files = sorted(tmp_path.glob("cap-*.lt"))
    assert len(files) == 2
    pids = set()
    for f in files:
        d = leaktrace._core.read_capture(str(f))
        assert d["complete"] and f.name == "cap-%d.lt" % d["header"]["pid"]
        pids.add(d["header"]["pid"])
    assert len(pids) == 2


def test_preload_library_is_found_beside_the_extension():
    assert leaktrace._core.preload_library() == str(PRELOAD)


def test_without_the_preload_native_tracking_says_so(tmp_path):
    p = run("""
        print(core.native_enabled())
        try:
            core.native_sites()
        except RuntimeError as e:
            print("RuntimeError", "LD_PRELOAD" in str(e))
        """, tmp_path, preload=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["False", "RuntimeError", "True"]

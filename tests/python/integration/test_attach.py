"""`leaktrace attach PID` against real running processes.

A real HTTP service (tests/targets/attach/service_http.py, on 127.0.0.1, a free
port) is driven by a client loop thread of the test; leaktrace attaches to
it through gdb, observes, reports and detaches, and the service must answer
before, during and after. The refusals run against real processes too (a
non-Python one, a Python 3.8, an interpreter without leaktrace on its path,
another user's process, a non-dumpable one, ...), and each must leave the
target as it was.

Everything here needs gdb and the right to ptrace a child: without them the
module is skipped, saying which is missing. Every wait has a timeout.
"""
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

TARGETS_DIR = Path(__file__).resolve().parents[2] / "targets"
SERVICE = TARGETS_DIR / "attach" / "service_http.py"
CLI = [sys.executable, "-m", "leaktrace", "attach"]
# A CLI run gets its --duration plus this long before it is called hung.
GRACE = 90.0
# A request the service does not answer in this long is a failure. gdb stops
# every thread of the service while it attaches and loads symbols (under a
# second, measured), and the machine may be loaded: generous.
CLIENT_TIMEOUT = 30.0

pytestmark = pytest.mark.skipif(bool(os.environ.get("LEAKTRACE_SANITIZED")),
                                reason="timing-dependent observation of a service: too slow under sanitizers")


def _ptrace_problem():
    """None when gdb can attach to a child of ours, else why not."""
    gdb = shutil.which("gdb")
    if gdb is None:
        return "gdb is not installed (apt-get install gdb; .ci/run installs it)"
    child = subprocess.Popen(["sleep", "60"])
    try:
        out = subprocess.run([gdb, "-batch", "-nx", "-p", str(child.pid), "-ex", "detach"],
                             capture_output=True, text=True, timeout=60).stdout
    except subprocess.TimeoutExpired:
        return "gdb did not attach to a child within 60 s"
    finally:
        child.kill()
        child.wait()
    if "ptrace:" in out:
        return "ptrace is not permitted here: " + out[out.index("ptrace:"):].splitlines()[0]
    return None


@pytest.fixture(scope="module", autouse=True)
def need_ptrace():
    problem = _ptrace_problem()
    if problem:
        pytest.skip(problem)


def _env(tmp_path):
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["TMPDIR"] = str(tmp_path)       # the handshake directories go here
    return env


def _leftovers(tmp_path):
    return sorted(p.name for p in Path(tmp_path).glob("leaktrace-attach-*"))


def _stopped_or_gone(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            status = f.read()
    except OSError:
        return True
    return re.search(r"^State:\s*[TtZX]", status, re.M) is not None


def _leak_site_line():
    for n, line in enumerate(SERVICE.read_text().splitlines(), 1):
        if "# LEAK-SITE" in line:
            return n
    raise AssertionError("no LEAK-SITE in the service")


class Service:
    """service_http.py in a subprocess, and a client loop that GETs it."""

    def __init__(self, tmp_path, *args):
        self.proc = subprocess.Popen([sys.executable, str(SERVICE)] + list(args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=_env(tmp_path), cwd=str(tmp_path))
        self.pid = self.proc.pid
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("PORT "):
            self.stop()
            pytest.fail("the service did not start: %r %r" % (line, self.proc.stderr.read()[-2000:]))
        self.port = int(line.split()[1])
        self.ok = []            # monotonic time of each answered request
        self.slowest = 0.0      # the longest wait for an answer (s)
        self.failures = []
        self._halt = threading.Event()
        self._client = None

    def get(self, path="/x", timeout=10):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=timeout) as r:
            return r.status, r.read()

    def start_client(self, pause=0.002):
        def loop():
            n = 0
            while not self._halt.is_set():
                n += 1
                t = time.monotonic()
                try:
                    status, body = self.get("/item/%d" % n, timeout=CLIENT_TIMEOUT)
                    if status == 200 and body.startswith(b"ok "):
                        self.ok.append(time.monotonic())
                        self.slowest = max(self.slowest, self.ok[-1] - t)
                    else:
                        self.failures.append((time.monotonic(), status))
                except OSError as e:
                    self.failures.append((time.monotonic(), repr(e)))
                self._halt.wait(pause)

        self._client = threading.Thread(target=loop, daemon=True)
        self._client.start()

    def answered(self, t0, t1):
        return sum(1 for t in self.ok if t0 <= t < t1)

    def rate(self, t0, t1):
        return self.answered(t0, t1) / (t1 - t0)

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            return int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))

    def counts(self):
        """Threads, descriptors other than sockets (the client's connection
        comes and goes), and memory mappings of the service."""
        with open("/proc/%d/status" % self.pid) as f:
            threads = int(re.search(r"^Threads:\s+(\d+)", f.read(), re.M).group(1))
        with open("/proc/%d/maps" % self.pid) as f:
            maps = sum(1 for _ in f)
        fds = 0
        for fd in os.listdir("/proc/%d/fd" % self.pid):
            try:
                fds += not os.readlink("/proc/%d/fd/%s" % (self.pid, fd)).startswith("socket:")
            except OSError:
                pass
        return threads, fds, maps

    def stop(self):
        """Stops the client and the service; returns the service's stderr."""
        if self.proc.stderr.closed:
            return ""
        self._halt.set()
        if self._client is not None:
            self._client.join(15)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(15)
        out = self.proc.stderr.read().decode(errors="replace")
        self.proc.stdout.close()
        self.proc.stderr.close()
        return out


@pytest.fixture
def service(tmp_path):
    made = []

    def start(*args):
        s = Service(tmp_path, *args)
        made.append(s)
        return s

    yield start
    for s in made:
        s.stop()


def attach(tmp_path, pid, *args, duration=None, timeout=None, env=None, prefix=()):
    cmd = list(prefix) + CLI + [str(pid)] + (["--duration", str(duration)] if duration else []) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, env=env or _env(tmp_path), cwd=str(tmp_path),
                          timeout=timeout or (duration or 30) + GRACE)


def _measure(stderr):
    m = re.search(r"attached to process \d+ \(Python [\d.]+\) in ([\d.]+) s", stderr)
    d = re.search(r"report ready (-?[\d.]+) s after the deadline", stderr)
    return (float(m.group(1)) if m else None), (float(d.group(1)) if d else None)


# ---- attaching to a leaking service --------------------------------------------------

def test_attach_finds_the_leak_and_the_service_keeps_serving(tmp_path, service):
    svc = service()
    svc.start_client()
    time.sleep(2.0)
    out = tmp_path / "report.json"
    html = tmp_path / "report.html"
    t0 = time.monotonic()
    run = attach(tmp_path, svc.pid, "--json", str(out), "--html", str(html), duration=6)
    t1 = time.monotonic()
    time.sleep(1.0)
    t2 = time.monotonic()
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text())
    assert report["verdict"] == "leak", run.stdout
    leaks = [l for l in report["leaks"] if l["type"] == "__main__.RequestRecord"]
    assert leaks, [l["type"] for l in report["leaks"]]
    leak = leaks[0]
    assert leak["category"] == "unbounded-container"
    assert leak["alloc_site"] is not None
    assert leak["alloc_site"]["file"].endswith("service_http.py")
    assert leak["alloc_site"]["line"] == _leak_site_line()
    assert ".SEEN" in leak["holder_path"], leak["holder_path"]
    assert html.read_text().startswith("<!doctype html>") and "leaktrace/report-1" in html.read_text()
    # The text report is printed (stdout); the status lines go to stderr.
    assert "__main__.RequestRecord" in run.stdout
    assert "attached to process %d" % svc.pid in run.stderr
    assert "detached from process %d" % svc.pid in run.stderr
    # Served before, during and after the observation, and never failed.
    assert svc.answered(t0 - 2.0, t0) > 0
    assert svc.answered(t0, t1) > 0
    assert svc.answered(t1, t2) > 0
    assert svc.get("/after")[0] == 200
    assert svc.failures == []
    assert _leftovers(tmp_path) == []
    attach_s, report_s = _measure(run.stderr)
    print("\nattach %.2f s, report %.2f s after the deadline, request rate during/before %.2f, slowest "
          "answer %.2f s" % (attach_s, report_s, svc.rate(t0, t1) / svc.rate(t0 - 2.0, t0), svc.slowest))
    # Nothing of leaktrace runs in it any more: a second attach starts afresh,
    # and writes the text report and the capture to files this time.
    text, capture = tmp_path / "again.txt", tmp_path / "again.lt"
    again = attach(tmp_path, svc.pid, "--text", str(text), "--capture", str(capture), duration=1.5)
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""
    assert "service_http.py" in text.read_text()
    assert capture.read_bytes()[:4] == b"\x89LTC"
    replay = subprocess.run([sys.executable, "-m", "leaktrace", "report", str(capture)], capture_output=True,
                            text=True, timeout=120)
    assert replay.returncode == 0, replay.stderr
    assert svc.proc.poll() is None
    assert "Traceback" not in svc.stop()


def test_attach_to_a_clean_service_says_no_leak(tmp_path, service):
    svc = service("--clean")
    svc.start_client()
    time.sleep(1.5)
    out = tmp_path / "clean.json"
    first = subprocess.Popen(CLI + [str(svc.pid), "--duration", "10", "--json", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path),
                             cwd=str(tmp_path))
    try:
        # A second attach while the first observes is refused, harmlessly.
        deadline = time.monotonic() + 60
        while not _leftovers(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(3.0)
        second = attach(tmp_path, svc.pid, duration=2)
        assert second.returncode == 2, second.stderr
        assert "already observed by leaktrace" in second.stderr
        stdout, stderr = first.communicate(timeout=10 + GRACE)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, stderr
    report = json.loads(out.read_text())
    assert report["verdict"] == "no-leak", stdout
    assert report["leaks"] == []
    assert svc.failures == []
    assert svc.get("/after")[0] == 200
    print("\nslowest answer %.2f s" % svc.slowest)


def test_twenty_attaches_leave_the_service_as_it_was(tmp_path, service):
    svc = service("--clean")
    svc.start_client()
    time.sleep(1.0)
    before = svc.counts()
    rss = {}
    counts = {}
    for i in range(1, 21):
        run = attach(tmp_path, svc.pid, "--interval", "0.2", "-q", duration=1.5)
        assert run.returncode == 0, "attach %d: %s" % (i, run.stderr)
        assert svc.proc.poll() is None, "the service died at attach %d" % i
        time.sleep(0.3)
        rss[i] = svc.rss_kib()
        counts[i] = svc.counts()
    assert svc.get("/after")[0] == 200
    assert svc.failures == []
    # Our threads are gone, no descriptor is left open, no mapping piles up
    # (the injector library is mapped once, whatever the number of attaches).
    threads, fds, maps = counts[20]
    assert threads == before[0], (before, counts)
    assert fds == before[1], (before, counts)
    assert maps <= counts[5][2] + 2, (counts[5], counts[20])
    # The memory after 20 detaches is the memory after 5, give or take noise.
    print("\nRSS after attach 5: %d KiB, after attach 20: %d KiB; slowest answer %.2f s"
          % (rss[5], rss[20], svc.slowest))
    assert rss[20] - rss[5] < 8 * 1024, rss
    assert _leftovers(tmp_path) == []


# ---- refusals: one line, exit 2, target untouched ------------------------------------

def _refused(run, pattern):
    assert run.returncode == 2, (run.returncode, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("leaktrace: error: "), lines
    assert re.search(pattern, lines[0]), lines[0]


@pytest.fixture
def idle_python(tmp_path):
    """Starts `python -c CODE` (a loop that keeps allocating); killed after."""
    procs = []

    def start(code, python=sys.executable, args=(), prefix=()):
        p = subprocess.Popen(list(prefix) + [python] + list(args) + ["-c", code], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=_env(tmp_path), cwd=str(tmp_path))
        procs.append(p)
        ready, _, _ = select.select([p.stdout], [], [], 30)
        assert ready and p.stdout.readline().strip() == b"ready", p.stderr.read()
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait(15)
        p.stdout.close()
        p.stderr.close()


BUSY = ("import sys, time\nprint('ready', flush=True)\nn = 0\n"
        "while True:\n    x = [bytes(600) for i in range(20)]\n    n += 1\n    time.sleep(0.005)\n")


def _untouched(p):
    assert p.poll() is None
    assert not _stopped_or_gone(p.pid)


def test_refuses_missing_and_bad_pids(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()
    _refused(attach(tmp_path, gone.pid), r"no such process: %d" % gone.pid)
    _refused(subprocess.run(CLI, capture_output=True, text=True, timeout=60), r"required: PID")
    _refused(subprocess.run(CLI + ["abc"], capture_output=True, text=True, timeout=60), r"invalid int value")


def test_refuses_to_attach_to_itself(tmp_path):
    code = "import os, sys\nfrom leaktrace.cli import main\nsys.exit(main(['attach', str(os.getpid())]))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    _refused(run, r"this leaktrace itself")


def test_refuses_a_process_that_is_not_python(tmp_path):
    p = subprocess.Popen(["sleep", "60"])
    try:
        _refused(attach(tmp_path, p.pid), r"process %d \(sleep, .*\) is not a Python process" % p.pid)
        _untouched(p)
    finally:
        p.kill()
        p.wait()


def test_refuses_an_unsupported_python(tmp_path, idle_python):
    old = sorted(Path(os.path.expanduser("~/.pyenv/versions")).glob("3.8.*/bin/python3.8"))
    if not old:
        pytest.skip("no CPython 3.8 under ~/.pyenv to run as an unsupported target")
    p = idle_python(BUSY, python=str(old[-1]))
    _refused(attach(tmp_path, p.pid), r"runs Python 3\.8: leaktrace attaches to CPython 3\.9 to 3\.13 only")
    _untouched(p)


def test_refuses_when_leaktrace_is_not_importable_there(tmp_path, idle_python):
    # -S: no site-packages, so the target's interpreter cannot import leaktrace.
    p = idle_python(BUSY, args=["-S"])
    run = attach(tmp_path, p.pid, duration=2)
    _refused(run, r"leaktrace is not importable by the interpreter of process %d .*install it there: .+ -m pip "
                  r"install leaktrace" % p.pid)
    _untouched(p)
    time.sleep(0.5)
    _untouched(p)
    assert _leftovers(tmp_path) == []


def test_refuses_without_gdb(tmp_path, idle_python):
    p = idle_python(BUSY)
    env = _env(tmp_path)
    env["PATH"] = str(tmp_path / "nowhere")
    _refused(attach(tmp_path, p.pid, env=env), r"gdb is not installed.*apt-get install gdb")
    _untouched(p)


def test_refuses_native(tmp_path, idle_python):
    p = idle_python(BUSY)
    _refused(attach(tmp_path, p.pid, "--native"), r"--native .*LD_PRELOAD.* too late")
    _untouched(p)


def test_leaves_an_idle_process_alone(tmp_path, idle_python):
    # Blocked in a system call, it enters no allocator: no safe point.
    p = idle_python("import time\nprint('ready', flush=True)\ntry:\n    time.sleep(600)\n"
                    "except KeyboardInterrupt:\n    print('interrupted', flush=True)\n")
    _refused(attach(tmp_path, p.pid, "--safe-point-wait", "1", duration=2), r"idle .*left it untouched")
    time.sleep(0.3)
    _untouched(p)
    p.kill()
    assert b"interrupted" not in p.stdout.read()


def _without_ptrace_cap():
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv (util-linux) to run leaktrace without CAP_SYS_PTRACE")
    return [setpriv, "--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace"]


def test_refuses_another_users_process_without_the_capability(tmp_path):
    prefix = _without_ptrace_cap()
    p = subprocess.Popen([shutil.which("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups",
                          "sleep", "60"])
    try:
        time.sleep(0.3)
        _refused(attach(tmp_path, p.pid, prefix=prefix),
                 r"ptrace is not permitted: process %d belongs to .*uid 65534.* without CAP_SYS_PTRACE.*"
                 r"sudo -u '#65534'" % p.pid)
        _untouched(p)
    finally:
        p.kill()
        p.wait()


def test_refuses_a_non_dumpable_process_without_the_capability(tmp_path, idle_python):
    prefix = _without_ptrace_cap()
    p = idle_python("import ctypes\nassert ctypes.CDLL(None).prctl(4, 0, 0, 0, 0) == 0\n" + BUSY)
    _refused(attach(tmp_path, p.pid, prefix=prefix), r"ptrace is not permitted: .*not dumpable.*CAP_SYS_PTRACE")
    _untouched(p)

"""Production mode (LEAKTRACE=1 / leaktrace.enable()) and its control
socket, on real programs in subprocesses: an HTTP service on 127.0.0.1
(tests/targets/prod_http_service.py) driven by a client loop from the test,
asked by `leaktrace report/snapshot/metrics PID` while it serves.

Waits are on counts (requests served, checkpoints taken), never on time;
the timeouts only keep a broken build from hanging the suite."""
import json
import math
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

# In a folder of its own: tests/targets/*.py is the scenario catalogue.
TARGET = Path(__file__).resolve().parents[2] / "targets" / "services" / "prod_http_service.py"
# Under ASan (`make sanitize`, PYTHONMALLOC=malloc) freed memory sits in the
# sanitizer's quarantine, so RSS grows with no leak and the verdicts name
# native memory: the tests of verdicts run in `make test` only; everything
# else (the server, the socket, the answers, fork) runs under ASan too.
SANITIZED = bool(os.environ.get("LEAKTRACE_SANITIZED"))
verdicts = pytest.mark.skipif(SANITIZED, reason="RSS-based verdicts are distorted by ASan's quarantine")
WAIT = 120.0    # the most any wait may take before the test fails


def _base_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEAKTRACE")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["TMPDIR"] = str(tmp_path)
    return env


def _until(predicate, what, wait=WAIT):
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail("timed out waiting for " + what)


class Service:
    """The HTTP service in a subprocess, its stdout and stderr read by
    threads, and a client loop that sends requests until stopped."""

    def __init__(self, tmp_path, *flags, env=None, production=True, user=None, cwd=None):
        self.sock_dir = Path(tmp_path) / "leaktrace-sockets"
        full = _base_env(tmp_path)
        if production:
            full.update(LEAKTRACE="1", LEAKTRACE_INTERVAL="0.1", LEAKTRACE_WARMUP="1",
                        LEAKTRACE_SAMPLE_MEAN="16k", LEAKTRACE_SOCKET_DIR=str(self.sock_dir))
        full.update(env or {})
        self.env = full
        self.proc = subprocess.Popen([sys.executable, str(TARGET), *flags], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=full, cwd=str(cwd or tmp_path),
                                     user=user)
        self.pid = self.proc.pid
        self.out, self.err = [], []
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, sink), daemon=True).start()
        self.port = int(_until(lambda: self._line("port "), "the service's port").split()[1])
        self.requests = 0
        self._stop = threading.Event()
        self._client = None

    @staticmethod
    def _read(stream, sink):
        for line in stream:
            sink.append(line.rstrip("\n"))

    def _line(self, prefix):
        if self.proc.poll() is not None and not any(l.startswith(prefix) for l in self.out):
            pytest.fail("the service exited with %s; stderr:\n%s" % (self.proc.returncode, "\n".join(self.err)))
        return next((l for l in self.out if l.startswith(prefix)), None)

    def get(self, i=0):
        with urllib.request.urlopen("http://127.0.0.1:%d/item/%d" % (self.port, i), timeout=30) as r:
            assert r.status == 200
            return r.read()

    def drive(self):
        def loop():
            i = 0
            while not self._stop.is_set():
                self.get(i)
                i += 1
                self.requests = i

        self._client = threading.Thread(target=loop, daemon=True)
        self._client.start()

    def stop_driving(self):
        self._stop.set()
        if self._client is not None:
            self._client.join(30)

    def metrics(self):
        from leaktrace import _control

        return _parse_metrics(_control.request(self.pid, "metrics")["prometheus"].decode())

    def wait_checkpoints(self, n):
        _until(lambda: self.metrics()[("leaktrace_checkpoints_total", ())] >= n, "%d checkpoints" % n)

    def close(self):
        self.stop_driving()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)


def _parse_metrics(text):
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def service(tmp_path):
    started = []

    def start(*flags, **kw):
        s = Service(tmp_path, *flags, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.close()


def leaktrace_cli(tmp_path, *args, user=None):
    return subprocess.run([sys.executable, "-m", "leaktrace", *args], capture_output=True, text=True,
                          env=_base_env(tmp_path), cwd=str(tmp_path), timeout=300, user=user)


def _one_line_error(proc, needle):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0], lines[0]
    return lines[0]


# ---- the verdicts -------------------------------------------------------------


@verdicts
def test_leaking_service_report_names_the_leak(tmp_path, service):
    s = service("--leak")
    s.drive()
    _until(lambda: s.requests >= 3000, "3000 requests")
    s.wait_checkpoints(30)
    out = tmp_path / "report.json"
    html = tmp_path / "report.html"
    r = leaktrace_cli(tmp_path, "report", str(s.pid), "--json", str(out), "--html", str(html))
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert report["verdict"] == "leak"
    # The UserSession finding; a builtin part of it (the list each session
    # holds) is now and then ranked before it (seen once on 3.12 in CI):
    # the ranking of a program type over its parts is a known gap.
    leak = next((l for l in report["leaks"] if l["type"] == "__main__.UserSession"), None)
    assert leak is not None, [l["type"] for l in report["leaks"]]
    assert leak["category"] == "unbounded-container"
    assert leak["alloc_site"] is not None, leak
    assert leak["alloc_site"]["file"].endswith("prod_http_service.py")
    assert leak["alloc_site"]["function"] in ("do_GET", "Handler.do_GET")  # co_qualname from 3.11
    assert leak["holder_path"][:2] == ["module __main__", ".SESSIONS"]
    # The text report goes to stdout, the HTML page to its file.
    assert "__main__.UserSession" in r.stdout and "SESSIONS" in r.stdout
    assert "<!-- leaktrace report -->" in html.read_text()[:4096] or "<html" in html.read_text()[:4096]
    # The program kept serving, and still does.
    before = s.requests
    _until(lambda: s.requests > before + 100, "requests after the report")
    assert s.get() == b"ok\n"
    # The socket's path was printed once, on stderr.
    lines = [l for l in s.err if "control socket" in l]
    assert lines == ["leaktrace: production mode, pid %d, control socket %s" % (s.pid, s.sock_dir / ("%d.sock" % s.pid))]


@verdicts
def test_clean_service_enabled_in_code_is_no_leak(tmp_path, service):
    # leaktrace.enable() in the program; the settings still come from the environment.
    s = service("--enable", production=False,
                env={"LEAKTRACE_INTERVAL": "0.1", "LEAKTRACE_WARMUP": "1", "LEAKTRACE_SAMPLE_MEAN": "16k",
                     "LEAKTRACE_SOCKET_DIR": str(tmp_path / "leaktrace-sockets")})
    s.drive()
    _until(lambda: s.requests >= 3000, "3000 requests")
    s.wait_checkpoints(40)
    out = tmp_path / "report.json"
    r = leaktrace_cli(tmp_path, "report", str(s.pid), "--json", str(out))
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert report["verdict"] == "no-leak", report["leaks"]
    assert report["leaks"] == []
    m = s.metrics()
    assert m[("leaktrace_leak", ())] == 0


def test_snapshot_is_a_fresh_census(tmp_path, service):
    s = service("--leak")
    s.drive()
    _until(lambda: s.requests >= 500, "500 requests")
    r = leaktrace_cli(tmp_path, "snapshot", str(s.pid), "--json", "--top", "5000")
    assert r.returncode == 0, r.stderr
    snap = json.loads(r.stdout)
    assert snap["schema"] == "leaktrace/snapshot-1" and snap["pid"] == s.pid
    rows = {row["type"]: row for row in snap["types"]}
    served = s.requests
    # Every session the service kept so far is counted, also those after the last checkpoint.
    assert rows["__main__.UserSession"]["count"] >= 500
    assert rows["__main__.UserSession"]["count_delta"] == rows["__main__.UserSession"]["count"]
    assert rows["__main__.UserSession"]["count"] <= served + 1
    assert snap["rss_bytes"] > 0 and snap["heap_bytes"] > 0
    t = leaktrace_cli(tmp_path, "snapshot", str(s.pid), "--top", "3")
    assert t.returncode == 0, t.stderr
    assert "more types" in t.stdout


# ---- refusals and permissions -------------------------------------------------------


def test_socket_is_private(tmp_path, service):
    s = service()
    path = s.sock_dir / ("%d.sock" % s.pid)
    _until(lambda: path.exists(), "the socket")
    d = os.stat(s.sock_dir)
    assert stat.S_IMODE(d.st_mode) == 0o700 and d.st_uid == os.geteuid()
    st = os.lstat(path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.geteuid()


def test_directory_open_to_others_is_refused(tmp_path, service):
    loose = tmp_path / "leaktrace-sockets"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    s = service()
    # The program runs anyway, without a socket, and says why in one line.
    assert s.get() == b"ok\n"
    _until(lambda: any("production mode not started" in l for l in s.err), "the refusal on stderr")
    msg = [l for l in s.err if "production mode not started" in l]
    assert len(msg) == 1 and "open to other users" in msg[0], s.err
    assert not list(loose.iterdir())
    _one_line_error(leaktrace_cli(tmp_path, "report", str(s.pid)), "not running leaktrace production mode")


def test_pid_without_production_mode_is_refused(tmp_path, service):
    s = service(production=False)
    for cmd in ("report", "snapshot", "metrics"):
        _one_line_error(leaktrace_cli(tmp_path, cmd, str(s.pid)), "process %d is not running leaktrace production "
                                                                   "mode" % s.pid)
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = int(done.stdout)
    if not os.path.exists("/proc/%d" % gone):
        _one_line_error(leaktrace_cli(tmp_path, "report", str(gone)), "no process with PID %d" % gone)
    _one_line_error(leaktrace_cli(tmp_path, "snapshot", "12ab"), "not a process id")


def test_capture_named_by_digits_is_still_a_capture(tmp_path):
    script = tmp_path / "leaky.py"
    script.write_text("CACHE = []\nfor i in range(20000):\n    CACHE.append(str(i) * 3)\n")
    cap = tmp_path / "4242"
    r = subprocess.run([sys.executable, "-m", "leaktrace", "run", "-q", "--capture", str(cap), str(script)],
                       capture_output=True, text=True, env=_base_env(tmp_path), cwd=str(tmp_path), timeout=300)
    assert r.returncode == 0, r.stderr
    r = leaktrace_cli(tmp_path, "report", "4242", "--json", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "r.json").read_text())["schema"] == "leaktrace/report-1"


def _as_user(user, fn):
    """fn() in a forked child of this process running as `user` (no exec:
    the interpreter need not be readable by that user); its str result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            result = fn()
        except BaseException as e:
            result = "exception %s: %s" % (type(e).__name__, e)
        os.write(w, result.encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return data.decode()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_other_users_are_refused(tmp_path, service):
    # A socket directory that another user could reach if it were not
    # private (pytest's own tmp_path is not: /tmp/pytest-of-root is 0700).
    base = Path(tempfile.mkdtemp(prefix="lt-other-"))
    os.chmod(base, 0o711)
    try:
        _other_users_are_refused(base, service)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _other_users_are_refused(base, service):
    from leaktrace import _control

    s = service(env={"LEAKTRACE_SOCKET_DIR": str(base / "leaktrace")})
    s.sock_dir = base / "leaktrace"
    path = s.sock_dir / ("%d.sock" % s.pid)
    _until(lambda: path.exists(), "the socket")
    nobody = pwd.getpwnam("nobody")

    def find():
        try:
            return "found " + _control.find_socket(s.pid)
        except _control.ControlError as e:
            return str(e)

    def ask():
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(30)
        c.connect(str(path))
        c.sendall(b"report\n")
        data = b""
        while True:
            b = c.recv(4096)
            if not b:
                break
            data += b
        c.close()
        return data.decode()

    # The private directory keeps another user out, and the client says why.
    assert "is in a directory of another user" in _as_user(nobody, find)
    # Opened up by mistake, the socket is still refused: by the client, which
    # checks the owner, and by the server, which checks the peer's
    # credentials (SO_PEERCRED) on every connection.
    os.chmod(s.sock_dir, 0o755)
    os.chmod(path, 0o666)
    assert "belongs to root (uid 0), not to you" in _as_user(nobody, find)
    assert _as_user(nobody, ask).startswith("error permission denied")
    # The owner is still served.
    assert ask().startswith("json ")


# ---- Prometheus ---------------------------------------------------------------------


def test_metrics_parse_as_prometheus_exposition(tmp_path, service):
    from prometheus_client.parser import text_string_to_metric_families

    s = service("--leak", "--odd")
    s.drive()
    _until(lambda: s.requests >= 3000, "3000 requests")
    s.wait_checkpoints(30)
    r = leaktrace_cli(tmp_path, "metrics", str(s.pid))
    assert r.returncode == 0, r.stderr
    families = {f.name: f for f in text_string_to_metric_families(r.stdout)}
    for name in ("leaktrace_rss_bytes", "leaktrace_heap_bytes", "leaktrace_leak_confidence",
                 "leaktrace_leak_growth_bytes_per_second", "leaktrace_leak_growth_objects_per_second",
                 "leaktrace_rss_growth_bytes_per_second", "leaktrace_heap_growth_bytes_per_second"):
        assert families[name].type == "gauge", name
        assert families[name].documentation, name
    assert families["leaktrace_checkpoints"].type == "counter"   # the parser drops _total from the family
    assert families["leaktrace_rss_bytes"].samples[0].value > 1e6
    conf = {s_.labels["type"]: s_.value for s_ in families["leaktrace_leak_confidence"].samples}
    assert conf["__main__.UserSession"] >= 0.5
    # A type name with a quote, a backslash and a newline survives the label escaping.
    assert conf['__main__.Odd"Name\\x\ny'] >= 0.5
    rate = {s_.labels["type"]: s_.value for s_ in families["leaktrace_leak_growth_objects_per_second"].samples}
    assert rate["__main__.UserSession"] > 0
    assert families["leaktrace_leak"].samples[0].value == 1

    # The same over HTTP on the socket, as a proxy would fetch it for Prometheus.
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(60)
    c.connect(str(s.sock_dir / ("%d.sock" % s.pid)))
    c.sendall(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
    data = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        data += b
    c.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK")
    assert b"Content-Type: text/plain; version=0.0.4" in head
    assert b"Content-Length: %d" % len(body) in head
    assert "leaktrace_leak_confidence" in {f.name for f in text_string_to_metric_families(body.decode())}


# ---- days of it: bounded history --------------------------------------------------------


def _thread_stacks(pid):
    """Every thread's C stack (gdb), to diagnose a process that does not exit."""
    try:
        return subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt 30"],
                              capture_output=True, text=True, timeout=60).stdout[-8000:]
    except (OSError, subprocess.SubprocessError) as e:
        return "(no stacks: %s)" % e


def test_history_stays_bounded(tmp_path):
    """Many checkpoints (1500, at a 10 ms interval): the kept points stay
    within their bound (1024), and the capture holds only the checkpoints the timeline
    keeps (a logarithmic number), so its size stays bounded too."""
    from leaktrace import _control, _core

    prog = tmp_path / "steady.py"
    prog.write_text("import time\nSTATE = {i: str(i) for i in range(2000)}\n"
                    "try:\n    while True:\n        time.sleep(0.05)\nexcept KeyboardInterrupt:\n    pass\n")
    sock_dir = tmp_path / "leaktrace-sockets"
    env = _base_env(tmp_path)
    env.update(LEAKTRACE="1", LEAKTRACE_INTERVAL="0.01", LEAKTRACE_WARMUP="0", LEAKTRACE_SOCKET_DIR=str(sock_dir),
               LEAKTRACE_CAPTURE=str(tmp_path / "cap-{pid}.lt"))
    proc = subprocess.Popen([sys.executable, str(prog)], env=env, cwd=str(tmp_path), stderr=subprocess.PIPE,
                            text=True)
    try:
        def metrics():
            try:
                return _parse_metrics(_control.request(proc.pid, "metrics")["prometheus"].decode())
            except _control.ControlError:
                return None

        def at_least(n):
            m = metrics()
            return m if m and m[("leaktrace_checkpoints_total", ())] >= n else None

        # A loaded machine takes far more than 10 ms per checkpoint: the
        # counts decide, the generous wait only stops a hang.
        first = _until(lambda: at_least(600), "600 checkpoints", wait=4 * WAIT)
        last = _until(lambda: at_least(1500), "1500 checkpoints", wait=8 * WAIT)
        assert last[("leaktrace_checkpoints_kept", ())] <= 1024
        # The own tables do not grow with the number of checkpoints.
        assert last[("leaktrace_self_bytes", ())] <= first[("leaktrace_self_bytes", ())] * 1.5 + (1 << 20)
        proc.send_signal(2)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            pytest.fail("no exit within 60 s of SIGINT; its threads:\n" + _thread_stacks(proc.pid))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    total = int(last[("leaktrace_checkpoints_total", ())])
    cap = _core.read_capture(str(tmp_path / ("cap-%d.lt" % proc.pid)))
    written = len(cap["checkpoints"])
    # 512 kept points, then 256 more per doubling of the run, and the last one.
    bound = 512 + 256 * math.ceil(math.log2(max(total, 512) / 512.0)) + 2
    assert written < total
    assert written <= bound, (written, bound, total)
    per_cp = os.path.getsize(tmp_path / ("cap-%d.lt" % proc.pid)) / written
    assert per_cp < 2048, per_cp
    r = leaktrace_cli(tmp_path, "report", str(tmp_path / ("cap-%d.lt" % proc.pid)), "--json",
                      str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    if not SANITIZED:
        assert json.loads((tmp_path / "r.json").read_text())["verdict"] != "leak"


# ---- fork -----------------------------------------------------------------------------


def test_forked_child_stays_quiet(tmp_path, service):
    s = service("--leak", "--fork")
    child = int(_until(lambda: s._line("child "), "the child's pid").split()[1])
    code = int(_until(lambda: s._line("child-exit "), "the child's exit").split()[1])
    # The child left through atexit without hanging on threads it does not have.
    assert code == 0
    assert not (s.sock_dir / ("%d.sock" % child)).exists()
    assert [p.name for p in s.sock_dir.iterdir()] == ["%d.sock" % s.pid]
    # The parent's server survived the fork.
    s.drive()
    _until(lambda: s.requests >= 200, "200 requests")
    r = leaktrace_cli(tmp_path, "snapshot", str(s.pid))
    assert r.returncode == 0, r.stderr

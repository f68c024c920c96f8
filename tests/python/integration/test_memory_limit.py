"""`leaktrace run --memory-limit SIZE` on real programs in subprocesses.

A program that leaks without end is run with a limit below what it reaches;
the test waits for the limit's line on stderr and SIGKILLs the process at
once, as the kernel's OOM killer would: the reports and the capture written
at the limit must exist, be whole, and name the leak, and the capture must
still make a report with `leaktrace report`. A program that crosses the limit
and then ends normally gets the final report (which still says the limit was
reached). Every wait has a timeout; nothing is judged on timing.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

LIMIT_LINE = "reached the memory limit"

ENDLESS_LEAK = textwrap.dedent("""\
    import time


    class Order:
        def __init__(self):
            self.payload = bytearray(64 * 1024)


    ORDERS = []


    def handle():
        ORDERS.append(Order())


    # Leaks up to 1 GiB (far above the test's limit), then idles until
    # killed: a leaktrace that failed to react must not take the machine.
    while True:
        if len(ORDERS) < 16384:
            for _ in range(8):
                handle()
        time.sleep(0.02)
    """)

# Grows past the limit, gives it back and ends on its own.
PEAK_THEN_END = textwrap.dedent("""\
    import sys
    import time

    blocks = []
    for i in range(200):
        blocks.append(bytearray(1024 * 1024))
        time.sleep(0.01)
    del blocks
    time.sleep(1.0)
    print("the program went on to its end")
    sys.exit(0)
    """)


def _env(tmp_path):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", TMPDIR=str(tmp_path))
    env.pop("PYTHONHASHSEED", None)
    env.pop("LEAKTRACE_FOLLOW", None)
    return env


def _leaktrace(*args):
    return [sys.executable, "-m", "leaktrace"] + list(args)


def _wait_for_line(proc, err_path, text, timeout):
    """Polls the stderr file for `text` until the process ends or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in err_path.read_text(errors="replace"):
            return True
        if proc.poll() is not None:
            return text in err_path.read_text(errors="replace")
        time.sleep(0.05)
    return False


def _limit_lines(stderr):
    """leaktrace's own line about the limit (the text report on stderr
    repeats the limit as a warning, indented)."""
    return [line for line in stderr.splitlines() if line.startswith("leaktrace: ") and LIMIT_LINE in line]


def _kill(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def killed_at_limit(tmp_path_factory):
    """The endless leak run with --memory-limit 200m, killed with SIGKILL as
    soon as leaktrace says the limit was reached."""
    tmp = tmp_path_factory.mktemp("memlimit")
    script = tmp / "endless_leak.py"
    script.write_text(ENDLESS_LEAK)
    err = tmp / "stderr.txt"
    cmd = _leaktrace("run", "--memory-limit", "200m", "--interval", "0.2", "--warmup", "1",
                     "--json", str(tmp / "r.json"), "--html", str(tmp / "r.html"), "--text", str(tmp / "r.txt"),
                     "--capture", str(tmp / "cap.lt"), str(script))
    with open(err, "wb") as errf:
        proc = subprocess.Popen(cmd, cwd=str(tmp), env=_env(tmp), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=errf)
        try:
            seen = _wait_for_line(proc, err, LIMIT_LINE, timeout=90)
            alive = proc.poll() is None
        finally:
            _kill(proc)
    return {"tmp": tmp, "seen": seen, "alive": alive, "rc": proc.returncode, "stderr": err.read_text()}


def test_limit_line_appears_and_the_program_goes_on(killed_at_limit):
    k = killed_at_limit
    assert k["seen"], "no memory-limit line on stderr:\n" + k["stderr"][-3000:]
    assert k["alive"], "the program should go on after the limit's report:\n" + k["stderr"][-3000:]
    assert k["rc"] == -signal.SIGKILL
    assert len(_limit_lines(k["stderr"])) == 1, k["stderr"][-3000:]


def test_json_report_at_limit_names_the_leak(killed_at_limit):
    tmp = killed_at_limit["tmp"]
    report = json.loads((tmp / "r.json").read_text())
    assert report["schema"] == "leaktrace/report-1"
    assert report["verdict"] == "leak", report
    assert "__main__.Order" in [leak.get("type") for leak in report["leaks"]], report["leaks"]
    notes = [w for w in report["warnings"] if w["kind"] == "memory-limit"]
    assert len(notes) == 1 and "200.0 MiB" in notes[0]["message"], report["warnings"]
    # Written whole through a temporary file: none is left behind.
    assert [p.name for p in tmp.iterdir() if ".tmp." in p.name] == []


def test_html_and_text_reports_at_limit(killed_at_limit):
    tmp = killed_at_limit["tmp"]
    html = (tmp / "r.html").read_text()
    assert html.rstrip().endswith("</html>") and "Order" in html
    text = (tmp / "r.txt").read_text()
    assert "__main__.Order" in text and "memory-limit" in text


def test_capture_after_the_kill_still_makes_the_report(killed_at_limit):
    tmp = killed_at_limit["tmp"]
    proc = subprocess.run(_leaktrace("report", str(tmp / "cap.lt"), "--json", str(tmp / "again.json")),
                          cwd=str(tmp), env=_env(tmp), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    again = json.loads((tmp / "again.json").read_text())
    assert again["verdict"] == "leak"
    assert "__main__.Order" in [leak.get("type") for leak in again["leaks"]]


def test_program_that_survives_the_limit_gets_the_final_report(tmp_path):
    script = tmp_path / "peak.py"
    script.write_text(PEAK_THEN_END)
    proc = subprocess.run(_leaktrace("run", "--memory-limit", "100m", "--interval", "0.2", "--json",
                                     str(tmp_path / "r.json"), str(script)),
                          cwd=str(tmp_path), env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "the program went on to its end" in proc.stdout
    assert len(_limit_lines(proc.stderr)) == 1, proc.stderr[-3000:]
    report = json.loads((tmp_path / "r.json").read_text())
    # The final report (duration: the whole run) replaced the limit's.
    assert report["duration_s"] >= 2.0
    assert [w["kind"] for w in report["warnings"]].count("memory-limit") == 1


def test_no_limit_line_below_the_limit(tmp_path):
    script = tmp_path / "peak.py"
    script.write_text(PEAK_THEN_END)
    proc = subprocess.run(_leaktrace("run", "--memory-limit", "4g", "--interval", "0.2", "--json",
                                     str(tmp_path / "r.json"), str(script)),
                          cwd=str(tmp_path), env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert LIMIT_LINE not in proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert "memory-limit" not in [w["kind"] for w in report["warnings"]]


@pytest.mark.parametrize("value", ["0", "-5m", "lots", "12q"])
def test_bad_memory_limit_is_refused(tmp_path, value):
    script = tmp_path / "p.py"
    script.write_text("print('ran')\n")
    proc = subprocess.run(_leaktrace("run", "--memory-limit", value, str(script)), cwd=str(tmp_path),
                          env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "ran" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("leaktrace: error:") and "memory-limit" in lines[0], proc.stderr


def test_session_memory_limit_option(run_python):
    """The option production mode passes through: Session(memory_limit=bytes)."""
    r = run_python("""
        from leaktrace import _core
        try:
            _core.Session(memory_limit=-1)
        except ValueError as e:
            print("refused", e)
        s = _core.Session(interval=0.1, memory_limit=1 << 50)
        s.start()
        s.finish()
        print("hit", s.memory_limit_hit)
        """)
    assert "refused memory_limit" in r.stdout
    assert "hit False" in r.stdout


def _make_memory_cgroup(limit):
    """A memory cgroup of our own with `limit` bytes (v1 or v2), or None
    where this machine does not let us make one (not root, no delegation)."""
    name = "leaktrace-test-%d" % os.getpid()
    for parent, limit_file in (("/sys/fs/cgroup/memory", "memory.limit_in_bytes"), ("/sys/fs/cgroup", "memory.max")):
        if limit_file == "memory.max":
            try:
                with open(os.path.join(parent, "cgroup.subtree_control")) as f:
                    if "memory" not in f.read().split():
                        continue
            except OSError:
                continue
        path = os.path.join(parent, name)
        try:
            os.mkdir(path)
        except OSError:
            continue
        try:
            with open(os.path.join(path, limit_file), "w") as f:
                f.write(str(limit))
            return path
        except OSError:
            os.rmdir(path)
    return None


def _remove_cgroup(path):
    deadline = time.monotonic() + 30
    while True:
        try:
            os.rmdir(path)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_cgroup_limit_near_triggers_the_report(tmp_path):
    """In a memory cgroup limited to 300 MiB (and an RSS limit it never
    reaches), the report is made at 90 % of the cgroup's limit, before the
    cgroup's own OOM killer would act."""
    cgroup = _make_memory_cgroup(300 << 20)
    if cgroup is None:
        pytest.skip("cannot make a memory cgroup here (needs root, or a delegated cgroup v2 subtree)")
    try:
        script = tmp_path / "endless_leak.py"
        script.write_text(ENDLESS_LEAK)
        err = tmp_path / "stderr.txt"
        procs = os.path.join(cgroup, "cgroup.procs")

        def enter_cgroup():
            with open(procs, "w") as f:
                f.write("0")

        cmd = _leaktrace("run", "--memory-limit", "100g", "--interval", "0.2", "--warmup", "1",
                         "--json", str(tmp_path / "r.json"), "--capture", str(tmp_path / "cap.lt"), str(script))
        with open(err, "wb") as errf:
            proc = subprocess.Popen(cmd, cwd=str(tmp_path), env=_env(tmp_path), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=errf, preexec_fn=enter_cgroup)
            try:
                seen = _wait_for_line(proc, err, "of its limit (300.0 MiB", timeout=90)
            finally:
                _kill(proc)
        stderr = err.read_text()
        assert seen, stderr[-3000:]
        assert [line for line in stderr.splitlines() if line.startswith("leaktrace: the memory cgroup")], stderr
        report = json.loads((tmp_path / "r.json").read_text())
        assert "__main__.Order" in [leak.get("type") for leak in report["leaks"]], report["leaks"]
        notes = [w["message"] for w in report["warnings"] if w["kind"] == "memory-limit"]
        assert len(notes) == 1 and "cgroup" in notes[0], report["warnings"]
    finally:
        _remove_cgroup(cgroup)

"""Child processes under `leaktrace run`, on real programs in subprocesses.

With --follow-fork, a child made by os.fork() or by multiprocessing (fork
and spawn start methods) gets its own capture and reports, named after the
parent's with its PID (cap.lt -> cap.PID.lt), which name the child's leak;
the parent's report lists them and does not take the child's leak for its
own. Without it, a forked child stops tracking silently and writes nothing,
whether it ends with os._exit or runs on through the program's end. Every
wait has a timeout.
"""
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

# The child leaks Session objects for `seconds`; the parent churns through
# the same type without keeping any.
FORK_PROGRAM = textwrap.dedent("""\
    import os
    import sys
    import time


    class Session:
        def __init__(self):
            self.buf = bytearray(2048)


    SESSIONS = []


    def child_work(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            SESSIONS.append(Session())
            time.sleep(0.001)


    seconds = float(sys.argv[1])
    pid = os.fork()
    if pid == 0:
        child_work(seconds)
        os._exit(7)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        churn = [Session() for _ in range(50)]
        time.sleep(0.01)
    _, status = os.waitpid(pid, 0)
    print("child", pid, "exit", os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode")
          else status >> 8)
    """)

# The child returns from fork and runs on to the program's end, as the
# parent does (no os._exit).
FALL_THROUGH = textwrap.dedent("""\
    import os
    import time

    KEEP = []
    pid = os.fork()
    for i in range(2000):
        KEEP.append(object())
    time.sleep(1.0)
    if pid:
        os.waitpid(pid, 0)
        print("parent done")
    else:
        print("child done")
    """)

MP_PROGRAM = textwrap.dedent("""\
    import multiprocessing as mp
    import sys
    import time


    class Job:
        def __init__(self):
            self.data = bytearray(1024)


    DONE = []


    def worker(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            DONE.append(Job())
            time.sleep(0.001)


    if __name__ == "__main__":
        ctx = mp.get_context(sys.argv[1])
        p = ctx.Process(target=worker, args=(float(sys.argv[2]),))
        p.start()
        p.join(120)
        print("worker", p.pid, "exit", p.exitcode)
    """)

CHILD_SECONDS = "4"


def _env(tmp_path):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", TMPDIR=str(tmp_path))
    env.pop("PYTHONHASHSEED", None)
    env.pop("LEAKTRACE_FOLLOW", None)
    return env


def _run(tmp_path, source, *args, follow=True):
    script = tmp_path / "prog.py"
    script.write_text(source)
    cmd = [sys.executable, "-m", "leaktrace", "run", "--interval", "0.2", "--warmup", "1",
           "--json", str(tmp_path / "r.json"), "--capture", str(tmp_path / "cap.lt")]
    if follow:
        cmd.append("--follow-fork")
    proc = subprocess.run(cmd + [str(script)] + list(args), cwd=str(tmp_path), env=_env(tmp_path),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def _child_pid(proc, word):
    m = re.search(r"^%s (\d+) exit (-?\d+)$" % word, proc.stdout, re.M)
    assert m, proc.stdout
    return int(m.group(1)), int(m.group(2))


def _types(report):
    return [leak.get("type") for leak in report["leaks"]]


def _derived_files(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir() if re.match(r"^(r|cap)\.\d+\.(json|lt)$", p.name))


def _check_child(tmp_path, pid, leak_type, how):
    """The child's own report and capture, and the parent's listing of them."""
    child = json.loads((tmp_path / ("r.%d.json" % pid)).read_text())
    assert child["verdict"] == "leak", child
    assert leak_type in _types(child), child["leaks"]
    assert any(w["kind"] == "child-of" and "(%s)" % how in w["message"] for w in child["warnings"])
    parent = json.loads((tmp_path / "r.json").read_text())
    assert leak_type not in _types(parent), parent["leaks"]
    listed = [w["message"] for w in parent["warnings"] if w["kind"] == "child-process"]
    assert len(listed) == 1, parent["warnings"]
    assert "child process %d:" % pid in listed[0]
    assert "cap.%d.lt" % pid in listed[0] and "r.%d.json" % pid in listed[0]
    # The child's capture makes the report on its own.
    again = subprocess.run([sys.executable, "-m", "leaktrace", "report", str(tmp_path / ("cap.%d.lt" % pid)),
                            "--json", str(tmp_path / "again.json")],
                           cwd=str(tmp_path), env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert leak_type in _types(json.loads((tmp_path / "again.json").read_text()))


def test_forked_child_gets_its_own_capture_and_report(tmp_path):
    proc = _run(tmp_path, FORK_PROGRAM, CHILD_SECONDS)
    pid, code = _child_pid(proc, "child")
    assert code == 7            # os._exit's code survives the report made in it
    assert _derived_files(tmp_path) == ["cap.%d.lt" % pid, "r.%d.json" % pid]
    _check_child(tmp_path, pid, "__main__.Session", "fork")


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_child_gets_its_own_capture_and_report(tmp_path, method):
    proc = _run(tmp_path, MP_PROGRAM, method, CHILD_SECONDS)
    pid, code = _child_pid(proc, "worker")
    assert code == 0
    # multiprocessing's resource tracker (spawn) is not the program's child.
    assert _derived_files(tmp_path) == ["cap.%d.lt" % pid, "r.%d.json" % pid]
    # Under spawn the child imports the script as __mp_main__.
    _check_child(tmp_path, pid, "__mp_main__.Job" if method == "spawn" else "__main__.Job", method)


def test_without_follow_fork_children_write_nothing(tmp_path):
    proc = _run(tmp_path, FORK_PROGRAM, "2", follow=False)
    _, code = _child_pid(proc, "child")
    assert code == 7
    assert _derived_files(tmp_path) == []
    parent = json.loads((tmp_path / "r.json").read_text())
    assert "__main__.Session" not in _types(parent)
    assert not [w for w in parent["warnings"] if w["kind"] == "child-process"]


@pytest.mark.parametrize("follow", [False, True])
def test_child_running_on_to_the_end(tmp_path, follow):
    """The child finishes the parent's Session copy without waiting for the
    parent's (dead) checkpoint thread: no hang, and a report only when
    followed."""
    proc = _run(tmp_path, FALL_THROUGH, follow=follow)
    assert "child done" in proc.stdout and "parent done" in proc.stdout
    files = _derived_files(tmp_path)
    if follow:
        assert len(files) == 2 and all(re.match(r"^(r|cap)\.\d+\.(json|lt)$", f) for f in files), files
        child = json.loads((tmp_path / [f for f in files if f.endswith(".json")][0]).read_text())
        assert child["schema"] == "leaktrace/report-1"
    else:
        assert files == []


def test_spawned_child_without_follow_fork_is_not_observed(tmp_path):
    _run(tmp_path, MP_PROGRAM, "spawn", "1", follow=False)
    assert _derived_files(tmp_path) == []

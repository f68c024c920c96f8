"""The parts of `leaktrace attach` that need no debugger: how a process's
interpreter is recognised, the reasons given for a refused ptrace, the gdb
script, and Session(on_deadline="detach"), which must leave nothing of
leaktrace running or holding memory in the process it observed."""
import subprocess
import sys
import textwrap

import pytest

from leaktrace import attach

MAPS_311 = ("55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1 /root/.pyenv/versions/3.11.7/bin/python3.11\n"
            "7f0000000000-7f0000100000 r-xp 00000000 08:01 2 /root/.pyenv/versions/3.11.7/lib/"
            "libpython3.11.so.1.0\n")


@pytest.mark.parametrize("exe, maps, expected", [
    ("/root/.pyenv/versions/3.11.7/bin/python3.11", MAPS_311, (3, 11, "")),
    ("/usr/bin/python3.12", "7f00 r-xp /usr/lib/x86_64-linux-gnu/libc.so.6\n", (3, 12, "")),   # static
    ("/opt/app/bin/uwsgi", "7f00 r-xp /opt/py/lib/libpython3.10.so.1.0\n", (3, 10, "")),       # embedded
    ("/usr/bin/python3.13t", "", (3, 13, "t")),
    ("/usr/local/bin/python3.9d", "7f00 r-xp /usr/local/lib/libpython3.9d.so.1.0\n", (3, 9, "d")),
    ("/usr/bin/sleep", "7f00 r-xp /usr/lib/x86_64-linux-gnu/libc.so.6\n", None),
    ("/usr/bin/pythonista", "", None),
])
def test_classify_python(exe, maps, expected):
    assert attach.classify_python(exe, maps) == expected


def test_version_refusals():
    assert attach._version_refusal(1, 3, 11, "") is None
    assert "runs Python 3.8: leaktrace attaches to CPython 3.9 to 3.13 only" in attach._version_refusal(1, 3, 8, "")
    assert "3.14" in attach._version_refusal(1, 3, 14, "")
    assert "debug build" in attach._version_refusal(1, 3, 11, "d")
    assert "free-threaded build" in attach._version_refusal(1, 3, 13, "t")
    # What the payload says back from inside the process, in words.
    assert "debug build of CPython 3.12" in attach._refusal_text(7, "debug\t3.12")
    assert "free-threaded" in attach._refusal_text(7, "free-threaded\t3.13")
    text = attach._refusal_text(7, "import\t/srv/venv/bin/python\tNo module named 'leaktrace'")
    assert "install it there: /srv/venv/bin/python -m pip install leaktrace" in text


def refusal(**kw):
    facts = dict(target_uid=1000, euid=1000, cap=False, scope=None, descendant=False)
    facts.update(kw)
    return attach.ptrace_refusal(42, **facts)


def test_ptrace_refusals_name_the_cause_and_the_fix():
    assert refusal() is None                                        # same user, no yama: fine
    assert refusal(scope=0) is None
    assert refusal(scope=1, descendant=True) is None                # a parent may
    assert refusal(scope=2, cap=True) is None
    assert refusal(target_uid=0, euid=0, cap=True) is None
    other = refusal(target_uid=0)
    assert "belongs to" in other and "without CAP_SYS_PTRACE" in other and "sudo -u '#0'" in other
    s1 = refusal(scope=1)
    assert "ptrace_scope is 1" in s1 and "sysctl kernel.yama.ptrace_scope=0" in s1
    s2 = refusal(scope=2)
    assert "ptrace_scope is 2" in s2 and "CAP_SYS_PTRACE" in s2 and "--cap-add=SYS_PTRACE" in s2
    assert "ptrace_scope is 3" in refusal(scope=3, cap=True)
    # The kernel said no for none of the reasons above.
    assert "not dumpable" in refusal(denied=True)
    assert "security policy" in refusal(denied=True, cap=True)


def test_gdb_script_stops_at_an_allocator_and_loads_the_injector():
    script = attach.gdb_script("/opt/lt/libleaktrace_inject.so", '/tmp/a "b"')
    assert "break malloc" in script and "break free" in script
    assert "disable breakpoints" in script
    assert 'set {char [31]} $lt_lib = "/opt/lt/libleaktrace_inject.so"' in script
    assert 'set {char [11]} $lt_dir = "/tmp/a \\"b\\""' in script
    assert "call (void) free($lt_lib)" in script
    with pytest.raises(attach.AttachError):
        attach.gdb_script("/opt/lt/lib.so", "/tmp/\n")


def run(code, timeout=120):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_session_detach_stops_tracking_and_lets_go(tmp_path):
    proc = run("""
        import os, sys, threading, time
        from leaktrace import _core

        def tasks():
            return len(os.listdir("/proc/self/task"))

        def allocate(n):
            return [bytes(100) for i in range(n)]

        code = allocate.__code__
        refs0 = sys.getrefcount(code)
        tasks0 = tasks()
        done = threading.Event()
        seen = []

        def detached(verdict, error):
            seen.append((verdict, error, threading.current_thread() is threading.main_thread()))
            done.set()

        tracker = _core.Tracker(mode="trace")
        s = _core.Session(interval=0.1, duration=1.0, tracker=tracker, on_deadline="detach", on_detach=detached,
                          outputs={"text": os.path.join(%(d)r, "r.txt"), "json": os.path.join(%(d)r, "r.json")})
        s.start()
        del s                          # the checkpoint thread holds the session now
        keep = []
        while not done.wait(0.01):
            keep.append(allocate(50))  # while tracked: the tracker keeps the code object
        time.sleep(0.3)
        assert seen[0][0] in ("leak", "no-leak", "inconclusive") and seen[0][1] is None, seen
        assert seen[0][2] is False, "on_detach runs on the checkpoint thread"
        assert os.path.getsize(os.path.join(%(d)r, "r.json")) > 0
        assert not tracker.running
        assert tasks() == tasks0, (tasks(), tasks0)       # the checkpoint thread is gone
        assert sys.getrefcount(code) == refs0, (sys.getrefcount(code), refs0)   # tables emptied
        with _core.Tracker(mode="trace"):                  # the hooks are free again
            allocate(10)
        print("ok")
        """ % {"d": str(tmp_path)})
    assert proc.stdout.strip() == "ok"
    assert proc.stderr == ""


def test_session_rejects_bad_detach_options():
    from leaktrace import _core

    with pytest.raises(ValueError, match="on_deadline"):
        _core.Session(on_deadline="explode")
    with pytest.raises(TypeError, match="on_detach"):
        _core.Session(on_deadline="detach", on_detach=3)

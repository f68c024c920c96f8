"""Production mode: the sampled tracker and the checkpoints from start-up,
for as long as the process lives, with a control socket to ask for the
report, a snapshot or Prometheus metrics (docs/production.md).

Started by ``LEAKTRACE=1`` in the environment (the ``leaktrace-production.pth``
file in site-packages imports leaktrace._autostart only then) or by
``leaktrace.enable()`` in code. The work is done in C: the Session's
checkpoint thread and the control server's thread (src/ext/control.c).
"""
import atexit
import os
import sys

DEFAULT_INTERVAL = 10.0
DEFAULT_WARMUP = 60.0
DEFAULT_SAMPLE_MEAN = 512 * 1024

_state = None   # (pid, session, socket path) once enabled


def default_socket_dir():
    """Where control sockets go: $LEAKTRACE_SOCKET_DIR, else
    $XDG_RUNTIME_DIR/leaktrace, else /tmp/leaktrace-<uid>."""
    d = os.environ.get("LEAKTRACE_SOCKET_DIR")
    if d:
        return d
    run = os.environ.get("XDG_RUNTIME_DIR")
    if run and os.path.isdir(run):
        return os.path.join(run, "leaktrace")
    return "/tmp/leaktrace-%d" % os.geteuid()


def _number(name, value, default, minimum, maximum):
    if value is None:
        return default
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError("%s must be a number, not %r" % (name, value))
    if not minimum <= v <= maximum:
        raise ValueError("%s must be between %g and %g, not %g" % (name, minimum, maximum, v))
    return v


def _size(name, value, default):
    if value is None:
        return default
    if isinstance(value, int):
        n = value
    else:
        t = str(value).strip().lower()
        units = {"": 1, "k": 1 << 10, "m": 1 << 20}
        num = t.rstrip("km")
        try:
            n = int(float(num) * units[t[len(num):]])
        except (ValueError, KeyError):
            raise ValueError("%s must be a size such as 512k, not %r" % (name, value))
    if not 0 <= n <= (1 << 30):
        raise ValueError("%s must be between 0 (no allocation tracking) and 1g, not %r" % (name, value))
    return n


_CAPTURE_MAGIC = b"\x89LTC\r\n\x1a\n"


def _check_capture(path):
    """Refuses a capture path that holds a file of the user's (an earlier
    capture may be replaced) or that cannot be written."""
    if os.path.isdir(path):
        raise ValueError("the capture path %s is a directory" % path)
    if not os.path.isdir(os.path.dirname(path)):
        raise ValueError("cannot write the capture %s: no such directory" % path)
    if os.path.exists(path) and os.path.getsize(path) > 0:
        with open(path, "rb") as f:
            head = f.read(len(_CAPTURE_MAGIC))
        if head != _CAPTURE_MAGIC:
            raise ValueError("%s exists and is not a leaktrace capture: not overwriting it" % path)


def enable(*, interval=None, warmup=None, capture=None, socket_dir=None, sample_mean=None, quiet=None):
    """Starts production mode in this process and returns the control
    socket's path. Arguments left None come from the environment
    (LEAKTRACE_INTERVAL, LEAKTRACE_WARMUP, LEAKTRACE_CAPTURE,
    LEAKTRACE_SOCKET_DIR, LEAKTRACE_SAMPLE_MEAN, LEAKTRACE_QUIET), then the
    defaults (10 s, 60 s, no capture, default_socket_dir(), 512k, not quiet).
    sample_mean 0 turns allocation tracking off (the report then has no
    allocation sites).
    A capture path may contain {pid}. Calling it again in the same process
    returns the same path; ValueError for a bad setting, OSError when the
    socket cannot be made."""
    global _state
    from leaktrace import _core

    if _state is not None and _state[0] == os.getpid():
        return _state[2]
    env = os.environ.get
    interval = _number("interval (LEAKTRACE_INTERVAL)", interval if interval is not None else env("LEAKTRACE_INTERVAL"),
                       DEFAULT_INTERVAL, 0.01, 3600)
    warmup = _number("warmup (LEAKTRACE_WARMUP)", warmup if warmup is not None else env("LEAKTRACE_WARMUP"),
                     DEFAULT_WARMUP, 0, 30 * 86400)
    sample_mean = _size("sample_mean (LEAKTRACE_SAMPLE_MEAN)",
                        sample_mean if sample_mean is not None else env("LEAKTRACE_SAMPLE_MEAN"), DEFAULT_SAMPLE_MEAN)
    if capture is None:
        capture = env("LEAKTRACE_CAPTURE") or None
    if capture is not None:
        capture = os.path.abspath(str(capture).replace("{pid}", str(os.getpid())))
        _check_capture(capture)
    if quiet is None:
        quiet = env("LEAKTRACE_QUIET", "") not in ("", "0")
    sock_dir = os.path.abspath(socket_dir or default_socket_dir())

    # sample_mean 0: no allocation tracking (no sites in the report), only
    # the checkpoints: the least overhead between them.
    tracker = _core.Tracker(mode="sampled", sample_mean=sample_mean) if sample_mean else None
    # sys.argv itself: at start-up (the .pth file) it is filled in later.
    argv = sys.argv if isinstance(sys.argv, list) else []
    session = _core.Session(interval=interval, warmup=warmup, duration=0, tracker=tracker, capture=capture,
                            argv=argv, outputs={"quiet": True, "max_findings": 10}, status_line=False)
    session.start()
    try:
        path = _core.control_start(session, sock_dir)
    except BaseException:
        session.finish()
        raise
    _state = (os.getpid(), session, path)
    atexit.register(_at_exit)
    os.register_at_fork(after_in_child=_after_fork_in_child)
    if not quiet:
        sys.stderr.write("leaktrace: production mode, pid %d, control socket %s\n" % (os.getpid(), path))
        sys.stderr.flush()
    return path


def _at_exit():
    """Stops the control server, the checkpoints and the tracker, and ends
    the capture, with no analysis: a shutdown must not wait for holder paths
    (the report is asked for while the program runs, or made from the
    capture). Only in the process that enabled: a forked child has neither
    thread (it stays quiet, see docs/production.md)."""
    global _state
    if _state is None or _state[0] != os.getpid():
        return
    from leaktrace import _core

    session = _state[1]
    _state = None
    _core.control_stop()
    try:
        session.stop()
    except Exception as e:  # must not change the program's exit
        sys.stderr.write("leaktrace: stopping production mode: %s\n" % e)


def _after_fork_in_child():
    """A forked child stays quiet: the control server closed its copy of the
    socket (in C, pthread_atfork); here the session lets go of the parent's
    capture and stops tracking, since no checkpoint will be taken."""
    if _state is None or _state[0] == os.getpid():
        return
    try:
        _state[1]._after_fork_child(False)
    except Exception as e:
        sys.stderr.write("leaktrace: in the forked child %d: %s\n" % (os.getpid(), e))


def enabled():
    """The control socket's path when production mode runs in this
    process, else None."""
    if _state is not None and _state[0] == os.getpid():
        return _state[2]
    return None

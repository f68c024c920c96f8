"""Imported by leaktrace-follow.pth at interpreter start-up when
LEAKTRACE_FOLLOW is set: this Python was started (multiprocessing's spawn,
subprocess) by a program under `leaktrace run --follow-fork`, and observes
itself as its parent does, with its own capture and reports, made at exit
(leaktrace._children). A bad setting costs one line on stderr, never the
program."""


def _cmdline():
    try:
        with open("/proc/self/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]


def _start():
    import atexit
    import json
    import os
    import sys

    try:
        from leaktrace import _children, _core

        if os.environ.get("LEAKTRACE", "") not in ("", "0"):
            return      # production mode (LEAKTRACE=1) observes this process
        cfg = json.loads(os.environ[_children.ENV])
        if not isinstance(cfg, dict) or cfg.get("version") != 1:
            raise ValueError("%s is not a setting of this leaktrace" % _children.ENV)
        argv = _cmdline()
        # multiprocessing's own helper process is not the program's.
        if any("multiprocessing.resource_tracker" in a for a in argv):
            return
        pid = os.getpid()
        tracker = _core.Tracker(mode=cfg["mode"], sample_mean=cfg["sample_mean"])
        session = _core.Session(interval=cfg["interval"], warmup=cfg["warmup"], tracker=tracker,
                                capture=_children.derived(cfg["capture"], pid), argv=argv,
                                outputs=_children.child_outputs(cfg, pid, "spawn"),
                                memory_limit=cfg["memory_limit"])
        session.start()
        _children.install(session, cfg)
        atexit.register(session.finish)
    except (ValueError, KeyError, TypeError, OSError, RuntimeError, ImportError) as e:
        sys.stderr.write("leaktrace: this child process is not observed: %s\n" % e)


_start()

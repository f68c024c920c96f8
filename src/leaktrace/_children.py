"""Child processes of `leaktrace run`: what a forked child does with the
parent's Session, the environment that makes spawned Pythons observe
themselves (`--follow-fork`), and the parent's list of its children.

Glue only: the Session does the work (Session._after_fork_child in C).

- Without --follow-fork, a child made by os.fork() stops tracking silently
  and writes nothing (its copy of the Session is switched off at the fork).
- With it, a forked child starts its own observation at the fork: its own
  capture and reports, named after the parent's with its PID before the
  extension (cap.lt -> cap.4242.lt, report.json -> report.4242.json), made
  when it ends: through the program's normal end, or os._exit (what
  os.fork() children and multiprocessing's fork start method end with),
  which is wrapped in the child for that. A child killed by a signal keeps
  its capture, for `leaktrace report`.
- Processes started anew (multiprocessing's spawn and forkserver start
  methods, subprocess running this Python) inherit LEAKTRACE_FOLLOW, a JSON
  setting that leaktrace-follow.pth honours at start-up (_follow.py): they
  observe themselves the same way and report at exit.
"""
import json
import os
import re
import sys
import time

ENV = "LEAKTRACE_FOLLOW"
_VERSION = 1
_OUTPUTS = ("capture", "json", "html", "text")

_state = None           # {"session", "config", "pid"}: the Session this process observes with
_registered = False
_real_exit = os._exit


def derived(path, pid):
    """The child's name for an output path: its PID before the extension."""
    if path is None:
        return None
    root, ext = os.path.splitext(path)
    return "%s.%d%s" % (root, pid, ext)


def config(args, mode, interval, warmup):
    """The settings children inherit (JSON-serialisable)."""
    absolute = {k: os.path.abspath(getattr(args, k)) if getattr(args, k) else None for k in _OUTPUTS}
    return dict(absolute, version=_VERSION, follow=bool(args.follow_fork), mode=mode,
                sample_mean=args.sample_mean, interval=interval, warmup=warmup,
                memory_limit=args.memory_limit or 0, max_findings=max(1, args.max_findings),
                quiet=bool(args.quiet), root_pid=os.getpid(), started=time.time())


def child_outputs(cfg, pid, how):
    """The outputs dict of a child's Session. A text report that went to
    stderr is written there by a child only when it leaks."""
    outputs = {k: derived(cfg[k], pid) for k in ("json", "html", "text")}
    outputs.update(quiet=cfg["quiet"] or cfg["text"] is None, color=False, max_findings=cfg["max_findings"],
                   notes=[("child-of", "process %d was started by process %d (%s) and observed on its own "
                                       "from then on" % (pid, os.getppid(), how))])
    return outputs


def install(session, cfg):
    """Makes forked children of this process follow cfg, and spawned ones
    too when following."""
    global _state, _registered
    _state = {"session": session, "config": cfg, "pid": os.getpid()}
    if not _registered:
        os.register_at_fork(after_in_child=_after_fork_child)
        _registered = True
    if cfg["follow"]:
        os.environ[ENV] = json.dumps(cfg)


def _after_fork_child():
    st = _state
    if st is None:
        return
    session, cfg = st["session"], st["config"]
    try:
        if not cfg["follow"]:
            session._after_fork_child(False)
            return
        pid = os.getpid()
        session._after_fork_child(True, derived(cfg["capture"], pid), child_outputs(cfg, pid, "fork"))
        st["pid"] = pid
        os._exit = _exit_reporting
    except Exception as e:  # noqa: BLE001 - never break the program's fork
        sys.stderr.write("leaktrace: the forked child %d is not observed: %s\n" % (os.getpid(), e))


def _exit_reporting(code):
    """os._exit in a followed child: the child's report, then the exit."""
    st = _state
    if st is not None and st["pid"] == os.getpid():
        try:
            st["session"].finish()
        except BaseException as e:  # noqa: BLE001 - the exit must happen
            sys.stderr.write("leaktrace: the report of child %d failed: %s\n" % (os.getpid(), e))
    _real_exit(code)


def note_children(session, cfg):
    """Adds a 'child-process' note to the Session's reports for each child
    whose files this run wrote (named as derived() names them, written
    since the run started). Only in the process `leaktrace run` started."""
    if os.getpid() != cfg["root_pid"]:
        return
    found = {}
    for key in _OUTPUTS:
        path = cfg[key]
        if path is None:
            continue
        d, base = os.path.split(path)
        root, ext = os.path.splitext(base)
        pattern = re.compile(r"^%s\.(\d+)%s$" % (re.escape(root), re.escape(ext)))
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            m = pattern.match(name)
            if m is None:
                continue
            full = os.path.join(d, name)
            try:
                if os.stat(full).st_mtime < cfg["started"] - 1:
                    continue        # an earlier run's
            except OSError:
                continue
            found.setdefault(int(m.group(1)), {})[key] = full
    labels = {"capture": "capture", "json": "JSON report", "html": "HTML report", "text": "text report"}
    for pid in sorted(found):
        files = found[pid]
        parts = ["%s %s" % (labels[k], files[k]) for k in _OUTPUTS if k in files]
        if not any(k in files for k in ("json", "html", "text")):
            parts.append("no report yet (it was still running, or was killed)%s" % (
                ": `leaktrace report %s` makes it" % files["capture"] if "capture" in files else ""))
        session.note("child-process", "child process %d: %s" % (pid, ", ".join(parts)))

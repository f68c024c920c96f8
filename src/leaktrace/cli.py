"""The leaktrace command line: argument parsing and running the program.

The watching, the analysis and the reports are done in C (leaktrace._core);
this module only turns options into a Session and runs the program as
`__main__`, as `python script.py` or `python -m module` would.
"""
import argparse
import os
import sys

USAGE_ERROR = 2
LEAK_EXIT = 3


class UsageError(Exception):
    """A bad option or input: one line on stderr, exit 2."""


def _fail(message):
    print("leaktrace: error: %s" % message, file=sys.stderr)
    return USAGE_ERROR


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _positive(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0, not %s" % text)
    return value


def _non_negative(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more, not %s" % text)
    return value


def _size(text):
    units = {"": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
             "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}
    t = text.strip().lower()
    num = t.rstrip("kmgib")
    try:
        return int(float(num) * units[t[len(num):]])
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError("not a size: %r (e.g. 512k, 4m, 2g)" % text)


def _pid(text):
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError("not a process id: %r" % text)
    return int(text)


def _build_parser():
    p = _Parser(prog="leaktrace", description="Find memory leaks in Python programs.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a program under observation and report what leaks",
                         usage="leaktrace run [options] (script.py | -m module) [args ...]")
    run.add_argument("--duration", type=_positive, metavar="S",
                     help="observe for S seconds, then report and stop the program (SIGINT)")
    run.add_argument("--interval", type=_positive, metavar="S",
                     help="seconds between checkpoints (default: the duration / 40, between 0.1 and 10)")
    run.add_argument("--warmup", type=_non_negative, metavar="S",
                     help="seconds of warm-up left out of the verdict (default: a fifth of the run)")
    run.add_argument("--json", metavar="FILE", help="write the JSON report (schema leaktrace/report-1)")
    run.add_argument("--html", metavar="FILE", help="write the self-contained HTML report")
    run.add_argument("--text", metavar="FILE", help="write the text report to FILE instead of stderr")
    run.add_argument("--capture", metavar="FILE", help="write the capture file as the program runs")
    run.add_argument("--mode", choices=("sampled", "trace"),
                     help="allocation tracking: trace (every allocation: exact sites; the default for a "
                          "--duration of 120 s or less) or sampled (low overhead: the default otherwise)")
    run.add_argument("--sample-mean", type=_size, default=512 * 1024, metavar="SIZE",
                     help="mean bytes between samples in sampled mode (default 512k)")
    run.add_argument("--memory-limit", type=_size, metavar="SIZE",
                     help="when RSS reaches SIZE (e.g. 512m, 2g), or the memory cgroup is at 90%% of its limit, "
                          "write the reports and the capture at once, before an out-of-memory kill; the program "
                          "goes on and the report at its end replaces them")
    run.add_argument("--follow-fork", action="store_true",
                     help="observe child processes too (os.fork, multiprocessing with fork or spawn): each gets "
                          "its own capture and reports named NAME.PID.EXT, which the report lists")
    run.add_argument("--native", action="store_true",
                     help="also track native (malloc) allocations through the preload library")
    run.add_argument("--max-findings", type=int, default=10, metavar="N", help="report at most N findings")
    run.add_argument("--fail-on-leak", action="store_true", help="exit 3 when the verdict is leak")
    run.add_argument("--force", action="store_true", help="overwrite output files that are not leaktrace's")
    run.add_argument("-q", "--quiet", action="store_true", help="no status line, and the text report only if leaking")
    run.add_argument("-m", dest="module", metavar="MODULE", help="run a module as `python -m` does")
    run.add_argument("program", nargs=argparse.REMAINDER, help="the script and its arguments")

    report = sub.add_parser("report", help="re-render the report of a capture file, or ask a running process (PID)")
    report.add_argument("capture", metavar="CAPTURE|PID",
                        help="a capture file written by `leaktrace run --capture`, or the PID of a process in "
                             "production mode (LEAKTRACE=1)")
    report.add_argument("--json", metavar="FILE")
    report.add_argument("--html", metavar="FILE")
    report.add_argument("--text", metavar="FILE", help="write the text report to FILE instead of stdout")
    report.add_argument("--force", action="store_true")

    snapshot = sub.add_parser("snapshot", help="a fresh census of a process in production mode")
    snapshot.add_argument("pid", type=_pid, metavar="PID")
    snapshot.add_argument("--json", action="store_true", help="JSON (leaktrace/snapshot-1) instead of a table")
    snapshot.add_argument("--top", type=int, default=25, metavar="N", help="show the N largest types (25)")

    metrics = sub.add_parser("metrics", help="Prometheus metrics of a process in production mode")
    metrics.add_argument("pid", type=_pid, metavar="PID")

    diff = sub.add_parser("diff", help="compare two capture files")
    diff.add_argument("before")
    diff.add_argument("after")

    demo = sub.add_parser("demo", help="run a bundled leaky service and explain what leaks")
    demo.add_argument("--duration", type=_positive, default=8.0, metavar="S")

    from leaktrace import attach

    attach.add_parser(sub, _positive, _non_negative, _size)
    return p


# Output files we may replace without --force: earlier reports and captures.
_OURS = (b"leaktrace/report-1", b'<meta name="generator" content="leaktrace">', b"\x89LTC\r\n\x1a\n")


def _check_output(path, force):
    """Refuses an output path we cannot write, or one we would overwrite
    that is not leaktrace's own, before the program runs."""
    if path is None:
        return
    if os.path.isdir(path):
        raise UsageError("%s is a directory" % path)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError("cannot write %s: no directory %s" % (path, parent))
    if not os.access(parent, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError("cannot write %s: permission denied" % path)
    if os.path.exists(path) and os.path.getsize(path) > 0 and not force:
        with open(path, "rb") as f:
            head = f.read(4096)
        if not any(mark in head for mark in _OURS):
            raise UsageError("%s exists and is not a leaktrace report or capture: "
                             "remove it or pass --force" % path)


def _program(args):
    """(kind, target, argv) of the program to run."""
    rest = list(args.program)
    if rest and rest[0] == "--":
        rest = rest[1:]
    if args.module:
        return "module", args.module, [args.module] + rest
    if not rest:
        raise UsageError("no program: give a script or -m MODULE")
    script = rest[0]
    if not os.path.exists(script):
        raise UsageError("no such script: %s" % script)
    if os.path.isdir(script):
        raise UsageError("%s is a directory, not a script" % script)
    return "script", script, rest


def _run_program(kind, target, argv):
    """Runs the program as __main__; returns its exit code as python would."""
    import runpy

    sys.argv = list(argv)
    try:
        if kind == "module":
            # As `python -m`: the module runs in the __main__ module, which
            # stays in sys.modules, so its globals stay reachable afterwards.
            sys.path[0] = os.getcwd()
            runpy._run_module_as_main(target, alter_argv=False)
        else:
            _run_script(target)
    except SystemExit as e:
        return _exit_code(e.code)
    return 0


def _run_script(path):
    """Runs a script the way the interpreter does: a fresh __main__ module
    that stays in sys.modules, so that what it holds stays reachable from a
    root (`module __main__`) after it returns."""
    import types

    with open(path, "rb") as f:
        source = f.read()
    code = compile(source, path, "exec", dont_inherit=True)
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = __builtins__
    main.__cached__ = None
    sys.modules["__main__"] = main
    sys.path[0] = os.path.dirname(os.path.abspath(path))
    exec(code, main.__dict__)


def _exit_code(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _interval(args):
    if args.interval:
        return args.interval
    if args.duration:
        return min(10.0, max(0.1, args.duration / 40))
    return 1.0


def cmd_run(args):
    from leaktrace import _core

    kind, target, argv = _program(args)
    for path in (args.json, args.html, args.text, args.capture):
        _check_output(path, args.force)
    if args.native and not os.environ.get("LEAKTRACE_PRELOADED"):
        return _reexec_native(args)
    if kind == "script":
        try:
            with open(target, "rb") as f:
                compile(f.read(), target, "exec", dont_inherit=True)
        except SyntaxError as e:
            raise UsageError("%s does not compile: %s (line %s)" % (target, e.msg, e.lineno))
        except OSError as e:
            raise UsageError("cannot read %s: %s" % (target, e.strerror))
    mode = args.mode or ("trace" if args.duration and args.duration <= 120 else "sampled")
    tracker = _core.Tracker(mode=mode, sample_mean=args.sample_mean)
    outputs = {"json": args.json, "html": args.html, "text": args.text, "quiet": args.quiet,
               "color": args.text is None and sys.stderr.isatty(), "max_findings": max(1, args.max_findings)}
    if args.memory_limit is not None and args.memory_limit <= 0:
        raise UsageError("--memory-limit must be more than 0, not %s" % args.memory_limit)
    warmup = -1 if args.warmup is None else args.warmup
    session = _core.Session(interval=_interval(args), warmup=warmup,
                            duration=args.duration or 0, tracker=tracker, capture=args.capture, argv=argv,
                            outputs=outputs, status_line=sys.stderr.isatty() and not args.quiet,
                            memory_limit=args.memory_limit or 0)
    # Before the tracker starts, so that none of it is the program's memory.
    from leaktrace import _children

    children = _children.config(args, mode, _interval(args), warmup)
    _children.install(session, children)
    session.start()
    program_done = _escalate_after_deadline(session, args.fail_on_leak) if args.duration else None
    code = 0
    try:
        code = _run_program(kind, target, argv)
    except KeyboardInterrupt:
        # Our SIGINT at the end of --duration: the observation is complete.
        code = 0 if session.deadline_hit else 130
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        if program_done is not None:
            program_done.set()
        if args.follow_fork:
            _children.note_children(session, children)
        verdict = session.finish()
    if args.fail_on_leak and verdict == "leak":
        code = LEAK_EXIT
    if session.deadline_hit:
        _stop_lingering_threads(code)
    return code


def _escalate_after_deadline(session, fail_on_leak, grace=3.0):
    """The deadline's SIGINT may do nothing: the program ignores it (started
    with SIGINT ignored, as `cmd &` in a script or nohup start it, or it sets
    SIG_IGN itself) or catches KeyboardInterrupt and goes on. A grace period
    after the report, SIGTERM when the program handles it (so that its own
    shutdown runs); after another grace, the process exits with the exit
    code it would have had (the report is written). Returns the Event to set
    once the program has returned."""
    import signal
    import threading

    done = threading.Event()

    def watch():
        while not session.deadline_hit:
            if done.wait(0.2):
                return
        # A program that handles SIGINT (KeyboardInterrupt, its own handler)
        # is shutting down: on a loaded machine that may take seconds. One
        # that ignores it gets only the short grace.
        ignored = signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, None)
        if done.wait(grace if ignored else 3 * grace):
            return
        if signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN, None):
            os.kill(os.getpid(), signal.SIGTERM)
            if done.wait(grace):
                return
        verdict = session.finish()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(LEAK_EXIT if fail_on_leak and verdict == "leak" else 0)

    threading.Thread(target=watch, name="leaktrace-deadline", daemon=True).start()
    return done


def _stop_lingering_threads(code, grace=3.0):
    """After the deadline's SIGINT, threads of the program that never end
    (non-daemon, blocked) would keep the interpreter from exiting: they get
    a short grace to finish, then the process exits with the report written."""
    import threading
    import time

    deadline = time.monotonic() + grace
    for t in threading.enumerate():
        if t is not threading.main_thread() and not t.daemon:
            t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _reexec_native(args):
    import subprocess

    from leaktrace import _core

    lib = _core.preload_library() if hasattr(_core, "preload_library") else None
    if not lib or not os.path.exists(lib):
        raise UsageError("--native needs the preload library, which this build of leaktrace lacks")
    env = dict(os.environ, LD_PRELOAD=lib, LEAKTRACE_PRELOADED="1")
    return subprocess.call([sys.executable, "-m", "leaktrace"] + sys.argv[1:], env=env)


def cmd_report(args):
    from leaktrace import _core

    for path in (args.json, args.html, args.text):
        _check_output(path, args.force)
    if args.capture.isdigit() and not os.path.exists(args.capture):
        return _ask_process("report", int(args.capture), args)
    if not os.path.exists(args.capture):
        raise UsageError("no such capture file: %s" % args.capture)
    outputs = {"json": args.json, "html": args.html, "text": args.text, "color": sys.stdout.isatty(),
               "quiet": False, "max_findings": 10}
    try:
        _core.report_capture(args.capture, outputs)
    except ValueError as e:
        raise UsageError(str(e))
    return 0


def _ask_process(what, pid, args):
    """report / snapshot / metrics of a process in production mode."""
    from leaktrace import _control

    try:
        if what == "report":
            return _control.report(pid, args.json, args.html, args.text)
        if what == "snapshot":
            if not 1 <= args.top <= 10000:
                raise UsageError("--top must be between 1 and 10000")
            return _control.snapshot(pid, args.json, args.top)
        return _control.metrics(pid)
    except _control.ControlError as e:
        raise UsageError(str(e))


def cmd_snapshot(args):
    return _ask_process("snapshot", args.pid, args)


def cmd_metrics(args):
    return _ask_process("metrics", args.pid, args)


def cmd_diff(args):
    from leaktrace import _core

    for path in (args.before, args.after):
        if not os.path.exists(path):
            raise UsageError("no such capture file: %s" % path)
    try:
        sys.stdout.write(_core.diff_captures(args.before, args.after))
    except ValueError as e:
        raise UsageError(str(e))
    return 0


def cmd_attach(args):
    from leaktrace import attach

    try:
        return attach.cmd_attach(args, _check_output)
    except attach.AttachError as e:
        print("leaktrace: error: %s" % e, file=sys.stderr)
        return e.code


def cmd_demo(args):
    from leaktrace import demo

    return demo.main(duration=args.duration)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return USAGE_ERROR
        return {"run": cmd_run, "report": cmd_report, "diff": cmd_diff, "demo": cmd_demo,
                "snapshot": cmd_snapshot, "metrics": cmd_metrics, "attach": cmd_attach}[args.command](args)
    except UsageError as e:
        return _fail(str(e))
    except OSError as e:
        return _fail("%s: %s" % (getattr(e, "filename", None) or "", e.strerror or e))

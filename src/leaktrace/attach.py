"""`leaktrace attach PID`: observe a running CPython process, report, detach.

The CLI side checks that the process can be attached to (it exists, is not
us, ptrace is allowed, it runs a supported CPython, gdb is there), writes a
payload into a private handshake directory, and has gdb load
libleaktrace_inject.so into the process at the entry of an allocator
function, where the stopped thread holds no allocator lock. The library
starts one thread that takes the GIL the ordinary way and runs the payload;
gdb detaches at once. The payload imports leaktrace from the process's own
sys.path and starts a Session that, at the deadline, writes the reports into
the handshake directory, stops tracking (hooks removed, tables emptied) and
lets go of everything, so the program goes on unchanged. The CLI waits for
that, copies the reports where they were asked for and prints the text one.

The process side is `_begin_in_target`, run there by the payload; it and
this module's top level import nothing beyond os and sys.
"""
import os
import sys

SUPPORTED = ((3, 9), (3, 13))
# Seconds gdb may wait for the process to enter an allocator function: a
# process that allocates nothing for this long is idle (blocked in a system
# call) and is left alone rather than stopped somewhere unsafe.
SAFE_POINT_WAIT = 15.0
# Seconds for the process to hand the GIL to the attach thread, import
# leaktrace and take the first checkpoint.
START_WAIT = 60.0
# Seconds for gdb to start, attach and load the symbols of libc and libpython.
GDB_STARTUP = 10.0
# Seconds after the deadline for the analysis and the reports.
REPORT_WAIT = 120.0
CAP_SYS_PTRACE = 19

# What the payload says back: one file each in the handshake directory.
STARTED, DONE, ERROR, REFUSED = "started", "done", "error", "refused"


class AttachError(Exception):
    """Attaching failed or was refused: one line on stderr, exit `code`."""

    def __init__(self, message, code=2):
        Exception.__init__(self, message)
        self.code = code


# ---- the process side (runs inside the observed program) ----------------------

def _put(d, name, text):
    path = os.path.join(d, name)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def _begin_in_target(d, cfg):
    """Starts the observation inside the attached process (GIL held, on the
    injector's thread). Raises on failure, leaving nothing running."""
    import time

    from leaktrace import _core

    t_start = []

    def detached(verdict, error):
        # Called by the session's thread once the reports are written and
        # tracking is stopped; the directory may be gone if the CLI gave up.
        latency = time.monotonic() - t_start[0] - cfg["duration"] if t_start else -1.0
        try:
            if error is not None:
                _put(d, ERROR, "the report failed: %s" % error)
            else:
                _put(d, DONE, "%s %.3f\n" % (verdict, latency))
        except OSError:
            pass

    outputs = {"text": os.path.join(d, "report.txt"), "color": False, "quiet": False,
               "max_findings": cfg["max_findings"],
               "json": os.path.join(d, "report.json") if cfg["json"] else None,
               "html": os.path.join(d, "report.html") if cfg["html"] else None}
    tracker = _core.Tracker(mode=cfg["mode"], sample_mean=cfg["sample_mean"])
    session = _core.Session(interval=cfg["interval"], warmup=cfg["warmup"], duration=cfg["duration"],
                            tracker=tracker, capture=os.path.join(d, "capture.lt") if cfg["capture"] else None,
                            argv=[a for a in sys.argv if isinstance(a, str)], outputs=outputs,
                            status_line=False, on_deadline="detach", on_detach=detached)
    try:
        session.start()
    except BaseException:
        tracker.stop()
        raise
    t_start.append(time.monotonic())
    _put(d, STARTED, "%d %s\n" % (os.getpid(), sys.version.split()[0]))


# The payload: compiled in the process by the injector, in fresh globals
# holding `_lt_dir`. It must itself run on any Python 3, so that it can
# refuse an unsupported one in words; CONFIG is filled in by the CLI.
PAYLOAD = '''
def _leaktrace_attach(d, cfg):
    import os, sys

    def put(name, text):
        path = os.path.join(d, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)

    try:
        if not os.path.exists(os.path.join(d, "payload.py")):
            return      # the CLI gave up waiting and removed the directory
        v = sys.version_info[:2]
        flags = getattr(sys, "abiflags", "")
        if not ((3, 9) <= v <= (3, 13)):
            put("refused", "version\\t%d.%d" % v)
        elif "d" in flags or hasattr(sys, "gettotalrefcount"):
            put("refused", "debug\\t%d.%d" % v)
        elif "t" in flags or not getattr(sys, "_is_gil_enabled", lambda: True)():
            put("refused", "free-threaded\\t%d.%d" % v)
        else:
            try:
                from leaktrace.attach import _begin_in_target
            except ImportError as e:
                put("refused", "import\\t%s\\t%s" % (sys.executable, e))
                return
            _begin_in_target(d, cfg)
    except BaseException as e:
        try:
            put("error", "%s: %s" % (type(e).__name__, e))
        except OSError:
            pass


_leaktrace_attach(_lt_dir, CONFIG)
del _leaktrace_attach
'''


# ---- the checks (CLI side) -------------------------------------------------------

def classify_python(exe, maps):
    """(major, minor, abiflags) of the interpreter a process runs, from its
    executable's path and the text of /proc/PID/maps; None when it is not
    recognisably CPython (no libpython mapped, executable not pythonX.Y)."""
    import re

    m = re.search(r"/libpython(\d+)\.(\d+)([a-z]*)\.so", maps)
    if m is None:
        m = re.match(r"python(\d+)\.(\d+)([a-z]*)$", os.path.basename(exe or ""))
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2)), m.group(3)


def _proc_read(pid, name):
    with open("/proc/%d/%s" % (pid, name)) as f:
        return f.read()


def _has_cap_sys_ptrace():
    try:
        for line in _proc_read(os.getpid(), "status").splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> CAP_SYS_PTRACE & 1)
    except (OSError, ValueError):
        pass
    return False


def _yama_scope():
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _user(uid):
    try:
        import pwd

        return "%s (uid %d)" % (pwd.getpwuid(uid).pw_name, uid)
    except (ImportError, KeyError):
        return "uid %d" % uid


def _is_descendant(pid):
    """Whether `pid` descends from us (yama scope 1 allows those)."""
    me = os.getpid()
    seen = 0
    while pid > 1 and seen < 4096:
        try:
            stat = _proc_read(pid, "stat")
        except OSError:
            return False
        pid = int(stat[stat.rindex(")") + 2:].split()[1])
        if pid == me:
            return True
        seen += 1
    return False


def ptrace_refusal(pid, target_uid, euid, cap, scope, descendant, denied=False):
    """The reason ptrace(PTRACE_ATTACH) is or was refused, with the fix, or
    None when nothing forbids it. `denied`: the kernel said EPERM (or
    refused /proc/PID/exe), so some reason must be given."""
    container = (" (in a container: docker run --cap-add=SYS_PTRACE, or Kubernetes "
                 "securityContext.capabilities.add: [SYS_PTRACE])")
    if scope == 3:
        return ("ptrace is not permitted: kernel.yama.ptrace_scope is 3 (no process may attach until "
                "reboot): reboot with a lower kernel.yama.ptrace_scope")
    if target_uid != euid and not cap:
        return ("ptrace is not permitted: process %d belongs to %s and leaktrace runs as %s without "
                "CAP_SYS_PTRACE: run it as that user (sudo -u '#%d' leaktrace attach %d) or %s%s"
                % (pid, _user(target_uid), _user(euid), target_uid, pid,
                   "with CAP_SYS_PTRACE" if euid == 0 else "as root", container))
    if scope == 2 and not cap:
        return ("ptrace is not permitted: kernel.yama.ptrace_scope is 2 (only CAP_SYS_PTRACE may attach): "
                "run leaktrace as root (sudo)%s" % container)
    if scope == 1 and not cap and not descendant:
        return ("ptrace is not permitted: kernel.yama.ptrace_scope is 1 (only a parent may attach to its "
                "children): run leaktrace as root (sudo), or allow it with "
                "`sudo sysctl kernel.yama.ptrace_scope=0`")
    if not denied:
        return None
    if cap:
        return ("ptrace is not permitted although leaktrace has CAP_SYS_PTRACE: a security policy "
                "(seccomp, AppArmor or SELinux) forbids it; allow ptrace for leaktrace's gdb")
    return ("ptrace is not permitted: process %d is yours but not dumpable (it called "
            "prctl(PR_SET_DUMPABLE, 0) or changed its user ids), or a security policy (seccomp, AppArmor, "
            "a container without CAP_SYS_PTRACE) forbids it: run leaktrace %s%s"
            % (pid, "with CAP_SYS_PTRACE" if euid == 0 else "as root", container))


def _ptrace_facts(pid):
    st = os.stat("/proc/%d" % pid)
    return dict(target_uid=st.st_uid, euid=os.geteuid(), cap=_has_cap_sys_ptrace(), scope=_yama_scope(),
                descendant=_is_descendant(pid))


def check_target(pid):
    """Refuses (AttachError, exit 2) what cannot or must not be attached to.
    Returns (exe, (major, minor, abiflags), target_uid, target_gid)."""
    if pid <= 0:
        raise AttachError("not a process id: %d" % pid)
    if pid == os.getpid():
        raise AttachError("process %d is this leaktrace itself: give the id of the program to observe" % pid)
    try:
        st = os.stat("/proc/%d" % pid)
        comm = _proc_read(pid, "comm").strip()
    except FileNotFoundError:
        raise AttachError("no such process: %d" % pid)
    facts = _ptrace_facts(pid)
    reason = ptrace_refusal(pid, **facts)
    if reason:
        raise AttachError(reason)
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
        maps = _proc_read(pid, "maps")
    except FileNotFoundError:
        raise AttachError("no such process: %d" % pid)
    except PermissionError:
        raise AttachError(ptrace_refusal(pid, denied=True, **facts))
    if exe.endswith(" (deleted)"):
        exe = exe[:-len(" (deleted)")]
    if "State:\tZ" in _proc_read(pid, "status"):
        raise AttachError("process %d (%s) is a zombie: it has exited" % (pid, comm))
    py = classify_python(exe, maps)
    if py is None:
        raise AttachError("process %d (%s, %s) is not a Python process: no libpython is loaded and the "
                          "executable is not named pythonX.Y" % (pid, comm, exe))
    refusal = _version_refusal(pid, py[0], py[1], py[2])
    if refusal:
        raise AttachError(refusal)
    return exe, py, st.st_uid, st.st_gid


def _version_refusal(pid, major, minor, flags):
    lo, hi = SUPPORTED
    if not (lo <= (major, minor) <= hi):
        return ("process %d runs Python %d.%d: leaktrace attaches to CPython %d.%d to %d.%d only"
                % (pid, major, minor, lo[0], lo[1], hi[0], hi[1]))
    if "d" in flags:
        return ("process %d runs a debug build of CPython %d.%d, whose object layout leaktrace does not "
                "support: attach to a release build" % (pid, major, minor))
    if "t" in flags:
        return ("process %d runs a free-threaded build of CPython %d.%d (no GIL), which leaktrace does "
                "not support yet: attach to a default (GIL) build" % (pid, major, minor))
    return None


def _gdb():
    import shutil

    gdb = shutil.which("gdb")
    if gdb is None:
        raise AttachError("gdb is not installed, and attach needs it: apt-get install gdb "
                          "(or your distribution's gdb package)")
    return gdb


def inject_library():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libleaktrace_inject.so")
    if not os.path.exists(path):
        raise AttachError("this installation of leaktrace lacks %s: reinstall it" % path)
    return path


# ---- gdb ---------------------------------------------------------------------------

def _c_string(text):
    """`text` as a gdb string literal."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            raise AttachError("path not usable in the debugger script: %r" % text)
    return '"%s"' % "".join(out)


# Where a thread holds no allocator lock: at the entry of the allocator's own
# functions (the libc ones for every process; CPython's for processes that
# only touch pymalloc for a while). Pending: they may not all exist.
_SAFE_POINTS = ("malloc", "calloc", "realloc", "free", "PyObject_Malloc", "PyObject_Free",
                "PyMem_Malloc", "PyMem_Free")


def gdb_script(library, directory, idle_after=None):
    """The gdb commands: stop one thread at an allocator's entry, disable
    every breakpoint, dlopen the injector, give it the directory, detach.
    The two strings are written into memory malloc'ed in the process (and
    freed there again), so the attach leaves nothing behind. With
    `idle_after` (seconds; needs gdb's Python), gdb interrupts itself when
    no breakpoint was hit by then: an event of gdb's own loop, so it never
    lands in the middle of the breakpoint's commands."""
    lines = [
        "set pagination off", "set confirm off", "set width 0", "set print thread-events off",
        "set print inferior-events off", "set unwindonsignal on", "set breakpoint pending on",
        # The program's own signals pass through untouched; SIGINT is ours (the
        # idle timeout interrupts gdb) and is never delivered.
        "handle all nostop noprint pass", "handle SIGINT stop print nopass",
    ]
    lines += ["break %s" % f for f in _SAFE_POINTS]
    if idle_after is not None:
        lines += [
            "python",
            "import threading",
            "_lt_hit = False",
            "def _lt_idle():",
            "    if not _lt_hit:",
            "        gdb.write('LEAKTRACE: idle\\n')",
            "        gdb.execute('interrupt')",
            "_lt_timer = threading.Timer(%r, lambda: gdb.post_event(_lt_idle))" % float(idle_after),
            "_lt_timer.daemon = True",
            "_lt_timer.start()",
            "end",
        ]
    lines.append('echo LEAKTRACE: attached\\n')
    lib, d = _c_string(library), _c_string(directory)
    nlib = len(library.encode()) + 1
    nd = len(directory.encode()) + 1
    lines += [
        "commands 1-%d" % len(_SAFE_POINTS),
        "  silent",
        "  disable breakpoints",
    ]
    if idle_after is not None:
        lines.append("  python _lt_hit = True")
    lines += [
        "  echo LEAKTRACE: hit\\n",
        "  set $lt_lib = (char *) malloc(%d)" % nlib,
        "  set {char [%d]} $lt_lib = %s" % (nlib, lib),
        "  set $lt_h = (void *) dlopen($lt_lib, 2)",
        "  call (void) free($lt_lib)",
        "  if $lt_h == 0",
        '    printf "LEAKTRACE: dlopen failed: %s\\n", (char *) dlerror()',
        "  else",
        "    sharedlibrary libleaktrace_inject",
        "    set $lt_dir = (char *) malloc(%d)" % nd,
        "    set {char [%d]} $lt_dir = %s" % (nd, d),
        '    printf "LEAKTRACE: started %d\\n", (int) lt_inject_start($lt_dir)',
        "    call (void) free($lt_dir)",
        "  end",
        "end",
        "continue",
        'echo LEAKTRACE: end\\n',
    ]
    return "\n".join(lines) + "\n"


def _gdb_has_python(gdb):
    import subprocess

    try:
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        out = subprocess.run([gdb, "-batch", "-nx", "-ex", "python print('lt-python-ok')"], env=env,
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                             timeout=GDB_STARTUP).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "lt-python-ok" in out


def inject(pid, gdb, library, directory, facts_for_eperm, wait=SAFE_POINT_WAIT):
    """Runs gdb; returns when the injector's thread is started and gdb has
    detached. Raises AttachError."""
    import signal
    import subprocess
    import threading

    has_python = _gdb_has_python(gdb)
    script = os.path.join(directory, "attach.gdb")
    with open(script, "w") as f:
        f.write(gdb_script(library, directory, wait if has_python else None))
    # Every thread of the process is stopped from gdb's attach to its detach:
    # only the ELF symbol tables are read (--readnever: no DWARF, half the
    # pause), and no debuginfod lookup. Those of every loaded library, so
    # that `malloc` is the one the process uses (an LD_PRELOADed jemalloc, a
    # sanitizer's) for the breakpoints and for gdb's own calls.
    cmd = [gdb, "-batch", "-nx", "-nw", "--readnever", "-iex", "set auto-load off", "-iex",
           "set debuginfod enabled off", "-p", str(pid), "-x", script]
    env = dict(os.environ, LC_ALL="C", LANG="C")
    env.pop("LD_PRELOAD", None)     # ours (the native library, a sanitizer) is not gdb's
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env, universal_newlines=True)
    lines = []
    armed = threading.Event()
    hit = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("LEAKTRACE: attached"):
                armed.set()
            elif line.startswith("LEAKTRACE: hit"):
                hit.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # The wait for a safe point starts once the breakpoints are set; gdb
        # times itself out (idle_after) and this is only the safety net.
        armed.wait(GDB_STARTUP)
        proc.wait(timeout=wait + (GDB_STARTUP if has_python else 0.0))
    except subprocess.TimeoutExpired:
        try:
            if hit.is_set():
                # The breakpoint's commands are running: never interrupt them.
                proc.wait(timeout=GDB_STARTUP * 3)
            else:
                # A gdb without Python: interrupt it from here. It stops the
                # process (SIGINT, not passed on), removes the breakpoints
                # and detaches.
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=20.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AttachError("gdb did not finish with process %d; check the process" % pid, code=1)
    reader.join(5.0)
    out = "".join(lines)
    if "LEAKTRACE: started 0" in out:
        return
    if "ptrace: Operation not permitted" in out:
        raise AttachError(ptrace_refusal(pid, denied=True, **facts_for_eperm))
    if "ptrace: No such process" in out or "No such process" in out:
        raise AttachError("no such process: %d (it exited)" % pid)
    if not hit.is_set() and "Program received signal SIGINT" in out:
        raise AttachError("process %d entered no allocator function in %.0f s: it is idle (blocked), so "
                          "nothing would be observed; gdb left it untouched: attach while it is serving"
                          % (pid, wait))
    for line in out.splitlines():
        if line.startswith("LEAKTRACE: dlopen failed") or line.startswith("LEAKTRACE: started"):
            raise AttachError("loading leaktrace into process %d failed: %s" % (pid, line[11:]), code=1)
    tail = [l for l in out.splitlines() if l.strip()][-3:]
    raise AttachError("gdb could not attach to process %d: %s" % (pid, " | ".join(tail) or "no output"), code=1)


# ---- the command ------------------------------------------------------------------

def add_parser(sub, positive, non_negative, size):
    """The `attach` subcommand, for cli.py's parser."""
    p = sub.add_parser("attach", help="observe a running Python process for a while, report, and detach",
                       usage="leaktrace attach PID [--duration S] [--json F] [--html F] [--text F] [options]")
    p.add_argument("pid", type=int, metavar="PID", help="the process to observe")
    p.add_argument("--duration", type=positive, default=30.0, metavar="S",
                   help="observe for S seconds (default 30), then report and detach")
    p.add_argument("--interval", type=positive, metavar="S",
                   help="seconds between checkpoints (default: the duration / 40, between 0.1 and 10)")
    p.add_argument("--warmup", type=non_negative, metavar="S",
                   help="seconds of warm-up left out of the verdict (default: a fifth of the run)")
    p.add_argument("--json", metavar="FILE", help="write the JSON report (schema leaktrace/report-1)")
    p.add_argument("--html", metavar="FILE", help="write the self-contained HTML report")
    p.add_argument("--text", metavar="FILE", help="write the text report to FILE instead of stdout")
    p.add_argument("--capture", metavar="FILE", help="write the capture file of the observation")
    p.add_argument("--mode", choices=("sampled", "trace"),
                   help="allocation tracking: trace (the default for a --duration of 120 s or less) or sampled")
    p.add_argument("--sample-mean", type=size, default=512 * 1024, metavar="SIZE",
                   help="mean bytes between samples in sampled mode (default 512k)")
    p.add_argument("--safe-point-wait", type=positive, default=SAFE_POINT_WAIT, metavar="S",
                   help="seconds to wait for the process to enter an allocator, the safe point to load "
                        "leaktrace (default %g); an idle process is left alone" % SAFE_POINT_WAIT)
    p.add_argument("--native", action="store_true",
                   help="refused: native tracking needs the preload library, loaded at program start")
    p.add_argument("--max-findings", type=int, default=10, metavar="N", help="report at most N findings")
    p.add_argument("--fail-on-leak", action="store_true", help="exit 3 when the verdict is leak")
    p.add_argument("--force", action="store_true", help="overwrite output files that are not leaktrace's")
    p.add_argument("-q", "--quiet", action="store_true", help="no status lines on stderr")
    return p


def _say(args, text):
    if not args.quiet:
        print("[leaktrace] %s" % text, file=sys.stderr)
        sys.stderr.flush()


def _alive(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return "State:\tZ" not in f.read()
    except OSError:
        return False


def _wait_for(directory, names, timeout, pid):
    """The first of `names` to appear in `directory`: (name, its text).
    None on timeout; ('exited', '') when the process is gone."""
    import time

    end = time.monotonic() + timeout
    step = 0.02
    while True:
        for name in names:
            path = os.path.join(directory, name)
            if os.path.exists(path):
                with open(path) as f:
                    return name, f.read()
        if not _alive(pid):
            return "exited", ""
        if time.monotonic() >= end:
            return None
        time.sleep(step)
        step = min(0.2, step * 1.5)


def _refusal_text(pid, text):
    kind, _, rest = text.strip().partition("\t")
    if kind == "import":
        exe, _, err = rest.partition("\t")
        return ("leaktrace is not importable by the interpreter of process %d (%s: %s): install it there: "
                "%s -m pip install leaktrace" % (pid, exe or "?", err, exe or "python"))
    major, _, minor = rest.partition(".")
    if kind == "version" and major.isdigit() and minor.isdigit():
        return _version_refusal(pid, int(major), int(minor), "")
    if kind in ("debug", "free-threaded") and major.isdigit() and minor.isdigit():
        return _version_refusal(pid, int(major), int(minor), "d" if kind == "debug" else "t")
    return "process %d refused: %s" % (pid, text.strip())


def _payload(cfg):
    return PAYLOAD.replace("CONFIG", repr(cfg))


def cmd_attach(args, check_output):
    """The `attach` command; check_output(path, force) is cli.py's output check."""
    import shutil
    import tempfile
    import time

    if args.native:
        raise AttachError("--native cannot be used with attach: native allocations are seen through the "
                          "preload library, which must be loaded when the program starts (LD_PRELOAD) and "
                          "is too late for a running process: use `leaktrace run --native`")
    outs = {"json": args.json, "html": args.html, "text": args.text, "capture": args.capture}
    for path in outs.values():
        check_output(path, args.force)
    exe, py, uid, gid = check_target(args.pid)
    gdb = _gdb()
    library = inject_library()
    facts = _ptrace_facts(args.pid)

    duration = args.duration
    interval = args.interval or min(10.0, max(0.1, duration / 40))
    cfg = {"duration": duration, "interval": interval, "warmup": -1.0 if args.warmup is None else args.warmup,
           "mode": args.mode or ("trace" if duration <= 120 else "sampled"), "sample_mean": args.sample_mean,
           "max_findings": max(1, args.max_findings), "json": bool(args.json), "html": bool(args.html),
           "capture": bool(args.capture)}
    # Owner-only; when root attaches to another user's program, owned by
    # that user, who must write into it (root reads it all the same).
    directory = tempfile.mkdtemp(prefix="leaktrace-attach-%d-" % args.pid)
    keep = False
    try:
        os.chmod(directory, 0o700)
        payload = os.path.join(directory, "payload.py")
        with open(payload, "w") as f:
            f.write(_payload(cfg))
        os.chmod(payload, 0o600)
        if uid != os.geteuid() and os.geteuid() == 0:
            os.chown(payload, uid, gid)
            os.chown(directory, uid, gid)

        t0 = time.monotonic()
        inject(args.pid, gdb, library, directory, facts, wait=args.safe_point_wait)
        t_gdb = time.monotonic()
        got = _wait_for(directory, (STARTED, REFUSED, ERROR), START_WAIT, args.pid)
        if got is None:
            # The thread still waits for the GIL: removing the directory
            # (finally, below) tells it not to start.
            raise AttachError("process %d did not run the attach code within %.0f s (a C call holding the "
                              "GIL?): nothing was started" % (args.pid, START_WAIT), code=1)
        name, text = got
        if name == "exited":
            raise AttachError("process %d exited while leaktrace was attaching" % args.pid, code=1)
        if name == REFUSED:
            raise AttachError(_refusal_text(args.pid, text))
        if name == ERROR:
            if "another leaktrace Tracker is running" in text:
                raise AttachError("process %d is already observed by leaktrace (a run, an attach or "
                                  "production mode): wait for it to end" % args.pid)
            raise AttachError("leaktrace could not start in process %d: %s" % (args.pid, text.strip()), code=1)
        t_start = time.monotonic()
        version = text.split()[1] if len(text.split()) > 1 else "?"
        _say(args, "attached to process %d (Python %s) in %.2f s (gdb %.2f s); observing for %g s"
             % (args.pid, version, t_start - t0, t_gdb - t0, duration))
        try:
            got = _wait_for(directory, (DONE, ERROR), duration + REPORT_WAIT, args.pid)
        except KeyboardInterrupt:
            # The process does not need us: it reports and detaches by itself.
            keep = True
            print("leaktrace: interrupted: process %d goes on observing until the deadline, then detaches; "
                  "its reports will be in %s" % (args.pid, directory), file=sys.stderr)
            return 130
        if got is None:
            keep = True
            raise AttachError("process %d made no report within %.0f s of the deadline; whatever it writes "
                              "goes to %s" % (args.pid, REPORT_WAIT, directory), code=1)
        name, text = got
        if name == "exited":
            raise AttachError("process %d exited before the end of the observation: no report" % args.pid,
                              code=1)
        if name == ERROR:
            raise AttachError("process %d: %s" % (args.pid, text.strip()), code=1)
        verdict, _, latency = text.strip().partition(" ")
        for key, dest in outs.items():
            if dest is not None:
                src = os.path.join(directory, {"json": "report.json", "html": "report.html", "text": "report.txt",
                                               "capture": "capture.lt"}[key])
                shutil.copyfile(src, dest)
        if args.text is None:
            with open(os.path.join(directory, "report.txt")) as f:
                sys.stdout.write(f.read())
            sys.stdout.flush()
        _say(args, "detached from process %d: verdict %s, report ready %s s after the deadline; the process "
             "goes on untracked" % (args.pid, verdict, latency))
        return 3 if args.fail_on_leak and verdict == "leak" else 0
    finally:
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)

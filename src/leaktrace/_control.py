"""The client side of the control socket: `leaktrace report PID`,
`leaktrace snapshot PID`, `leaktrace metrics PID` (docs/production.md).

Finds the socket of a process (the listening Unix socket named <pid>.sock
among its descriptors, from /proc/net/unix, else the default directory), refuses what is not ours with one line, sends one request line
and splits the framed answer."""
import os
import socket
import stat
import sys

TIMEOUT = 300.0     # a report of a large heap takes a while to build


class ControlError(Exception):
    """A PID that cannot be asked: one line on stderr, exit 2."""


def _socket_inodes(pid):
    """Inodes of the sockets process `pid` has open, or None when its
    descriptors are not ours to read."""
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return None
    out = set()
    for fd in fds:
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[8:-1])
    return out


def _listening_paths(pid):
    """Paths of the listening Unix sockets named <pid>.sock that process
    `pid` holds (from /proc/net/unix and its descriptors); when its
    descriptors cannot be read (another user's process), those in a
    directory whose name starts with "leaktrace"."""
    name = "%d.sock" % pid
    inodes = _socket_inodes(pid)
    found = []
    try:
        with open("/proc/net/unix") as f:
            next(f, None)
            for line in f:
                parts = line.split()
                # Num RefCount Protocol Flags Type St Inode Path
                if len(parts) < 8 or not (int(parts[3], 16) & 0x10000):
                    continue
                path = " ".join(parts[7:])
                if os.path.basename(path) != name:
                    continue
                if inodes is not None:
                    if parts[6] in inodes:
                        found.append(path)
                elif os.path.basename(os.path.dirname(path)).startswith("leaktrace"):
                    found.append(path)
    except OSError:
        pass
    return found


def _owner(uid):
    try:
        import pwd

        return "%s (uid %d)" % (pwd.getpwuid(uid).pw_name, uid)
    except (ImportError, KeyError):
        return "uid %d" % uid


def find_socket(pid):
    """The control socket of process `pid`, or ControlError saying why not."""
    from leaktrace.production import default_socket_dir

    if pid <= 0 or not os.path.exists("/proc/%d" % pid):
        raise ControlError("no process with PID %d" % pid)
    candidates = _listening_paths(pid)
    default = os.path.join(default_socket_dir(), "%d.sock" % pid)
    if default not in candidates:
        candidates.append(default)
    for path in candidates:
        try:
            st = os.stat(path)
        except PermissionError:
            raise ControlError("the control socket of process %d (%s) is in a directory of another user: "
                               "run leaktrace as the process's user" % (pid, path))
        except OSError:
            continue
        if not stat.S_ISSOCK(st.st_mode):
            continue
        if st.st_uid != os.geteuid():
            raise ControlError("the control socket of process %d (%s) belongs to %s, not to you: run leaktrace "
                               "as that user" % (pid, path, _owner(st.st_uid)))
        return path
    raise ControlError("process %d is not running leaktrace production mode (no control socket): start it with "
                       "LEAKTRACE=1 in its environment or call leaktrace.enable()" % pid)


def request(pid, line, timeout=TIMEOUT):
    """Sends one request line to process `pid` and returns its answer as
    {format: bytes} (frames "<format> <length>\\n<body>" until "end")."""
    path = find_socket(pid)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        try:
            s.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            raise ControlError("process %d is not running leaktrace production mode (its socket %s does not "
                               "answer)" % (pid, path))
        except PermissionError:
            raise ControlError("the control socket of process %d (%s) is not yours to use" % (pid, path))
        s.sendall(line.encode("ascii") + b"\n")
        chunks = []
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            chunks.append(b)
    except socket.timeout:
        raise ControlError("process %d did not answer within %g s" % (pid, timeout))
    finally:
        s.close()
    return _frames(pid, b"".join(chunks))


def _frames(pid, data):
    if data.startswith(b"error "):
        raise ControlError("process %d: %s" % (pid, data[6:].decode("utf-8", "replace").strip()))
    out = {}
    pos = 0
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            raise ControlError("process %d gave an incomplete answer" % pid)
        head = data[pos:nl].decode("ascii", "replace")
        if head == "end":
            return out
        try:
            fmt, length = head.split(" ")
            length = int(length)
        except ValueError:
            raise ControlError("process %d gave an answer that is not leaktrace's: %r" % (pid, head[:60]))
        body = data[nl + 1:nl + 1 + length]
        if len(body) != length:
            raise ControlError("process %d gave an incomplete answer" % pid)
        out[fmt] = body
        pos = nl + 1 + length


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def report(pid, json_path=None, html_path=None, text_path=None):
    """`leaktrace report PID`: the text report to stdout (or --text), JSON
    and HTML to their files."""
    formats = ["text"] + (["json"] if json_path else []) + (["html"] if html_path else [])
    parts = request(pid, "report " + " ".join(formats))
    if json_path:
        _write(json_path, parts["json"])
    if html_path:
        _write(html_path, parts["html"])
    if text_path:
        _write(text_path, parts["text"])
    else:
        sys.stdout.write(parts["text"].decode("utf-8", "replace"))
        sys.stdout.flush()
    return 0


def snapshot(pid, as_json=False, top=25):
    parts = request(pid, "snapshot %s top=%d" % ("json" if as_json else "text", top))
    sys.stdout.write(parts["json" if as_json else "text"].decode("utf-8", "replace"))
    sys.stdout.flush()
    return 0


def metrics(pid):
    parts = request(pid, "metrics")
    sys.stdout.write(parts["prometheus"].decode("utf-8", "replace"))
    sys.stdout.flush()
    return 0

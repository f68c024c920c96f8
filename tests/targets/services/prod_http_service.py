"""An HTTP service on 127.0.0.1 for the production-mode tests
(tests/python/integration/test_production.py). It prints "port N" on stdout
when it serves, then serves until killed.

  --leak     every request's UserSession is kept in the module-level dict
             SESSIONS forever (the leak); without it sessions live in an LRU
             of 64 entries (a bounded cache: no leak)
  --odd      also keeps one instance per request of a class whose name has a
             quote, a backslash and a newline (label escaping in the metrics)
  --enable   calls leaktrace.enable() itself (arguments from the environment)
             instead of relying on LEAKTRACE=1
  --fork     forks a child once serving; the child sleeps briefly and leaves
             through sys.exit (atexit runs in it); its pid is printed as
             "child N" and its exit status as "child-exit N"
"""
import argparse
import collections
import http.server
import os
import sys
import threading


class UserSession:
    def __init__(self, sid, path):
        self.sid = sid
        self.path = path
        self.history = [path] * 4


Odd = type('Odd"Name\\x\ny', (), {})

SESSIONS = {}
RECENT = collections.OrderedDict()
ODDS = []
OPTIONS = None


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        sid = "s-%d-%s" % (len(SESSIONS) + len(RECENT), self.path)
        session = UserSession(sid, self.path)
        if OPTIONS.leak:
            SESSIONS[sid] = session
        else:
            RECENT[sid] = session
            while len(RECENT) > 64:
                RECENT.popitem(last=False)
        if OPTIONS.odd:
            ODDS.append(Odd())
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def fork_child():
    pid = os.fork()
    if pid == 0:
        import time

        time.sleep(0.5)
        sys.exit(0)
    print("child %d" % pid, flush=True)

    def reap():
        _, status = os.waitpid(pid, 0)
        print("child-exit %d" % os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode")
              else "child-exit %d" % (status >> 8), flush=True)

    threading.Thread(target=reap, daemon=True).start()


def main():
    global OPTIONS
    p = argparse.ArgumentParser()
    p.add_argument("--leak", action="store_true")
    p.add_argument("--odd", action="store_true")
    p.add_argument("--enable", action="store_true")
    p.add_argument("--fork", action="store_true")
    OPTIONS = p.parse_args()
    if OPTIONS.enable:
        import leaktrace

        leaktrace.enable()
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    print("port %d" % server.server_address[1], flush=True)
    if OPTIONS.fork:
        fork_child()
    server.serve_forever()


if __name__ == "__main__":
    main()

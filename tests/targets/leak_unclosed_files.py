"""Audit logger that opens a file per request and never closes it (scenario 4).

What leaks: one open text file (``_io.TextIOWrapper`` with its buffered writer
and ``FileIO``) and one file descriptor per request.
Holder: the module global list ``OPEN_AUDIT_LOGS``, which was meant to be
flushed "at shutdown" and so keeps every ``AuditLog`` (and its ``fh``) alive.
Usual fix: ``with open(...) as fh:`` per write, or one shared handle.
"""
import os
import tempfile
import time

AUDIT_DIR = tempfile.mkdtemp(prefix="audit-")
OPEN_AUDIT_LOGS = []


class AuditLog:
    def __init__(self, request_id):
        self.request_id = request_id
        self.fh = open(os.path.join(AUDIT_DIR, "request-%d.log" % request_id), "a", encoding="utf-8")  # LEAK-SITE
        OPEN_AUDIT_LOGS.append(self)

    def write(self, line):
        self.fh.write(line + "\n")
        self.fh.flush()


def tick(i):
    """One request: write the audit trail of a payment."""
    log = AuditLog(i)
    log.write("payment %d accepted" % i)
    log.write("amount=%d.%02d EUR" % (i % 500, i % 100))


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)

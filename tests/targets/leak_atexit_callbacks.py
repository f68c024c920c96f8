"""Spool files registered for clean-up at exit, one per job (scenario 8, atexit).

What leaks: one ``SpoolFile`` per job, kept alive by the bound method
``spool.remove`` handed to ``atexit.register``; the job deletes its spool file
itself, but never calls ``atexit.unregister``, so the callbacks (and their
objects) pile up until the process exits.
Holder: the interpreter's atexit callback list (``atexit._ncallbacks()`` grows).
Usual fix: ``atexit.unregister(spool.remove)`` when the job finishes, or one
process-wide clean-up that walks a ``weakref.WeakSet``.
"""
import atexit
import time


class SpoolFile:
    def __init__(self, job_id):
        self.job_id = job_id
        self.path = "/var/spool/exports/job-%d.csv" % job_id
        self.removed = False
        self.header = ("id,amount,currency,job=%d" % job_id).encode()

    def remove(self):
        self.removed = True


def tick(i):
    """One job: spool an export, clean it up, forget the exit hook."""
    spool = SpoolFile(i)  # LEAK-SITE
    atexit.register(spool.remove)
    spool.remove()
    return spool.path


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)

"""Database sessions in a cycle with a finalizer, collector tuned down (scenario 1, __del__).

What leaks: every ``Session``/``Transaction`` pair. The session points to its
transaction and the transaction back to its session, so only the cyclic
collector can free them, and the service raised the generation-0 threshold to
200000 "for throughput": the collector almost never runs. ``Session.__del__``
returns a lease to the pool, so until it runs the pool's ``outstanding`` count
climbs as well. (Before Python 3.4 such cycles were never freed at all and
ended in ``gc.garbage``.)
Holder: nothing; the pairs are cyclic garbage (``cyclic_garbage()``), and
``gc_state()`` shows the raised threshold.
Usual fix: break the cycle on close (``self.tx = None``) or make the
back-pointer a ``weakref``; release resources explicitly, not in ``__del__``.
"""
import gc
import time

gc.set_threshold(200000, 50, 50)


class LeasePool:
    def __init__(self):
        self.outstanding = 0

    def acquire(self):
        self.outstanding += 1

    def release(self):
        self.outstanding -= 1


POOL = LeasePool()


class Transaction:
    def __init__(self, session):
        self.session = session
        self.statements = []


class Session:
    def __init__(self, user):
        self.user = user
        POOL.acquire()
        self.tx = Transaction(self)  # LEAK-SITE(Transaction)

    def execute(self, sql):
        self.tx.statements.append(sql)
        return len(self.tx.statements)

    def __del__(self):
        POOL.release()


def tick(i):
    """One request: open a session, run two statements, forget to close it."""
    session = Session("user-%d" % (i % 100))  # LEAK-SITE(Session)
    session.execute("SELECT * FROM orders WHERE id = %d" % i)
    return session.execute("UPDATE orders SET seen = 1 WHERE id = %d" % i)


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)

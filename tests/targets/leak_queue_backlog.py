"""Click-stream ingestion whose producer outruns its consumer (scenario 12, seed 004).

What leaks: ``ClickEvent`` objects waiting in an unbounded ``queue.Queue``:
each request enqueues 8 events, the single consumer thread writes one event
every 20 ms, so the backlog grows without end.
Holder: the module global ``EVENTS`` (a ``queue.Queue``), through its ``queue``
deque.
Usual fix: bound the queue (``queue.Queue(maxsize=...)``) so producers block or
drop, batch the writes, or add consumers.
"""
import queue
import threading
import time

EVENTS = queue.Queue()
WRITTEN = [0]


class ClickEvent:
    __slots__ = ("session", "url", "ts", "referrer")

    def __init__(self, session, url, ts, referrer):
        self.session = session
        self.url = url
        self.ts = ts
        self.referrer = referrer


def _consume():
    while True:
        event = EVENTS.get()
        time.sleep(0.02)        # a slow analytics write
        WRITTEN[0] += 1
        del event


threading.Thread(target=_consume, name="click-writer", daemon=True).start()


def tick(i):
    """One page view: record the clicks of its widgets."""
    for k in range(8):
        EVENTS.put(ClickEvent("s-%d" % (i % 300), "/product/%d#w%d" % (i, k), 1700000000.0 + i, "/home"))  # LEAK-SITE


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)

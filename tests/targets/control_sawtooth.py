"""Control (must NOT be flagged): big temporaries and a buffer flushed in batches.

Each request builds a 20 000-element temporary list of floats and drops it,
and appends one ``Metric`` to a buffer that is flushed every 25 requests:
memory goes up and down in a sawtooth, it does not trend upward.
"""
import time

BUFFER = []
FLUSHED = [0]


class Metric:
    __slots__ = ("name", "value", "ts")

    def __init__(self, name, value, ts):
        self.name = name
        self.value = value
        self.ts = ts


def _flush():
    FLUSHED[0] += len(BUFFER)
    BUFFER.clear()


def tick(i):
    """One request: compute a statistic over a big temporary, buffer the metric."""
    samples = [((i * 31 + k) % 1000) / 7.0 for k in range(20000)]
    mean = sum(samples) / len(samples)
    BUFFER.append(Metric("latency.mean", mean, 1700000000.0 + i))
    if len(BUFFER) >= 25:
        _flush()
    return mean


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
